"""Adversarial training checked exactly on the enumerable oracle (DESIGN §5, §7):

- a discriminator trained with class balance pi approaches V* = log(pi p / ((1-pi) q));
- with the exact discriminator, the BGAN importance-weight gradient approaches the gradient of KL(P||Q) as the
  group grows (self-normalised weights are biased for small M), and REINFORCE with a leave-one-out baseline
  and reward log p/q gives the gradient of KL(Q||P) at every M;
- adversarial fine-tuning with the exact discriminator reduces KL(Q||P) from an over-dispersed MLE start.
References are computed here, independently of the objective's code: exact log Q of every sequence from the
generator's teacher-forced logits, and exact divergences over all V^L sequences.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from seqgen.data.oracles.corpus import build_oracle
from seqgen.data.oracles.enumerable import EnumerableOracle
from seqgen.data.oracles.symbols import FIRST_SYMBOL_ID
from seqgen.metrics.divergences import kl
from seqgen.metrics.exact_distribution import model_distribution
from seqgen.models import build_generator
from seqgen.models.discriminator import build_discriminator
from seqgen.objectives.adversarial.discriminator_loss import discriminator_loss
from seqgen.objectives.adversarial.objective import Adversarial
from seqgen.run_folder import load_config
from seqgen.training.trainer import Trainer, train

PAD, BOS, EOS = 0, 1, 2
ORACLE = [
    "data.train=oracle",
    "data.oracle.sentences=100000",
    "data.holdout=500",
    "data.max_len=8",
    "model.kind=lstm",
    "model.emb_dim=32",
    "model.hidden_dim=64",
    "train.weight_decay=0",
    "train.num_samples=0",
    "train.progress=false",
    "train.tensorboard=false",
]


def rows(symbols: torch.Tensor) -> torch.Tensor:
    """Symbol sequences (n, L) as the id rows a run feeds its models: BOS, 4 + x_1 .. 4 + x_L, EOS."""
    out = torch.empty(symbols.size(0), symbols.size(1) + 2, dtype=torch.long)
    out[:, 0], out[:, -1] = BOS, EOS
    out[:, 1:-1] = symbols + FIRST_SYMBOL_ID
    return out


def sample_product(oracle: EnumerableOracle, n: int, g: torch.Generator) -> torch.Tensor:
    """n draws from the product of P's marginals (each position independent)."""
    m = oracle.marginals
    return torch.stack([torch.multinomial(m[t], n, replacement=True, generator=g) for t in range(len(m))], 1)


def exact_log_q(generator, oracle: EnumerableOracle) -> torch.Tensor:
    """log Q(x) of every sequence with gradient: symbol-restricted teacher-forced log-probs, summed."""
    ids = rows(oracle.sequences)[:, :-1]  # BOS + L symbols (EOS is forced, log-prob 0)
    logits, _ = generator(ids[:, :-1])
    logp = logits[..., FIRST_SYMBOL_ID : FIRST_SYMBOL_ID + oracle.vocab].float().log_softmax(-1)
    return logp.gather(-1, (ids[:, 1:] - FIRST_SYMBOL_ID).unsqueeze(-1)).squeeze(-1).sum(1)


def test_discriminator_approaches_the_pi_weighted_log_ratio():
    torch.set_num_threads(1)
    oracle = EnumerableOracle()
    p, q = oracle.probs, oracle.product_of_marginals()
    every = rows(oracle.sequences)
    half = 0.5 * (p + q)
    mean_logit = {}
    for pi in (0.25, 0.5, 0.75):
        d = build_discriminator("cnn", 8, PAD, emb_dim=32, num_filters=32, max_len=8, seed=0)
        opt = torch.optim.Adam(d.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(1)  # the same stream of P and Q samples for every pi
        steps = 1000
        for s in range(steps):
            for group in opt.param_groups:
                group["lr"] = 3e-3 * (1 - s / steps) + 1e-5
            real, fake = rows(oracle.sample(256, g)), rows(sample_product(oracle, 256, g))
            loss = discriminator_loss(d(real).logits, d(fake).logits, "gan", pi)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            v = d(every).logits.double()
        target = math.log(pi / (1 - pi)) + p.log() - q.log()
        mass = pi * p + (1 - pi) * q
        mae = float((mass * (v - target).abs()).sum())
        assert mae < 0.25, (pi, mae)
        mean_logit[pi] = float((half * v).sum())
    # Only the class balance differs, so the optimal logits differ by log(0.75/0.25) - log(0.25/0.75) = log 9.
    assert abs(mean_logit[0.75] - mean_logit[0.25] - math.log(9)) < 0.1


def _objective(estimator: str, group_size: int, batch: int) -> Adversarial:
    cfg = load_config(
        None,
        [
            *ORACLE,
            "objective=adversarial",
            "adv.discriminator=oracle",
            f"adv.estimator={estimator}",
            f"adv.group_size={group_size}",
            "adv.baseline=loo",
            f"train.batch_size={batch}",
        ],
    )
    obj = Adversarial(cfg.adv, pad_id=PAD, max_len=cfg.data.max_len, oracle=build_oracle(cfg.data))
    return obj


def _estimated_gradient(generator, obj: Adversarial, n_total: int, batch: int, seed: int) -> torch.Tensor:
    params = list(generator.parameters())
    total = [torch.zeros_like(p) for p in params]
    real = torch.full((batch, 7), PAD)  # only its size matters without a gold prefix
    for i in range(n_total // batch):
        rng = torch.Generator().manual_seed(seed * 1000 + i)
        loss, _ = obj.loss(generator, real, step=0, rng=rng, totals={"rows": batch, "tokens": 1.0})
        grads = torch.autograd.grad(loss, params)
        total = [t + g for t, g in zip(total, grads, strict=True)]
    return torch.cat([t.reshape(-1) for t in total]) / (n_total // batch)


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(F.cosine_similarity(a.double(), b.double(), dim=0))


def test_bgan_and_reinforce_gradients_match_the_exact_divergence_gradients():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    oracle = EnumerableOracle()
    cfg = load_config(None, ORACLE)
    generator = build_generator(cfg.model, 8, pad_id=PAD, bos_id=BOS, eos_id=EOS)
    p = oracle.probs
    params = list(generator.parameters())

    def flat_grad(value):
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(value, params)])

    log_q = exact_log_q(generator, oracle).double()
    grad_kl_pq = flat_grad(-(p * log_q).sum())  # d/dtheta KL(P||Q) = -sum_x P(x) d log Q(x)
    log_q = exact_log_q(generator, oracle).double()
    q = log_q.detach().exp()
    grad_kl_qp = flat_grad((q * log_q * (log_q.detach() - p.log() + 1)).sum())  # sum_x q (log q - log p)
    n = 12800
    report = {}
    for m in (8, 32, 128):
        bgan = _estimated_gradient(generator, _objective("bgan_is", m, 1280), n, 1280, seed=m)
        reinforce = _estimated_gradient(generator, _objective("reinforce", m, 1280), n, 1280, seed=m)
        report[m] = (_cos(bgan, grad_kl_pq), _cos(reinforce, grad_kl_qp))
    print(
        "\ncosine with the exact gradient (12,800 samples): M, bgan_is vs KL(P||Q), reinforce-LOO vs KL(Q||P)"
    )
    for m, (b, r) in report.items():
        print(f"  M={m:4d}  bgan_is {b:.4f}  reinforce {r:.4f}")
    assert report[128][0] >= 0.99
    assert report[8][0] < report[128][0]  # self-normalised weights: biased at small M
    assert all(r >= 0.99 for _, r in report.values())


@pytest.mark.parametrize("estimator", ["bgan_is", "reinforce"])
def test_fine_tuning_with_the_exact_discriminator_reduces_kl_q_p(tmp_path, estimator):
    torch.set_num_threads(1)
    start = train(
        load_config(
            None,
            [
                *ORACLE,
                "train.max_steps=40",
                "train.batch_size=64",
                "train.lr=3e-3",
                f"out={tmp_path / 'mle'}",
            ],
        )
    )
    cfg = load_config(
        None,
        [
            *ORACLE,
            "objective=adversarial",
            "adv.discriminator=oracle",
            f"adv.estimator={estimator}",
            "adv.group_size=16",
            "train.batch_size=256",
            "train.max_steps=150",
            "train.lr=3e-3",
            "train.warmup_steps=10",
            f"init_from={start.run}",
            f"out={tmp_path / estimator}",
        ],
    )
    oracle = build_oracle(cfg.data)
    trainer = Trainer(cfg)
    before = model_distribution(trainer.unwrapped, oracle)
    trainer.fit()
    after = model_distribution(trainer.unwrapped, oracle)
    kl_before, kl_after = kl(before, oracle.probs), kl(after, oracle.probs)
    print(f"\n{estimator}: KL(Q||P) {kl_before:.4f} -> {kl_after:.4f}")
    assert kl_before > 0.1  # the short MLE run is over-dispersed
    assert kl_after < 0.5 * kl_before
