"""Text in, text out around `Generator.sample`: prefixes are encoded, samples decoded.

In sentence mode a sample ends at EOS; in stream mode (char-level books) EOS marks a line end, so sampling
runs through it to the requested length and EOS is rendered as a newline.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from seqgen.errors import SeqgenError


def _split_at(ids: list[int], sep: int) -> list[list[int]]:
    parts, cur = [], []
    for i in ids:
        if i == sep:
            parts.append(cur)
            cur = []
        else:
            cur.append(i)
    parts.append(cur)
    return parts


def decode_sample(tokenizer, ids: list[int], *, stream: bool = False) -> str:
    """Text of one sampled row (BOS first). Sentence mode: up to EOS. Stream mode: EOS becomes a newline."""
    ids = [i for i in ids[1:] if i != tokenizer.pad_id]
    if stream:
        return "\n".join(tokenizer.decode(p) for p in _split_at(ids, tokenizer.eos_id))
    if tokenizer.eos_id in ids:
        ids = ids[: ids.index(tokenizer.eos_id)]
    return tokenizer.decode(ids)


def sample_texts(
    generator,
    tokenizer,
    n: int,
    *,
    max_len: int,
    stream: bool = False,
    prefix: str | None = None,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 256,
    on_batch: Callable[[int], object] | None = None,
) -> list[str]:
    """`n` decoded samples, drawn in batches with a seeded torch.Generator (same seed -> same texts).
    temperature 0 is greedy decoding; `max_len` counts BOS. `on_batch(k)` is called after each batch of k
    (a progress bar's update)."""
    if n < 1:
        raise SeqgenError(f"n (-n) must be at least 1, got {n}")
    if max_len < 2:
        raise SeqgenError(f"max_len (--max-len) must be at least 2 (BOS and one token), got {max_len}")
    device = next(generator.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    prefix_ids = None
    if prefix:
        prefix_ids = torch.tensor(tokenizer.encode(prefix), dtype=torch.long, device=device)
        if len(prefix_ids) == 0:
            prefix_ids = None
    out: list[str] = []
    while len(out) < n:
        k = min(batch_size, n - len(out))
        ids = generator.sample(
            k,
            max_len,
            prefix=prefix_ids,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            generator=g,
            stop_at_eos=not stream,
        )
        out += [decode_sample(tokenizer, row, stream=stream) for row in ids.tolist()]
        if on_batch is not None:
            on_batch(k)
    return out
