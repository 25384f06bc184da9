"""Scheduled sampling (Bengio et al. 2015) in two modes: exact token-by-token and two-pass (DESIGN §5).

Only the *inputs* are mixed; the targets are always the gold next tokens, so the loss has the form of
`seqgen.objectives.mle.token_nll_sum`: (summed NLL over non-pad targets, target count), for the trainer to
normalise by the tokens of the whole optimiser step. With p_gold = 1 both modes are teacher forcing (one full
forward), i.e. exactly the MLE loss.

- exact: one model call per position with the incremental state (RNN hidden state / KV cache), so the token
  fed at t+1 is drawn from the model given the already-mixed prefix. Backpropagation runs through time over
  the mixed inputs; the discrete choice itself carries no gradient.
- two_pass (Mihaylova & Martins 2019): pass 1 teacher-forced (no gradient unless `grad_through_both`), the
  model token at t is drawn from pass-1 logits at t-1 (sample / argmax) or replaced by the softmax-weighted
  average of the embedding rows (soft); pass 2 on the mixed inputs carries the loss. Two full forwards: the
  only fast option for Transformers.

Why the objective is inconsistent (Huszár 2015): with p_gold = 0 the prefix is independent of the target, so
the optimum is the product of the marginals, not the data distribution.

Randomness: every draw comes from one `torch.rand` call of shape (B, W, 2), W = max_len - 1 (default T - 1),
row-major: [r, t, 0] decides gold-vs-model for input t of row r, [r, t, 1] picks the sampled token by inverse
CDF. So row r's draws depend only on the generator state, r and W, never on the other rows; fix `max_len`
(e.g. to the data's maximum length) and they no longer depend on how far the batch happens to be padded.
Rows are computed independently, so a row's loss in a padded batch equals its loss in any other batch where
it sits at the same row index with the same W.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from seqgen.errors import SeqgenError
from seqgen.models.transformer import new_kv_cache
from seqgen.objectives.base import Objective
from seqgen.objectives.scheduled_sampling_config import ScheduledSamplingConfig

MODES = ("exact", "two_pass")
MIXES = ("sample", "argmax", "soft")


class MixedPass(NamedTuple):
    """What the model read and predicted under scheduled sampling (L = T - 1 input positions)."""

    logits: torch.Tensor  # (B, L, V): logits for the gold targets batch[:, 1:]
    inputs: torch.Tensor | None  # (B, L) ids the model read; None for soft mixing (it read embeddings)
    gold_mask: torch.Tensor  # (B, L) bool: True where input t is the gold token batch[:, t]


def scheduled_sampling_loss_sum(
    model: torch.nn.Module,
    batch: torch.Tensor,
    pad_id: int,
    *,
    p_gold: float,
    mode: str = "two_pass",
    mix: str = "sample",
    grad_through_both: bool = False,
    generator: torch.Generator | None = None,
    max_len: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """Summed NLL (nats) of the gold targets of `batch` (B, T; BOS first, right-padded with `pad_id`) under
    scheduled sampling, the number of non-pad targets, and diagnostics:
    `gold_fraction` = share of the mixable input positions (1..T-2 with a non-pad target) fed the gold token.

    `model`: a `Generator` (or an Accelerate/DDP wrapper of one). Draws use `generator` (any device; a CPU
    one gives the same draws wherever the model runs); see `scheduled_sampling_forward` for the settings.
    """
    out = scheduled_sampling_forward(
        model,
        batch,
        pad_id,
        p_gold=p_gold,
        mode=mode,
        mix=mix,
        grad_through_both=grad_through_both,
        generator=generator,
        max_len=max_len,
    )
    targets = batch[:, 1:]
    # One fp32 cross-entropy over all positions, as token_nll_sum does (bit-for-bit the same at p_gold = 1).
    nll = F.cross_entropy(
        out.logits.float().reshape(-1, out.logits.size(-1)),
        targets.reshape(-1),
        ignore_index=pad_id,
        reduction="sum",
    )
    mixable = targets != pad_id
    mixable[:, 0] = False  # BOS is always gold
    counts = torch.stack([(out.gold_mask & mixable).sum(), mixable.sum()]).tolist()  # one host sync
    gold_fraction = counts[0] / counts[1] if counts[1] else 1.0
    return nll, (targets != pad_id).sum(), {"gold_fraction": gold_fraction}


def scheduled_sampling_forward(
    model: torch.nn.Module,
    batch: torch.Tensor,
    pad_id: int,
    *,
    p_gold: float,
    mode: str = "two_pass",
    mix: str = "sample",
    grad_through_both: bool = False,
    generator: torch.Generator | None = None,
    max_len: int | None = None,
) -> MixedPass:
    """Logits for batch[:, 1:] when each input position 1..T-2 is the gold token with probability `p_gold`
    and otherwise the model's own token; also the inputs used and the gold mask.

    mode: "exact" or "two_pass". mix: "sample" (from the softmax), "argmax", or "soft" (two_pass only: the
    probability-weighted average of the input embedding rows). grad_through_both: two_pass + soft only; pass 1
    and the soft embedding are differentiable (otherwise pass 1 runs under no_grad). max_len: width of the
    random-draw layout (>= T; default T). Position 0 (BOS) and positions whose target is padding keep their
    gold input; padding is never scored.
    """
    _check_settings(batch, p_gold, mode, mix, grad_through_both, max_len)
    gen = _unwrap(model)
    if mix == "soft" and gen.kind == "independent":  # its logits depend on the position only
        raise SeqgenError("ss.mix=soft mixes input embeddings; a model.kind=independent generator has none")
    if gen.kind == "transformer" and gen.max_positions is not None and batch.size(1) - 1 > gen.max_positions:
        raise SeqgenError(
            f"batch of {batch.size(1) - 1} input positions exceeds the Transformer's context of "
            f"{gen.max_positions}"
        )
    inputs, targets = batch[:, :-1], batch[:, 1:]
    b, n = inputs.shape
    if p_gold >= 1.0 or n <= 1:  # teacher forcing: nothing to mix, no draws
        logits, _ = model(inputs)
        return MixedPass(logits, inputs, torch.ones_like(inputs, dtype=torch.bool))

    width = (max_len or batch.size(1)) - 1
    # Drawn where the generator lives (a CPU generator gives the same draws on any accelerator), then moved.
    where = generator.device if generator is not None else batch.device
    draws = torch.rand((b, width, 2), generator=generator, device=where)[:, :n].to(batch.device)
    gold = draws[..., 0] < p_gold
    gold[:, 0] = True
    gold |= targets == pad_id  # padding and the last token (target: padding) are never scored: kept
    if mode == "exact":
        logits, mixed = _exact(model, gen, inputs, gold, draws[..., 1], mix)
        return MixedPass(logits, mixed, gold)
    return _two_pass(model, gen, inputs, gold, draws[..., 1], mix, grad_through_both)


def sample_with_uniforms(logits: torch.Tensor, u: torch.Tensor, block: int = 64) -> torch.Tensor:
    """Ids drawn from softmax(`logits`) (..., V) by inverse CDF with the given uniforms `u` (...) in [0, 1].

    Pre-drawn uniforms make a whole sequence's draws one RNG call, independent of the batch layout. The CDF is
    searched in two levels (sums of blocks of `block` tokens, then inside the chosen block): a full cumsum
    over V is a sequential scan that costs more than the softmax itself. Zero-probability tokens are never
    chosen (their CDF step is empty), not even for u = 1.
    """
    probs = logits.float().softmax(dim=-1)
    v = probs.size(-1)
    flat = probs.reshape(-1, v)
    n_full = v // block
    sums = [flat[:, : n_full * block].unflatten(-1, (n_full, block)).sum(dim=-1)] if n_full else []
    if v % block:
        sums.append(flat[:, n_full * block :].sum(dim=-1, keepdim=True))
    block_cdf = torch.cat(sums, dim=-1).cumsum(dim=-1)  # (N, blocks)
    total = block_cdf[:, -1:]
    # Kept below the total so the index stays in the vocabulary: u = 1, or a float64 u rounded to float32.
    target = torch.minimum(
        u.reshape(-1, 1).to(flat.dtype) * total, torch.nextafter(total, torch.zeros_like(total))
    )
    first = torch.searchsorted(block_cdf, target, right=True)  # the block holding the target
    before = torch.where(first > 0, block_cdf.gather(1, (first - 1).clamp(min=0)), torch.zeros_like(target))
    offsets = torch.arange(block, device=flat.device)
    cols = first * block + offsets
    inside = flat.gather(1, cols.clamp(max=v - 1)) * (cols < v)  # the block's probabilities, zero-padded
    j = torch.searchsorted(inside.cumsum(dim=-1) + before, target, right=True)
    # The block's own cumsum can round a hair below its block sum: then take its last non-zero token.
    last = torch.where(inside > 0, offsets, 0).amax(dim=-1, keepdim=True)
    return (first * block + torch.minimum(j, last)).reshape(u.shape)


# ---------------------------------------------------------------------------------------------- modes
def _exact(
    model: torch.nn.Module,
    gen: Any,
    inputs: torch.Tensor,
    gold: torch.Tensor,
    u: torch.Tensor,
    mix: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token by token with the incremental state; returns the stacked logits and the inputs read."""
    n = inputs.size(1)
    state = None
    if gen.kind == "transformer" and not torch.is_grad_enabled():
        # The preallocated cache writes in place, which autograd forbids for tensors saved for backward;
        # with gradients the model's own (concatenating) cache is used.
        state = new_kv_cache(gen.lm, n)
    cur = inputs[:, :1]
    logits, read = [], [cur]
    for t in range(n):
        step_logits, state = model(cur, state, return_state=True)
        logits.append(step_logits)
        if t + 1 == n:
            break
        with torch.no_grad():
            last = step_logits[:, -1]
            pred = last.argmax(dim=-1) if mix == "argmax" else sample_with_uniforms(last, u[:, t + 1])
            cur = torch.where(gold[:, t + 1], inputs[:, t + 1], pred).unsqueeze(1)
        read.append(cur)
    return torch.cat(logits, dim=1), torch.cat(read, dim=1)


def _two_pass(
    model: torch.nn.Module,
    gen: Any,
    inputs: torch.Tensor,
    gold: torch.Tensor,
    u: torch.Tensor,
    mix: str,
    grad_through_both: bool,
) -> MixedPass:
    with nullcontext() if grad_through_both else torch.no_grad():
        first, _ = model(inputs[:, :-1])  # predictions for inputs 1..L-1 (the last position is not needed)
    if mix == "soft":
        embedding = gen.lm.get_input_embeddings()
        gold_emb = embedding(inputs)
        probs = first.float().softmax(dim=-1).to(embedding.weight.dtype)
        soft = torch.cat([gold_emb[:, :1], probs @ embedding.weight], dim=1)
        embeds = torch.where(gold.unsqueeze(-1), gold_emb, soft)
        return MixedPass(_logits_from_embeds(model, embedding, inputs, embeds), None, gold)
    with torch.no_grad():
        pred = first.argmax(dim=-1) if mix == "argmax" else sample_with_uniforms(first, u[:, 1:])
        mixed = torch.cat([inputs[:, :1], torch.where(gold[:, 1:], inputs[:, 1:], pred)], dim=1)
    logits, _ = model(mixed)
    return MixedPass(logits, mixed, gold)


def _logits_from_embeds(
    model: torch.nn.Module, embedding: torch.nn.Module, ids: torch.Tensor, embeds: torch.Tensor
) -> torch.Tensor:
    """Logits of `model` reading `embeds` (B, L, D) in place of the embeddings of `ids`.

    The call goes through `model` itself (not the inner LM with `inputs_embeds`) so that a DDP wrapper sees
    the forward and all-reduces the gradients; a forward hook on the input embedding layer swaps the looked-up
    rows for `embeds`. Both Generator kinds look their inputs up through that layer once per forward.
    """

    def swap(_module: torch.nn.Module, _args: Any, looked_up: torch.Tensor) -> torch.Tensor:
        if looked_up.shape != embeds.shape:
            raise SeqgenError(
                f"soft scheduled sampling cannot replace an input embedding of shape {tuple(looked_up.shape)}"
            )
        return embeds

    handle = embedding.register_forward_hook(swap)
    try:
        logits, _ = model(ids)
    finally:
        handle.remove()
    return logits


# ---------------------------------------------------------------------------------------------- checks
def _unwrap(model: torch.nn.Module) -> Any:
    """The `Generator` inside DDP (`.module`) and torch.compile (`._orig_mod`) wrappers."""
    while True:
        inner = getattr(model, "module", None)
        inner = getattr(model, "_orig_mod", None) if inner is None else inner
        if inner is None:
            break
        model = inner
    if not (hasattr(model, "kind") and hasattr(model, "lm")):
        raise SeqgenError(f"scheduled sampling needs a seqgen Generator, got {type(model).__name__}")
    return model


def _check_settings(
    batch: torch.Tensor, p_gold: float, mode: str, mix: str, grad_through_both: bool, max_len: int | None
) -> None:
    if mode not in MODES:
        raise SeqgenError(f"unknown scheduled-sampling mode {mode!r}; expected one of {MODES}")
    if mix not in MIXES:
        raise SeqgenError(f"unknown scheduled-sampling mix {mix!r}; expected one of {MIXES}")
    if not 0.0 <= p_gold <= 1.0:  # also rejects NaN
        raise SeqgenError(f"scheduled-sampling p_gold must be in [0, 1], got {p_gold}")
    if mode == "exact" and mix == "soft":
        raise SeqgenError("scheduled-sampling mix='soft' needs mode='two_pass' (exact mode feeds tokens)")
    if grad_through_both and not (mode == "two_pass" and mix == "soft"):
        raise SeqgenError(
            "scheduled-sampling grad_through_both needs mode='two_pass' and mix='soft' "
            "(a sampled or argmax token carries no gradient)"
        )
    if batch.dim() != 2 or batch.dtype != torch.long or batch.size(1) < 2:
        raise SeqgenError(
            "scheduled-sampling batch must be a 2-D long tensor of token ids with at least 2 columns "
            f"(BOS and a target), got shape {tuple(batch.shape)} and {batch.dtype}"
        )
    if max_len is not None and max_len < batch.size(1):
        raise SeqgenError(f"scheduled-sampling max_len={max_len} is shorter than the batch ({batch.size(1)})")


class ScheduledSampling(Objective):
    """`objective=scheduled_sampling`: the MLE targets, fed (partly) the model's own tokens (`ss.*`)."""

    name = "scheduled_sampling"

    def __init__(self, settings: ScheduledSamplingConfig, pad_id: int, max_len: int) -> None:
        super().__init__(pad_id)
        self.settings, self.max_len = settings, max_len

    def loss_sum(
        self, generator: torch.nn.Module, batch: torch.Tensor, *, step: int, rng: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        ss = self.settings
        return scheduled_sampling_loss_sum(
            generator,
            batch,
            self.pad_id,
            p_gold=ss.p_gold_at(step),
            mode=ss.mode,
            mix=ss.mix,
            grad_through_both=ss.grad_through_both,
            generator=rng,
            max_len=self.max_len,
        )

    def logged(self, step: int) -> dict[str, float]:
        return {"p_gold": self.settings.p_gold_at(step)}
