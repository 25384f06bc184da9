"""Scheduled sampling: schedules, and the two-pass / exact losses against independent references.

References: hand-computed schedule values; teacher-forced `token_nll_sum` (p_gold = 1 is MLE); full forward
passes of the model on the inputs the loss says it used (the incremental exact mode must agree with them);
a hand-built soft-embedding forward through the model's own layers; the same uniforms re-drawn from a cloned
torch.Generator; exact enumeration of inverse-CDF sampling on a fine grid of uniforms.
"""

from __future__ import annotations

import json
import math
import time
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from seqgen.errors import SeqgenError
from seqgen.models import build_generator
from seqgen.models.config import ModelConfig
from seqgen.objectives.mle import token_nll_sum
from seqgen.objectives.scheduled_sampling import (
    sample_with_uniforms,
    scheduled_sampling_forward,
    scheduled_sampling_loss_sum,
)
from seqgen.objectives.schedules import SCHEDULES, p_gold

KINDS = ["lstm", "gru", "transformer"]
SETTINGS = [("exact", "sample"), ("exact", "argmax"), ("two_pass", "sample"), ("two_pass", "argmax")]
ALL_SETTINGS = [*SETTINGS, ("two_pass", "soft")]
PAD, BOS, EOS, V = 0, 1, 2, 11
ALMOST_ONE = 1.0 - 1e-9  # every float32 uniform is below it: all gold, but through the mixing code path


def make(kind: str, seed: int = 0, vocab: int = V):
    torch.manual_seed(seed)
    cfg = ModelConfig(kind=kind, emb_dim=16, hidden_dim=16, d_model=16, num_heads=2, num_layers=1, context=32)
    return build_generator(cfg, vocab, pad_id=PAD, bos_id=BOS, eos_id=EOS)


def make_batch(lengths: list[int], width: int, seed: int = 0, vocab: int = V) -> torch.Tensor:
    """Rows of BOS, `n` random tokens, EOS, right-padded to `width`."""
    g = torch.Generator().manual_seed(seed)
    batch = torch.full((len(lengths), width), PAD, dtype=torch.long)
    for r, n in enumerate(lengths):
        batch[r, 0] = BOS
        batch[r, 1 : 1 + n] = torch.randint(3, vocab, (n,), generator=g)
        batch[r, 1 + n] = EOS
    return batch


def rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def mixable(batch: torch.Tensor) -> torch.Tensor:
    """Input positions that may be replaced: not BOS, and with a non-pad target."""
    m = batch[:, 1:] != PAD
    m[:, 0] = False
    return m


def grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def row_nll(logits: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """Per-row summed NLL of the gold targets (pad excluded)."""
    nll = F.cross_entropy(logits.float().transpose(1, 2), batch[:, 1:], ignore_index=PAD, reduction="none")
    return nll.sum(dim=1)


# ================================================================================================== schedules
def test_schedules_match_hand_computed_values():
    assert SCHEDULES == ("constant", "linear", "exponential", "inverse_sigmoid")
    assert p_gold("constant", 123, k=0.0, value=0.25) == 0.25
    assert p_gold("linear", 0, k=1.0, c=0.1) == 1.0
    assert p_gold("linear", 3, k=1.0, c=0.1) == pytest.approx(0.7)
    assert p_gold("linear", 10, k=1.0, c=0.1, p_min=0.2) == 0.2  # 1 - 1.0 = 0, clamped
    assert p_gold("linear", 7, k=0.9, c=0.1, p_min=0.05) == pytest.approx(0.2)
    assert p_gold("exponential", 0, k=0.9) == 1.0
    assert p_gold("exponential", 2, k=0.9) == pytest.approx(0.81)
    assert p_gold("exponential", 50, k=0.5, p_min=0.1) == 0.1
    assert p_gold("inverse_sigmoid", 0, k=10.0) == pytest.approx(0.9090909090909091)  # 10 / 11
    assert p_gold("inverse_sigmoid", 10, k=10.0) == pytest.approx(0.7862697284804238)  # 10 / (10 + e)
    assert p_gold("inverse_sigmoid", 50, k=10.0) == pytest.approx(0.06312606892413997)  # 10 / (10 + e^5)
    assert p_gold("inverse_sigmoid", 3, k=1.0) == pytest.approx(0.04742587317756678)  # 1 / (1 + e^3)
    assert p_gold("exponential", np.int64(2), k=0.9) == pytest.approx(0.81)  # numpy step counters work


@pytest.mark.parametrize(
    "schedule, params",
    [
        ("constant", {"k": 0.0, "value": 0.6}),
        ("linear", {"k": 1.0, "c": 1e-3, "p_min": 0.1}),
        ("linear", {"k": 0.8, "c": 0.0}),
        ("exponential", {"k": 0.999}),
        ("exponential", {"k": 0.5, "p_min": 0.3}),
        ("inverse_sigmoid", {"k": 1.0}),
        ("inverse_sigmoid", {"k": 500.0, "p_min": 0.05}),
    ],
)
def test_schedules_are_non_increasing_probabilities_and_never_overflow(schedule, params):
    steps = [*range(0, 5000, 7), 10**5, 10**6, 10**9, 10**18, 10**30, 10**400]
    values = [p_gold(schedule, s, **params) for s in steps]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    floor = params.get("p_min", 0.0)
    if schedule != "constant" and params.get("c", 1.0) > 0:
        assert values[-1] == pytest.approx(floor, abs=1e-12)  # decays to the floor, no OverflowError


@pytest.mark.parametrize(
    "schedule, step, params, match",
    [
        ("cosine", 0, {"k": 1.0}, "unknown scheduled-sampling schedule"),
        ("linear", -1, {"k": 1.0}, "step must be an integer"),
        ("linear", 1.5, {"k": 1.0}, "step must be an integer"),
        ("linear", 0, {"k": 1.5}, "k .* in \\[0, 1\\]"),
        ("linear", 0, {"k": 1.0, "c": -0.1}, "decay c >= 0"),
        ("linear", 0, {"k": 0.5, "p_min": 0.8}, "above its starting value"),
        ("linear", 0, {"k": 1.0, "p_min": -0.1}, "p_min must be a probability"),
        ("exponential", 0, {"k": 1.0}, "0 < k < 1"),
        ("exponential", 0, {"k": 0.0}, "0 < k < 1"),
        ("inverse_sigmoid", 0, {"k": 0.5}, "k >= 1"),
        ("inverse_sigmoid", 0, {"k": math.inf}, "k must be finite"),
        ("constant", 0, {"k": 0.0, "value": 1.2}, "value must be a probability"),
        ("constant", 0, {"k": 0.0, "value": math.nan}, "value must be a probability"),
    ],
)
def test_bad_schedule_settings_are_one_line_errors(schedule, step, params, match):
    with pytest.raises(SeqgenError, match=match) as e:
        p_gold(schedule, step, **params)
    assert "\n" not in str(e.value)


# =================================================================================================== sampling
@pytest.mark.parametrize("vocab, block", [(5, 64), (37, 8), (64, 8), (64, 1)])
def test_inverse_cdf_sampling_matches_softmax_exactly_on_a_uniform_grid(vocab, block):
    """Uniforms on a fine grid hit each token a share of times equal to its probability (to 1/n); tokens of
    probability 0 (here at block edges, and a whole zero block) are never drawn."""
    logits = torch.randn(2, vocab, generator=rng(vocab)) * 2
    zero = [i for i in (0, 7, 8, 9, 10, 11, 12, 13, 14, 15, vocab - 1) if i < vocab]
    logits[0, zero] = float("-inf")
    n = 100_000
    u = ((torch.arange(n, dtype=torch.float64) + 0.5) / n).float()
    ids = sample_with_uniforms(logits.unsqueeze(1).expand(-1, n, -1), u.expand(2, -1), block=block)
    for row in range(2):
        freq = torch.bincount(ids[row], minlength=vocab).double() / n
        probs = torch.softmax(logits[row].double(), dim=-1)
        assert torch.allclose(freq, probs, atol=3.0 / n), (freq, probs)
    assert not torch.isin(ids[0], torch.tensor(zero)).any()
    ends = sample_with_uniforms(logits[:1].expand(3, -1), torch.tensor([0.0, 1.0 - 2**-24, 1.0]), block=block)
    positive = [i for i in range(vocab) if i not in zero]
    assert ends.tolist() == [positive[0], positive[-1], positive[-1]]  # first and last with probability > 0


@pytest.mark.parametrize("vocab, block", [(37, 8), (300, 64)])
def test_uniforms_at_the_top_never_pick_a_zero_probability_or_missing_token(vocab, block):
    """u near or at 1 ends in the last block, where the block's own cumsum can round below the block sum."""
    logits = torch.randn(4000, vocab, generator=rng(1)) * 3
    logits[:2000, -3:] = float("-inf")
    for top in (1.0 - 2**-24, 1.0):
        ids = sample_with_uniforms(logits, torch.full((4000,), top), block=block)
        assert (ids < vocab).all()
        assert torch.isfinite(logits.gather(1, ids.unsqueeze(1))).all()


# ================================================================================================= p_gold = 1
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode, mix", ALL_SETTINGS)
@pytest.mark.parametrize("p", [1.0, ALMOST_ONE])
def test_p_gold_one_is_mle_in_value_and_gradients(kind, mode, mix, p):
    gen = make(kind)
    batch = make_batch([7, 3, 5, 0], 9)
    ref, ref_n = token_nll_sum(gen, batch, PAD)
    ref.backward()
    ref_grads = grads(gen)
    gen.zero_grad()
    nll, n, diag = scheduled_sampling_loss_sum(gen, batch, PAD, p_gold=p, mode=mode, mix=mix, generator=rng())
    nll.backward()
    assert int(n) == int(ref_n) == 7 + 3 + 5 + 0 + 4
    assert diag["gold_fraction"] == 1.0
    assert float(nll.detach()) == pytest.approx(float(ref.detach()), rel=1e-6, abs=1e-6)
    got = grads(gen)
    assert got.keys() == ref_grads.keys()
    for name, g in ref_grads.items():
        assert torch.allclose(got[name], g, rtol=1e-5, atol=1e-6), name


# ================================================================================================ what is fed
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mix", ["sample", "argmax"])
@pytest.mark.parametrize("p", [0.0, 0.5])
def test_exact_mode_feeds_the_models_own_tokens_given_the_mixed_prefix(kind, mix, p):
    """Each replaced input t is drawn from the model's logits at t-1 *on the mixed inputs* (a full forward
    recomputes them), with the uniforms re-drawn from a clone of the generator; the loss is the NLL of that
    full forward. This also checks the incremental state against a full pass."""
    gen = make(kind).eval()
    batch = make_batch([8, 4, 6, 8, 1], 10, seed=1)
    g = rng(3)
    uniforms = torch.rand((5, 9, 2), generator=rng(3))
    out = scheduled_sampling_forward(gen, batch, PAD, p_gold=p, mode="exact", mix=mix, generator=g)
    full, _ = gen(out.inputs)
    torch.testing.assert_close(out.logits, full, rtol=1e-5, atol=1e-5)
    expect_model = mixable(batch) & ~(uniforms[..., 0] < p)
    assert torch.equal(out.gold_mask, ~expect_model)
    pred = (
        full[:, :-1].argmax(-1) if mix == "argmax" else sample_with_uniforms(full[:, :-1], uniforms[:, 1:, 1])
    )
    model_fed = expect_model[:, 1:]
    assert torch.equal(out.inputs[:, 1:][model_fed], pred[model_fed])
    assert torch.equal(out.inputs[~expect_model], batch[:, :-1][~expect_model])  # gold, BOS and padding
    assert (out.inputs[:, 1:][model_fed] != batch[:, 1:-1][model_fed]).any()  # not trivially gold
    nll, _, diag = scheduled_sampling_loss_sum(
        gen, batch, PAD, p_gold=p, mode="exact", mix=mix, generator=rng(3)
    )
    assert float(nll.detach()) == pytest.approx(float(row_nll(full, batch).sum().detach()), rel=1e-5)
    if p == 0.0:
        assert diag["gold_fraction"] == 0.0
        assert model_fed.sum() == mixable(batch).sum()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mix", ["sample", "argmax"])
def test_two_pass_feeds_tokens_from_the_teacher_forced_pass(kind, mix):
    gen = make(kind).eval()
    batch = make_batch([8, 4, 6, 2], 10, seed=2)
    uniforms = torch.rand((4, 9, 2), generator=rng(5))
    out = scheduled_sampling_forward(gen, batch, PAD, p_gold=0.4, mode="two_pass", mix=mix, generator=rng(5))
    teacher, _ = gen(batch[:, :-1])
    if mix == "argmax":
        pred = teacher[:, :-1].argmax(-1)
    else:
        pred = sample_with_uniforms(teacher[:, :-1], uniforms[:, 1:, 1])
    model_fed = mixable(batch) & ~(uniforms[..., 0] < 0.4)
    assert torch.equal(out.gold_mask, ~model_fed)
    assert torch.equal(out.inputs[:, 1:][model_fed[:, 1:]], pred[model_fed[:, 1:]])
    assert torch.equal(out.inputs[~model_fed], batch[:, :-1][~model_fed])
    second, _ = gen(out.inputs)
    torch.testing.assert_close(out.logits, second)


@pytest.mark.parametrize("kind", KINDS)
def test_two_pass_soft_feeds_the_expected_embedding(kind):
    """Reference built from the model's own layers: Transformer via inputs_embeds, RNN via rnn + lm_head."""
    gen = make(kind).eval()
    batch = make_batch([6, 3, 7], 9, seed=4)
    out = scheduled_sampling_forward(
        gen, batch, PAD, p_gold=0.3, mode="two_pass", mix="soft", generator=rng(1)
    )
    assert out.inputs is None
    emb = gen.lm.get_input_embeddings().weight
    inputs = batch[:, :-1]
    teacher, _ = gen(inputs)
    soft = torch.cat([emb[inputs[:, :1]], teacher[:, :-1].softmax(-1) @ emb], dim=1)
    embeds = torch.where(out.gold_mask.unsqueeze(-1), emb[inputs], soft)
    if kind == "transformer":
        ref = gen.lm(inputs_embeds=embeds).logits
    else:
        ref = gen.lm.lm_head(gen.lm.rnn(embeds)[0])
    torch.testing.assert_close(out.logits, ref, rtol=1e-5, atol=1e-5)
    assert (~out.gold_mask).any()


def test_exact_transformer_without_gradients_uses_the_same_numbers():
    """No-grad runs take the preallocated KV cache, gradient runs the model's own; the loss is the same."""
    gen = make("transformer")
    batch = make_batch([7, 2, 5], 9)
    kw = dict(p_gold=0.3, mode="exact", mix="sample")
    with_grad, _, _ = scheduled_sampling_loss_sum(gen, batch, PAD, generator=rng(8), **kw)
    with torch.no_grad():
        without, _, _ = scheduled_sampling_loss_sum(gen, batch, PAD, generator=rng(8), **kw)
    assert float(with_grad.detach()) == pytest.approx(float(without.detach()), rel=1e-6)


# ====================================================================================================== draws
@pytest.mark.parametrize("mode, mix", ALL_SETTINGS)
def test_same_seed_same_loss_other_seed_other_inputs(mode, mix):
    gen = make("lstm")
    batch = make_batch([8, 8, 8, 8], 10)
    kw = dict(p_gold=0.5, mode=mode, mix=mix)
    a = scheduled_sampling_forward(gen, batch, PAD, generator=rng(0), **kw)
    b = scheduled_sampling_forward(gen, batch, PAD, generator=rng(0), **kw)
    c = scheduled_sampling_forward(gen, batch, PAD, generator=rng(1), **kw)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.gold_mask, b.gold_mask)
    assert not torch.equal(a.gold_mask, c.gold_mask)


def test_gold_fraction_follows_p_gold():
    gen = make("gru")
    batch = make_batch([30] * 64, 32)
    _, _, diag = scheduled_sampling_loss_sum(gen, batch, PAD, p_gold=0.3, mode="two_pass", generator=rng(2))
    assert diag["gold_fraction"] == pytest.approx(0.3, abs=0.03)  # 1920 Bernoulli draws: sd ~0.01


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode, mix", ALL_SETTINGS)
def test_padding_never_changes_another_rows_loss(kind, mode, mix):
    """A row's loss is the same alone (trimmed to its own length) as in a padded batch, given the same row
    index and draw width `max_len`; other rows' contents and lengths never matter."""
    gen = make(kind).eval()
    batch = make_batch([3, 5, 8], 11, seed=6)
    kw = dict(p_gold=0.5, mode=mode, mix=mix, max_len=12)
    out = scheduled_sampling_forward(gen, batch, PAD, generator=rng(4), **kw)
    in_batch = row_nll(out.logits, batch)
    alone, n, _ = scheduled_sampling_loss_sum(gen, batch[:1, :5], PAD, generator=rng(4), **kw)
    assert int(n) == 4
    assert float(alone.detach()) == pytest.approx(float(in_batch[0].detach()), rel=1e-5)
    fewer = batch[:2, :7]  # the first two rows, padded only as far as the longer of them
    sub = scheduled_sampling_forward(gen, fewer, PAD, generator=rng(4), **kw)
    torch.testing.assert_close(row_nll(sub.logits, fewer), in_batch[:2], rtol=1e-5, atol=1e-5)
    other = batch.clone()
    other[0] = make_batch([9], 11, seed=7)[0]
    other[2, 3:] = PAD
    other[2, 3] = EOS
    out2 = scheduled_sampling_forward(gen, other, PAD, generator=rng(4), **kw)
    assert float(row_nll(out2.logits, other)[1].detach()) == pytest.approx(
        float(in_batch[1].detach()), rel=1e-5
    )
    if out.inputs is not None:  # padding is never replaced
        pad_in = batch[:, :-1] == PAD
        assert (out.inputs[pad_in] == PAD).all() and out.gold_mask[pad_in].all()


# ================================================================================================== gradients
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode, mix", ALL_SETTINGS)
def test_gradient_reaches_every_parameter(kind, mode, mix):
    gen = make(kind)
    batch = make_batch([7, 5, 8], 10)
    nll, n, _ = scheduled_sampling_loss_sum(gen, batch, PAD, p_gold=0.5, mode=mode, mix=mix, generator=rng())
    (nll / n).backward()
    for name, param in gen.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("through_both", [False, True])
def test_soft_gradient_goes_through_pass_one_only_when_asked(through_both):
    gen = make("transformer")
    batch = make_batch([7, 5, 8], 10)
    nll, _, _ = scheduled_sampling_loss_sum(
        gen,
        batch,
        PAD,
        p_gold=0.2,
        mode="two_pass",
        mix="soft",
        grad_through_both=through_both,
        generator=rng(),
    )
    nll.backward()
    got = grads(gen)
    gen.zero_grad()
    out = scheduled_sampling_forward(
        gen, batch, PAD, p_gold=0.2, mode="two_pass", mix="soft", generator=rng()
    )
    inputs, emb = batch[:, :-1], gen.lm.get_input_embeddings().weight
    teacher, _ = gen(inputs)
    probs = teacher[:, :-1].softmax(-1)
    probs = probs if through_both else probs.detach()
    soft = torch.cat([emb[inputs[:, :1]], probs @ emb], dim=1)
    embeds = torch.where(out.gold_mask.unsqueeze(-1), emb[inputs], soft)
    row_nll(gen.lm(inputs_embeds=embeds).logits, batch).sum().backward()
    for name, g in grads(gen).items():
        torch.testing.assert_close(got[name], g, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("mode, mix", ALL_SETTINGS)
def test_training_a_tiny_lstm_lowers_the_loss(mode, mix):
    """Rows count 3,4,5,... (mod the vocabulary) from a random start: learnable from the previous token."""
    gen = make("lstm", seed=1)
    g = torch.Generator().manual_seed(0)
    starts = torch.randint(0, 8, (32, 1), generator=g)
    body = 3 + (starts + torch.arange(10)) % 8
    batch = torch.cat([torch.full((32, 1), BOS), body, torch.full((32, 1), EOS)], dim=1)
    opt = torch.optim.Adam(gen.parameters(), lr=0.03)
    draws = rng(0)

    def mle() -> float:
        with torch.no_grad():
            nll, n = token_nll_sum(gen, batch, PAD)
        return float(nll / n)

    before, first_ss = mle(), None
    for _ in range(30):
        nll, n, _ = scheduled_sampling_loss_sum(
            gen, batch, PAD, p_gold=0.5, mode=mode, mix=mix, generator=draws
        )
        loss = nll / n
        first_ss = float(loss.detach()) if first_ss is None else first_ss
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first_ss
    assert mle() < 0.5 * before


# =========================================================================================== wrappers, errors
def test_a_ddp_style_wrapper_is_unwrapped():
    class Wrapper(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, *args, **kwargs):
            return self.module(*args, **kwargs)

    gen = make("transformer")
    batch = make_batch([5, 7], 9)
    for mode, mix in ALL_SETTINGS:
        kw = dict(p_gold=0.5, mode=mode, mix=mix)
        direct, _, _ = scheduled_sampling_loss_sum(gen, batch, PAD, generator=rng(), **kw)
        wrapped, _, _ = scheduled_sampling_loss_sum(Wrapper(gen), batch, PAD, generator=rng(), **kw)
        assert float(direct.detach()) == float(wrapped.detach())


def _ddp_synced(kind: str, rank: int) -> dict[str, bool]:
    """Per setting: do both ranks hold the same gradients after backward on their own batches?"""
    gen = make(kind)
    ddp = torch.nn.parallel.DistributedDataParallel(gen)
    batch = make_batch([7, 4, 6], 9, seed=10 + rank)
    synced = {}
    for mode, mix in ALL_SETTINGS:
        nll, _, _ = scheduled_sampling_loss_sum(
            ddp, batch, PAD, p_gold=0.5, mode=mode, mix=mix, generator=rng(rank)
        )
        nll.backward()
        flat = torch.cat([p.grad.reshape(-1) for p in gen.parameters()])
        both = [torch.zeros_like(flat) for _ in range(2)]
        dist.all_gather(both, flat)
        synced[f"{kind} {mode} {mix}"] = torch.equal(both[0], both[1])
        gen.zero_grad()
    return synced  # the DDP wrapper is freed here, while the process group is still alive


def _ddp_worker(rank: int, init_file: str, result_file: str) -> None:
    # A bounded timeout: a lost peer fails the test instead of hanging the suite.
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=2, timeout=timedelta(seconds=60)
    )
    synced = {**_ddp_synced("lstm", rank), **_ddp_synced("transformer", rank)}
    if rank == 0:
        with open(result_file, "w") as f:
            json.dump(synced, f)
    dist.barrier()
    dist.destroy_process_group()


# two spawned processes; the trainer's ObjectiveModule path is covered by test_training_distributed.py
@pytest.mark.slow
def test_ddp_all_reduces_the_gradients_in_every_mode(tmp_path):
    """Exact mode calls the wrapped model once per position and soft mixing swaps embeddings inside it; DDP
    must still see every forward (a direct call of the inner LM would leave the ranks' gradients apart)."""
    result = tmp_path / "synced.json"
    workers = mp.spawn(_ddp_worker, args=(str(tmp_path / "init"), str(result)), nprocs=2, join=False)
    deadline = time.monotonic() + 180
    while not workers.join(timeout=1):
        if time.monotonic() > deadline:
            for proc in workers.processes:
                proc.kill()
            pytest.fail("the 2-process DDP check did not finish in 180 s")
    synced = json.loads(result.read_text())
    assert len(synced) == 2 * len(ALL_SETTINGS)
    assert all(synced.values()), synced


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "greedy"}, "unknown scheduled-sampling mode"),
        ({"mix": "gumbel"}, "unknown scheduled-sampling mix"),
        ({"p_gold": 1.5}, "p_gold must be in \\[0, 1\\]"),
        ({"p_gold": -0.1}, "p_gold must be in \\[0, 1\\]"),
        ({"p_gold": math.nan}, "p_gold must be in \\[0, 1\\]"),
        ({"mode": "exact", "mix": "soft"}, "needs mode='two_pass'"),
        ({"mix": "sample", "grad_through_both": True}, "grad_through_both needs"),
        ({"mode": "exact", "mix": "argmax", "grad_through_both": True}, "grad_through_both needs"),
        ({"max_len": 5}, "max_len=5 is shorter than the batch"),
    ],
)
def test_bad_settings_are_one_line_errors(kwargs, match):
    gen = make("lstm")
    kw = {"p_gold": 0.5, **kwargs}
    with pytest.raises(SeqgenError, match=match) as e:
        scheduled_sampling_loss_sum(gen, make_batch([4, 6], 9), PAD, **kw)
    assert "\n" not in str(e.value)


def test_bad_batches_and_models_are_one_line_errors():
    gen = make("transformer")  # context 32
    cases = [
        (gen, make_batch([4], 9)[0], "2-D long tensor"),
        (gen, make_batch([4], 9).float(), "2-D long tensor"),
        (gen, make_batch([4], 9)[:, :1], "at least 2 columns"),
        (gen, make_batch([40], 42), "exceeds the Transformer's context of 32"),
        (torch.nn.Linear(2, 2), make_batch([4], 9), "needs a seqgen Generator"),
    ]
    for model, batch, match in cases:
        with pytest.raises(SeqgenError, match=match) as e:
            scheduled_sampling_loss_sum(model, batch, PAD, p_gold=0.5)
        assert "\n" not in str(e.value)
