"""The adversarial objective's parts against independent references, and its runs through the trainer:
reward and weight arithmetic vs loops, each discriminator loss's optimum vs its closed form, gradient
penalties vs a discriminator whose gradient is known, the oracle policy vs exact Q, config errors,
checkpoints, resume."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from seqgen.data.oracles.enumerable import EnumerableOracle
from seqgen.data.oracles.symbols import FIRST_SYMBOL_ID
from seqgen.errors import SeqgenError
from seqgen.metrics.exact_distribution import model_distribution
from seqgen.models import build_generator, load_generator
from seqgen.models.discriminator import load_discriminator
from seqgen.objectives.adversarial.discriminator_loss import discriminator_loss, gradient_penalty
from seqgen.objectives.adversarial.policy import SymbolConstraint, sample_policy, token_log_probs
from seqgen.objectives.adversarial.rewards import (
    discounted_returns,
    effective_sample_size,
    group_weights,
    log_weights,
    loo_baseline,
    rewards,
)
from seqgen.run_folder import load_config
from seqgen.training.trainer import Trainer, train

PAD, BOS, EOS = 0, 1, 2


# ---------------------------------------------------------------------------------------- arithmetic
def test_group_weights_and_ess_match_a_loop():
    g = torch.Generator().manual_seed(0)
    log_w = torch.randn(12, generator=g) * 2
    w = group_weights(log_w, 4)
    for k in range(3):
        chunk = log_w[4 * k : 4 * k + 4].double()
        ref = [math.exp(x) / sum(math.exp(y) for y in chunk) for x in chunk]
        assert w[4 * k : 4 * k + 4].tolist() == pytest.approx(ref, rel=1e-5)
    ess_ref = sum(1 / sum(x * x for x in w[4 * k : 4 * k + 4].tolist()) for k in range(3)) / 3
    assert float(effective_sample_size(w, 4)) == pytest.approx(ess_ref, rel=1e-5)
    assert float(effective_sample_size(group_weights(torch.zeros(8), 4), 4)) == pytest.approx(4.0)
    assert float(effective_sample_size(group_weights(torch.tensor([0.0, -1e4] * 2), 2), 2)) == pytest.approx(
        1.0
    )


def test_loo_baseline_and_discounted_returns_match_loops():
    r = torch.arange(12, dtype=torch.float32).reshape(6, 2) ** 1.5
    b = loo_baseline(r, 3)
    for i in range(6):
        group = range(3 * (i // 3), 3 * (i // 3) + 3)
        for t in range(2):
            assert float(b[i, t]) == pytest.approx(sum(float(r[j, t]) for j in group if j != i) / 2)
    rew = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    ret = discounted_returns(rew, mask, 0.5)
    assert ret[0].tolist() == pytest.approx(
        [1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4, 2 + 0.5 * 3 + 0.25 * 4, 3 + 0.5 * 4, 4]
    )
    assert ret[1].tolist() == pytest.approx([5 + 0.5 * 6, 6, 0, 0])


def test_rewards_are_the_named_functions_of_d():
    v = torch.tensor([-30.0, -2.0, 0.0, 3.0])
    d = torch.sigmoid(v.double())
    assert rewards(v, "non_saturating").double().tolist() == pytest.approx(torch.log(d).tolist(), rel=1e-5)
    assert rewards(v, "minimax").double().tolist() == pytest.approx((-torch.log1p(-d)).tolist(), rel=1e-5)
    # minimax saturates where D rejects: no reward difference between bad and very bad samples
    assert float(rewards(v, "minimax")[0]) < 1e-12
    assert rewards(v, "logit", "gan", 0.75).tolist() == pytest.approx((v - math.log(3)).tolist())
    assert log_weights(torch.tensor([2.0, -4.0]), "chi2").exp().tolist() == pytest.approx([2.0, 1e-6])


@pytest.mark.parametrize("divergence", ["gan", "kl", "reverse_kl", "hellinger", "chi2"])
@pytest.mark.parametrize("pi", [0.25, 0.5])
def test_each_discriminator_loss_is_minimised_at_its_closed_form(divergence, pi):
    if divergence != "gan" and pi != 0.5:
        pytest.skip("class balance applies to the gan loss only")
    # P and Q on three points, as equally weighted samples (copies in proportion to the probabilities).
    p, q = [0.2, 0.5, 0.3], [0.5, 0.4, 0.1]
    xr = torch.tensor([0] * 2 + [1] * 5 + [2] * 3)
    xf = torch.tensor([0] * 5 + [1] * 4 + [2] * 1)
    v = torch.zeros(3, requires_grad=True)
    opt = torch.optim.LBFGS([v], lr=0.5, max_iter=500, tolerance_grad=1e-10, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = discriminator_loss(v[xr], v[xf], divergence, pi)
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    ratio = [a / b for a, b in zip(p, q, strict=True)]
    expected = {
        "gan": [math.log(pi * r / (1 - pi)) for r in ratio],
        "chi2": [2 * (r - 1) for r in ratio],
    }.get(divergence, [math.log(r) for r in ratio])
    assert v.detach().tolist() == pytest.approx(expected, abs=1e-3)
    # and log w recovers log p/q for every loss
    assert log_weights(v.detach(), divergence, pi).tolist() == pytest.approx(
        [math.log(r) for r in ratio], abs=1e-3
    )


class LinearCritic(torch.nn.Module):
    """V(x) = sum(x * W) over soft one-hot rows: its gradient is W everywhere, so ||grad|| = ||W||."""

    def __init__(self, length: int, vocab: int, scale: float) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.full((length, vocab), scale))

    def forward(self, input_ids=None, *, one_hot=None):
        x = one_hot[:, : self.w.size(0)]
        return type("Out", (), {"logits": (x * self.w[: x.size(1)]).flatten(1).sum(1)})()


@pytest.mark.parametrize("kind", ["gp", "dragan"])
def test_gradient_penalty_is_the_squared_distance_of_the_gradient_norm_from_one(kind):
    critic = LinearCritic(6, 5, 0.3)
    real = torch.tensor([[1, 3, 4, 2, 0, 0], [1, 4, 2, 0, 0, 0]])
    fake = torch.tensor([[1, 4, 4, 4, 3, 2], [1, 2, 0, 0, 0, 0]])
    g = torch.Generator().manual_seed(0)
    penalty = gradient_penalty(critic, real, fake, kind=kind, pad_id=PAD, vocab_size=5, generator=g)
    norm = 0.3 * math.sqrt(6 * 5)
    assert float(penalty.detach()) == pytest.approx((norm - 1) ** 2, rel=1e-5)
    penalty.backward()  # double backward: the penalty trains the critic
    assert critic.w.grad is not None and float(critic.w.grad.abs().sum()) > 0


# ---------------------------------------------------------------------------------------- oracle policy
def test_oracle_policy_samples_symbols_then_eos_and_scores_them_with_the_exact_q():
    torch.manual_seed(0)
    oracle = EnumerableOracle()
    cfg = load_config(None, ["model.emb_dim=16", "model.hidden_dim=16"])
    gen = build_generator(cfg.model, 8, pad_id=PAD, bos_id=BOS, eos_id=EOS)
    constraint = SymbolConstraint(FIRST_SYMBOL_ID, oracle.vocab, oracle.length, EOS)
    ids = sample_policy(gen, 64, 10, prefix=None, rng=torch.Generator().manual_seed(1), constraint=constraint)
    assert ids.shape == (64, oracle.length + 2)
    body = ids[:, 1:-1]
    assert bool(((body >= FIRST_SYMBOL_ID) & (body < FIRST_SYMBOL_ID + oracle.vocab)).all())
    assert bool((ids[:, -1] == EOS).all())
    logp, mask, _ = token_log_probs(gen, ids, start=1, pad_id=PAD, constraint=constraint)
    q = model_distribution(gen, oracle)
    exact = q.log()[oracle.index_of(body - FIRST_SYMBOL_ID)]
    assert (logp * mask).sum(1).double().tolist() == pytest.approx(exact.tolist(), abs=1e-5)


# ---------------------------------------------------------------------------------------- config errors
CAPTION = [
    "data.caption_sentences=300",
    "data.holdout=30",
    "data.max_len=16",
    "model.emb_dim=16",
    "model.hidden_dim=16",
    "train.batch_size=16",
    "train.warmup_steps=1",
    "train.progress=false",
    "train.tensorboard=false",
    "train.num_samples=2",
    "train.log_every=1",
    "adv.d_emb_dim=16",
    "adv.d_hidden_dim=16",
    "adv.d_num_filters=8",
]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["adv.group_size=5"], "adv.group_size=5 does not divide the micro-batch of 16"),
        (["train.grad_accum=4", "adv.group_size=8"], "does not divide the micro-batch of 4"),
        (["adv.discriminator=oracle"], "adv.discriminator=oracle needs data.train=oracle"),
        (["adv.reward=minimax"], "adv.reward=minimax applies to reinforce and seqgan_rollout"),
        (["adv.divergence=kl", "adv.pi=0.3"], "adv.pi=0.3 applies to adv.divergence=gan only"),
        (["adv.dense=true"], "adv.dense=true needs adv.estimator=reinforce"),
        (["adv.pi=1.0"], "'adv.pi' must be in (0, 1)"),
        (["adv.d_filter_widths=2,x"], "adv.d_filter_widths must be comma-separated positive integers"),
        (["adv.prefix_len=15"], "adv.prefix_len=15 leaves nothing to generate"),
    ],
)
def test_impossible_settings_are_refused_at_config_time(overrides, message):
    with pytest.raises(SeqgenError, match=None) as e:
        load_config(None, [*CAPTION, "objective=adversarial", *overrides])
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_cli_refuses_a_group_size_that_does_not_divide_the_batch(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqgen",
            "train",
            *CAPTION,
            "objective=adversarial",
            "adv.group_size=3",
            f"out={tmp_path / 'r'}",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "adv.group_size=3 does not divide the micro-batch of 16" in proc.stderr
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def mle_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mle") / "run"
    train(load_config(None, [*CAPTION, "train.max_steps=10", "train.num_samples=0", f"out={out}"]))
    return out


def params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_adversarial_run_updates_both_models_logs_diagnostics_and_saves_the_discriminator(tmp_path, mle_run):
    cfg = load_config(
        None,
        [
            *CAPTION,
            "objective=adversarial",
            f"init_from={mle_run}",
            "train.max_steps=3",
            "adv.d_pretrain_steps=2",
            "adv.penalty=gp",
            f"out={tmp_path / 'adv'}",
        ],
    )
    trainer = Trainer(cfg)
    g0, d0 = params(trainer.unwrapped), params(trainer.unwrapped_discriminator)
    trainer.fit()
    g1, d1 = params(trainer.unwrapped), params(trainer.unwrapped_discriminator)
    assert any(not torch.equal(g0[k], g1[k]) for k in g0)
    assert any(not torch.equal(d0[k], d1[k]) for k in d0)
    records = [json.loads(x) for x in (tmp_path / "adv" / "metrics.jsonl").read_text().splitlines()]
    pre = [r for r in records if r["split"] == "d_pretrain"]
    assert pre and pre[-1]["d_step"] == 2
    last = [r for r in records if r["split"] == "train"][-1]
    for key in ("d_real", "d_fake", "ess", "reward_mean", "reward_std", "entropy", "penalty", "d_loss"):
        assert math.isfinite(last[key]), key
    assert 1.0 <= last["ess"] <= 8.0
    texts = [r for r in records if r["split"] == "samples"][-1]["texts"]
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    disc = load_discriminator(tmp_path / "adv" / "discriminator", vocab_size=trainer.tokenizer.vocab_size)
    for k, v in disc.state_dict().items():
        assert torch.equal(v, d1[k]), k
    # RUN/generator is the last generator (train.keep=auto for adversarial runs)
    saved = load_generator(tmp_path / "adv" / "generator")
    for k, v in saved.state_dict().items():
        assert torch.equal(v, g1[k]), k


@pytest.mark.parametrize(
    "estimator",
    [
        ["adv.estimator=bgan_is", "adv.penalty=gp", "adv.d_steps=2"],
        ["adv.estimator=reinforce", "adv.baseline=ema", "adv.dense=true", "adv.discriminator=rnn"],
        ["adv.estimator=seqgan_rollout", "adv.rollouts=2", "adv.prefix_len=2", "adv.penalty=dragan"],
    ],
    ids=["bgan_is", "reinforce-dense-ema", "rollout"],
)
def test_resumed_adversarial_run_equals_uninterrupted(tmp_path, mle_run, estimator):
    extra = [
        *CAPTION,
        "objective=adversarial",
        f"init_from={mle_run}",
        "train.max_steps=6",
        "train.save_every=2",
        "train.eval_every=3",
        "adv.d_pretrain_steps=2",
        *estimator,
    ]
    full = train(load_config(None, [*extra, f"out={tmp_path / 'full'}"]))
    train(load_config(None, [*extra, f"out={tmp_path / 'cut'}"]), stop_after=3)
    resumed = train(load_config(None, [*extra, f"out={tmp_path / 'cut'}", "resume=true"]))
    assert resumed.step == full.step == 6
    for sub in ("generator", "discriminator"):
        a = load_generator if sub == "generator" else load_discriminator
        pf = a(tmp_path / "full" / "checkpoint" / sub).state_dict()
        pr = a(tmp_path / "cut" / "checkpoint" / sub).state_dict()
        for k in pf:
            assert torch.equal(pf[k], pr[k]), (sub, k)
    strip = [lambda r: {k: v for k, v in json.loads(r).items() if k != "tokens_per_s"}][0]
    log_f = (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
    log_r = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert [strip(r) for r in log_f] == [strip(r) for r in log_r]


def test_non_finite_discriminator_loss_stops_with_the_step_named(tmp_path, mle_run, monkeypatch):
    import seqgen.objectives.adversarial.critic as adv

    real_loss = adv.discriminator_loss
    monkeypatch.setattr(adv, "discriminator_loss", lambda *a, **k: real_loss(*a, **k) * float("nan"))
    cfg = load_config(
        None,
        [
            *CAPTION,
            "objective=adversarial",
            f"init_from={mle_run}",
            "train.max_steps=3",
            f"out={tmp_path / 'nan'}",
        ],
    )
    with pytest.raises(SeqgenError, match="non-finite discriminator loss=nan at step 1"):
        train(cfg)


# ------------------------------------------------------------------- correctness against the papers
def _adversarial_trainer(tmp_path, mle_run, name, *extra):
    cfg = load_config(
        None,
        [
            *CAPTION,
            "objective=adversarial",
            f"init_from={mle_run}",
            "train.max_steps=2",
            f"out={tmp_path / name}",
            *extra,
        ],
    )
    return Trainer(cfg)


def test_a_gold_prefix_comes_only_from_sentences_longer_than_it(tmp_path, mle_run):
    trainer = _adversarial_trainer(tmp_path, mle_run, "prefix", "adv.prefix_len=3", "adv.group_size=4")
    obj, tok = trainer.objective, trainer.tokenizer
    # Rows 0-7 are too short for a 3-token prefix (BOS w EOS, BOS w w EOS, BOS w w w EOS): only rows 8-15 are
    # longer. Before the fix group 0 copied row 0's EOS and padding into its "prefix".
    w = 10
    rows = [[tok.bos_id, *[w] * (1 + i % 3), tok.eos_id] for i in range(8)]
    rows += [[tok.bos_id, *[w + 1 + i] * 6, tok.eos_id] for i in range(8)]
    batch = torch.full((16, 8), tok.pad_id)
    for i, r in enumerate(rows):
        batch[i, : len(r)] = torch.tensor(r)
    rng = torch.Generator().manual_seed(0)
    obj.begin_step(trainer.unwrapped, [batch], [rng], step=0)
    fakes = obj._drawn[0]
    prefixes = fakes[:, 1:4]
    assert not ((prefixes == tok.pad_id) | (prefixes == tok.eos_id) | (prefixes == tok.bos_id)).any()
    assert set(prefixes[:, 0].tolist()) <= {w + 1 + i for i in range(8)}  # taken from the long rows
    for g in range(4):  # each group shares one prefix
        assert (prefixes[4 * g : 4 * g + 4] == prefixes[4 * g]).all()
    # no "sample" is a real sentence copied whole: each generates at least one token after its prefix
    assert ((fakes[:, 4:] != tok.pad_id).sum(1) >= 1).all()
    trainer.close()


def test_policy_gradient_with_dropout_scores_the_distribution_that_was_sampled(tmp_path, mle_run):
    """Samples are drawn with dropout off, so log Q must be too: the gradient of a dropout model equals that
    of the same weights without dropout."""
    from seqgen.models import Generator
    from seqgen.models.rnn import RNNForCausalLM

    trainer = _adversarial_trainer(tmp_path, mle_run, "dropout", "adv.estimator=reinforce")
    obj, gen = trainer.objective, trainer.unwrapped
    grads = []
    for dropout in (0.5, 0.0):
        config = type(gen.lm.config).from_dict({**gen.lm.config.to_dict(), "dropout": dropout})
        model = Generator(RNNForCausalLM(config))
        model.load_state_dict(gen.state_dict())
        model.train()  # as in training: dropout active everywhere but where the policy is scored
        batch = torch.full((16, 4), trainer.pad_id)
        loss, _ = obj.loss(
            model, batch, step=0, rng=torch.Generator().manual_seed(3), totals={"rows": 16.0, "tokens": 1.0}
        )
        grads.append(torch.autograd.grad(loss, list(model.parameters())))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    trainer.close()


def test_maligan_normalises_over_the_whole_step_so_grad_accum_does_not_matter(tmp_path, mle_run):
    # The same rows and the same samples in one micro-batch of 16 or two of 8: MaliGAN's weights are
    # normalised over the whole optimiser step, so the gradients are equal.
    grads = []
    for accum in (1, 2):
        trainer = _adversarial_trainer(
            tmp_path,
            mle_run,
            f"mali{accum}",
            "adv.normalize=batch",
            f"train.grad_accum={accum}",
            "adv.group_size=4",
        )
        fixed = torch.Generator().manual_seed(11)
        fakes = trainer.unwrapped.sample(16, 16, generator=fixed)
        handed = iter([fakes[:8], fakes[8:]] if accum == 2 else [fakes])
        trainer.objective.sample = lambda *a, _it=handed, **k: next(_it)
        trainer.accumulate_gradients()
        grads.append([p.grad.clone() for p in trainer.unwrapped.parameters()])
        trainer.close()
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
