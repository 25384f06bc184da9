"""Token datasets: a corpus of sentences becomes rows of token ids (column "input_ids", int32).

- sentence mode: one row per sentence, ``[bos] + encode(text) + [eos]``. A row longer than max_len is either
  truncated to BOS and the first max_len-1 tokens (its EOS is lost, so the model never learns a false
  ending) or dropped. A sentence that encodes to nothing is still ``[bos, eos]``.
- stream mode (nanoGPT-style, for char-level books): every line becomes ``encode(text) + [eos]`` (EOS is the
  line break), the lines are concatenated, and the stream is cut into contiguous non-overlapping blocks of
  exactly max_len tokens; the last partial block is dropped.

Both go through `Dataset.map` (cached_map.py: a corpus that is its cache files is read a record batch at a
time with plain reads, so its text never stays resident), so the result is an Arrow table in the datasets
cache beside its corpus and a second run reuses it. The cache key is our own: the corpus fingerprint, a
digest of the tokenizer's saved files and the settings, so it does not depend on datasets being able to hash
the tokenizer object.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqgen.data.arrow_files import column_chunks
from seqgen.data.cached_map import cached_map, map_texts
from seqgen.errors import SeqgenError

if TYPE_CHECKING:
    import torch
    from datasets import Dataset

log = logging.getLogger(__name__)

MODES = ("sentence", "stream")
TRUNCATIONS = ("truncate", "drop")
# Part of every cache key: bump it when the encoding rules above change, so old cached results are not reused.
_ENCODER_VERSION = 1


def encode_corpus(
    ds: Dataset,
    tokenizer: Any,
    *,
    mode: str,
    max_len: int,
    truncation: str = "truncate",
    num_proc: int | None = None,
) -> Dataset:
    """Token ids of corpus `ds` (column "text") in sentence or stream mode (see the module docstring).

    `tokenizer` needs ``encode(str) -> list[int]`` (no BOS/EOS), ``bos_id``, ``eos_id`` and, for the cache
    key, ``save(folder)`` (otherwise datasets' own hasher is tried). `num_proc` > 1 encodes in worker
    processes (the tokenizer must then pickle). Raises SeqgenError for bad settings, when truncation='drop'
    leaves nothing, or when a stream is shorter than one block.
    """
    if mode not in MODES:
        raise SeqgenError(f"data mode must be one of {', '.join(MODES)}; got {mode!r}")
    if truncation not in TRUNCATIONS:
        raise SeqgenError(f"truncation must be one of {', '.join(TRUNCATIONS)}; got {truncation!r}")
    if max_len < 2:
        raise SeqgenError(f"max_len must be at least 2 (BOS and one token), got {max_len}")
    key = _digest(ds._fingerprint, tokenizer_digest(tokenizer), mode, max_len, truncation, _ENCODER_VERSION)
    if mode == "sentence":
        return _sentence_rows(ds, tokenizer, max_len, truncation == "drop", key, num_proc)
    return _stream_blocks(ds, tokenizer, max_len, key, num_proc)


def _sentence_rows(
    ds: Dataset, tokenizer: Any, max_len: int, drop: bool, key: str, num_proc: int | None
) -> Dataset:
    """Sentence mode of `encode_corpus`: one row per sentence, truncated or dropped past max_len."""
    from datasets import Features, List, Value

    out = map_texts(
        ds,
        partial(sentence_rows, tokenizer=tokenizer, max_len=max_len, drop=drop),
        key=key,
        desc="Encoding sentences",
        features=Features({"input_ids": List(Value("int32"))}),
        num_proc=num_proc,
    )
    if len(out) == 0:
        raise SeqgenError(
            f"every sentence is longer than max_len={max_len}: nothing left with truncation=drop"
        )
    if len(out) < len(ds):
        log.info("dropped %d of %d sentences longer than max_len=%d", len(ds) - len(out), len(ds), max_len)
    return out


def _stream_blocks(ds: Dataset, tokenizer: Any, max_len: int, key: str, num_proc: int | None) -> Dataset:
    """Stream mode of `encode_corpus`: the lines (each ending in EOS), concatenated, cut into whole blocks."""
    from datasets import Features, List, Value

    lines = map_texts(
        ds,
        partial(_encode_lines, tokenizer=tokenizer),
        key=_digest(key, "lines"),
        desc="Encoding lines",
        features=Features({"input_ids": List(Value("int32"))}),
        num_proc=num_proc,
    )
    offsets = np.concatenate([[0], np.cumsum(_row_lengths(lines))])
    n_blocks = int(offsets[-1]) // max_len
    if n_blocks == 0:
        raise SeqgenError(
            f"the corpus has {int(offsets[-1])} tokens, fewer than one block of max_len={max_len}"
        )
    # Blocks cross batch boundaries, so each batch also reads the few rows after it (`lines` itself).
    fn = partial(_cut_blocks, lines=lines, offsets=offsets, block=max_len, n_blocks=n_blocks)
    return cached_map(
        lines.with_format("arrow"),
        fn,
        rows=len(lines),
        with_indices=True,
        batched=True,
        remove_columns=["input_ids"],
        features=Features({"input_ids": List(Value("int32"), length=max_len)}),
        new_fingerprint=key,
        desc="Cutting blocks",
    ).with_format(None)


def sentence_rows(texts: list[str], tokenizer: Any, max_len: int, drop: bool) -> dict[str, list]:
    """{"input_ids": the sentence-mode rows of `texts`} (truncated, or dropped past max_len when `drop`)."""
    bos, eos = tokenizer.bos_id, tokenizer.eos_id
    rows = []
    for ids in _encode_many(tokenizer, texts):
        row = [bos, *ids, eos]
        if len(row) > max_len:
            if drop:
                continue
            row = row[:max_len]
        rows.append(row)
    return {"input_ids": rows}


def _encode_lines(texts: list[str], tokenizer: Any) -> dict[str, list]:
    eos = tokenizer.eos_id
    return {"input_ids": [[*ids, eos] for ids in _encode_many(tokenizer, texts)]}


def _encode_many(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    batch_encode = getattr(tokenizer, "encode_batch", None)  # sentencepiece encodes a batch much faster
    return batch_encode(texts) if batch_encode is not None else [tokenizer.encode(t) for t in texts]


def _cut_blocks(
    batch: Any, indices: list[int], lines: Dataset, offsets: np.ndarray, block: int, n_blocks: int
) -> dict[str, np.ndarray]:
    """The blocks that start inside this batch's rows (`batch` is a pyarrow table of consecutive rows)."""
    lo, hi = indices[0], indices[-1] + 1
    start, end = int(offsets[lo]), int(offsets[hi])
    first = -(-start // block)
    last = min(-(-end // block), n_blocks)  # blocks [first, last) start in [start, end)
    if first >= last:
        return {"input_ids": np.zeros((0, block), dtype=np.int32)}
    parts = [batch.column("input_ids").combine_chunks().flatten().to_numpy()]
    stop = last * block
    if stop > end:  # the last block runs into the rows after this batch
        more = int(np.searchsorted(offsets, stop, side="left"))
        parts.append(
            lines.data.slice(hi, more - hi).column("input_ids").combine_chunks().flatten().to_numpy()
        )
    tokens = np.concatenate(parts)[first * block - start : stop - start]
    return {"input_ids": tokens.reshape(-1, block)}


def count_tokens(ds: Dataset) -> int:
    """Target tokens: the sum over rows of (row length - 1), i.e. every token after BOS that a model predicts
    (EOS included; rows hold no padding)."""
    return int(_row_lengths(ds).sum()) - len(ds)


# Warn when more than this fraction of a split's tokens are <unk>: each one is a word the model never has to
# predict, so a high rate flatters the NLL (training and evaluation both say so).
UNK_WARNING = 0.05


def unk_fraction(ds: Dataset, tokenizer: Any) -> float:
    """Fraction of the text's tokens that are <unk> (BOS, EOS and pad are not text): the out-of-vocabulary
    rate of an encoded split, 0.0 for an empty one. Read a record batch at a time with plain reads where it
    can be (arrow_files.py), so its memory is the same for any corpus size."""
    special = {tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id}
    top = max(special) + 1
    counts, tokens = np.zeros(top, dtype=np.int64), 0
    for chunk in column_chunks(ds, "input_ids"):
        flat = chunk.flatten().to_numpy(zero_copy_only=False)
        tokens += len(flat)
        counts += np.bincount(flat[flat < top], minlength=top)
    text = tokens - sum(int(counts[i]) for i in special - {tokenizer.unk_id})
    return int(counts[tokenizer.unk_id]) / text if text > 0 else 0.0


def collate(rows: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    """A (B, T) LongTensor of `rows` right-padded with `pad_id` to the longest row."""
    import torch

    width = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
    return out


def tokenizer_digest(tokenizer: Any) -> str:
    """A digest of what the tokenizer does: its saved files (plus special ids), stable across processes."""
    h = hashlib.sha256(repr((tokenizer.bos_id, tokenizer.eos_id)).encode())
    save = getattr(tokenizer, "save", None)
    if save is None:
        from datasets.fingerprint import Hasher

        h.update(Hasher.hash(tokenizer).encode())
        return h.hexdigest()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tokenizer"
        save(folder)
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


# --------------------------------------------------------------------------- helpers


def _row_lengths(ds: Dataset) -> np.ndarray:
    """The length of every "input_ids" row, read a record batch at a time (plain reads where it can be)."""
    import pyarrow.compute as pc

    parts = [pc.list_value_length(c).to_numpy(zero_copy_only=False) for c in column_chunks(ds, "input_ids")]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:32]
