"""The generator as a policy: samples, their per-token log-probabilities (with gradient) and entropy.

On the enumerable oracle (`data.train=oracle`) the policy is the generator restricted to the oracle's
convention (`seqgen.metrics.exact_distribution.model_distribution`): L symbol tokens, then EOS.
`SymbolConstraint` applies that restriction both when sampling (as a transformers `LogitsProcessor`) and when
scoring, so log Q(x) of a sample is exactly the log of the Q that exact divergences are computed from.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor


class SymbolConstraint(LogitsProcessor):
    """Tokens 1..L of a row (after BOS) must be one of `num_symbols` symbol ids; token L+1 must be EOS."""

    def __init__(self, first_symbol: int, num_symbols: int, length: int, eos_id: int) -> None:
        self.first, self.num, self.length, self.eos_id = first_symbol, num_symbols, length, eos_id

    def allowed(self, positions: int, vocab_size: int, device: torch.device) -> torch.Tensor:
        """(positions, V) bool: which tokens may be the target at target index j (token j + 1 of a row)."""
        allowed = torch.zeros(positions, vocab_size, dtype=torch.bool, device=device)
        n_sym = min(self.length, positions)
        allowed[:n_sym, self.first : self.first + self.num] = True
        allowed[n_sym:, self.eos_id] = True
        return allowed

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        position = input_ids.size(1)  # index of the token being chosen (BOS is 0)
        # One row per sampling step, not the whole (position, V) table: this runs on every token.
        row = torch.zeros(scores.size(-1), dtype=torch.bool, device=scores.device)
        if position <= self.length:
            row[self.first : self.first + self.num] = True
        else:
            row[self.eos_id] = True
        return scores.masked_fill(~row, float("-inf"))


def sample_policy(
    generator: torch.nn.Module,
    n: int,
    max_len: int,
    *,
    prefix: torch.Tensor | None,
    rng: torch.Generator,
    constraint: SymbolConstraint | None,
) -> torch.Tensor:
    """`n` sampled rows (BOS, prefix, continuation, EOS, pad), without gradient."""
    with torch.no_grad():
        return generator.sample(
            n, max_len, prefix=prefix, generator=rng, logits_processors=[constraint] if constraint else None
        )


def token_log_probs(
    generator: torch.nn.Module,
    ids: torch.Tensor,
    *,
    start: int,
    pad_id: int,
    constraint: SymbolConstraint | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(log q(x_t | x_<t), mask, entropy), each (B, T-1), for the targets ids[:, 1:].

    `mask` is 1 at generated positions (token index >= `start`, so a shared gold prefix is not scored) that
    are not padding. log-probs carry gradient; the per-position entropy H(q(. | x_<t)) does not.
    """
    logits, _ = generator(ids[:, :-1])
    logits = logits.float()
    if constraint is not None:
        allowed = constraint.allowed(logits.size(1), logits.size(-1), logits.device)
        logits = logits.masked_fill(~allowed, float("-inf"))
    logp_all = logits.log_softmax(dim=-1)
    targets = ids[:, 1:]
    logp = logp_all.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    positions = torch.arange(1, ids.size(1), device=ids.device)
    mask = ((targets != pad_id) & (positions >= start)[None, :]).float()
    logp = logp.masked_fill(mask == 0, 0.0)  # -inf at masked-out constrained pads must not reach the sum
    with torch.no_grad():
        p = logp_all.exp()
        entropy = -(p * logp_all.masked_fill(p == 0, 0.0)).sum(-1)
    return logp, mask, entropy


def sequence_log_probs(logp: torch.Tensor, mask: torch.Tensor, length_normalize: bool) -> torch.Tensor:
    """Per-row sum of the masked token log-probs, or their mean over generated tokens."""
    total = (logp * mask).sum(dim=1)
    return total / mask.sum(dim=1).clamp_min(1.0) if length_normalize else total
