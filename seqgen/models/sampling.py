"""Incremental ancestral sampling: one new token per model call, carrying the RNN state or KV cache.

The loop is written for speed on small models, where per-step Python and kernel-launch overhead is a large
part of the cost: the processors are built once, nothing is concatenated (tokens go into a preallocated
buffer), and "have all rows ended?" needs a host sync, so on accelerators it is asked only every few steps (on
CPU it is free).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from seqgen.errors import SeqgenError

# step(tokens (n, k), state) -> (logits of the last position (n, V), new state)
StepFn = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]


def build_processors(temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> LogitsProcessorList:
    """transformers' warpers for the active settings only (temperature 1, top_k 0 and top_p 1 are no-ops).

    temperature 0 means greedy decoding and is handled by the caller (no warper divides by zero). The one
    check of these values: messages name them as the Python API and the command line (`seqgen sample`) do.
    """
    if not temperature >= 0.0:
        raise SeqgenError(f"temperature (--temperature) must be >= 0 (0 = greedy), got {temperature}")
    if top_k < 0:
        raise SeqgenError(f"top_k (--top-k) must not be negative (0 = off), got {top_k}")
    if not 0.0 < top_p <= 1.0:
        raise SeqgenError(f"top_p (--top-p) must be in (0, 1], got {top_p}")
    procs = LogitsProcessorList()
    if temperature not in (0.0, 1.0):
        procs.append(TemperatureLogitsWarper(temperature))
    if top_k > 0:
        procs.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        procs.append(TopPLogitsWarper(top_p))
    return procs


def start_rows(
    n: int,
    max_len: int,
    bos_id: int,
    pad_id: int,
    prefix: torch.Tensor | None,
    vocab_size: int,
    device: torch.device,
) -> tuple[torch.Tensor, int]:
    """The (n, max_len) output buffer filled with pad, BOS in column 0 and the prefix after it.

    Returns the buffer and the number of filled columns.
    """
    if n < 1:
        raise SeqgenError(f"number of samples must be at least 1, got {n}")
    if max_len < 1:
        raise SeqgenError(f"sample max_len must be at least 1 (BOS), got {max_len}")
    out = torch.full((n, max_len), pad_id, dtype=torch.long, device=device)
    out[:, 0] = bos_id
    if prefix is None:
        return out, 1
    prefix = torch.as_tensor(prefix, dtype=torch.long, device=device)
    if prefix.dim() == 1:
        prefix = prefix.unsqueeze(0).expand(n, -1)
    if prefix.dim() != 2 or prefix.size(0) != n:
        raise SeqgenError(f"prefix must have shape (k,) or ({n}, k), got {tuple(prefix.shape)}")
    k = prefix.size(1)
    if 1 + k > max_len:
        raise SeqgenError(f"prefix of {k} tokens plus BOS does not fit in max_len={max_len}")
    if k and (int(prefix.min()) < 0 or int(prefix.max()) >= vocab_size):
        raise SeqgenError(f"prefix holds token ids outside the vocabulary [0, {vocab_size})")
    out[:, 1 : 1 + k] = prefix
    return out, 1 + k


@torch.no_grad()
def sample_incremental(
    step: StepFn,
    out: torch.Tensor,
    start: int,
    *,
    eos_id: int,
    pad_id: int,
    processors: LogitsProcessorList,
    greedy: bool = False,
    generator: torch.Generator | None = None,
    stop_at_eos: bool = True,
    check_every: int | None = None,
) -> torch.Tensor:
    """Fill `out[:, start:]` token by token and return it.

    `out[:, :start]` is the context (BOS and prefix), fed in one call. A row that has produced EOS gets pad
    from then on; once every row has ended the loop stops and the result ends at the last EOS column. With
    `stop_at_eos=False` every row runs to max_len.
    """
    n, max_len = out.shape
    if start >= max_len:
        return out
    finished = torch.zeros(n, dtype=torch.bool, device=out.device)
    if stop_at_eos:  # a prefix may already hold EOS: such a row has ended
        finished |= (out[:, 1:start] == eos_id).any(dim=1)
    if check_every is None:
        check_every = 1 if out.device.type == "cpu" else 8
    check_every = max(1, check_every)
    logits, state = step(out[:, :start], None)
    t = start
    while True:
        scores = logits.float()
        for proc in processors:  # direct calls: LogitsProcessorList.__call__ inspects signatures every step
            scores = proc(out[:, :t], scores)
        if greedy:
            nxt = scores.argmax(dim=-1)
        else:
            nxt = torch.multinomial(scores.softmax(dim=-1), 1, generator=generator).squeeze(1)
        if stop_at_eos:
            nxt = nxt.masked_fill(finished, pad_id)
            finished |= nxt == eos_id
        out[:, t] = nxt
        t += 1
        if t == max_len:
            break
        if stop_at_eos and (t - start) % check_every == 0 and bool(finished.all()):
            break
        logits, state = step(nxt.unsqueeze(1), state)
    if stop_at_eos and bool(finished.all()):
        # Columns after the last EOS are all pad (several when the end check is not every step): cut them.
        written = (out[:, :t] != pad_id).any(dim=0).nonzero()
        t = max(int(written.max()) + 1, start) if len(written) else start
    return out[:, :t]
