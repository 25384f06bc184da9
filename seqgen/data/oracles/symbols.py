"""The symbol codec shared by the oracles: symbol k <-> token id 4 + k, rows of symbols <-> text lines.

An oracle's sequences are tensors of symbol indices 0..V-1; as text, symbol k is a word such as "s<k>" (the
enumerable oracle) or "w<k>" (the SeqGAN oracle), and the oracle's fixed word tokenizer gives it token id
`FIRST_SYMBOL_ID + k`, right after the four special tokens. Exact evaluation relies on that fixed layout: a
model's logits at ids 4 .. 4 + V - 1 are its distribution over the oracle's symbols.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from seqgen.errors import SeqgenError
from seqgen.tokenization import SPECIAL_TOKENS, WordTokenizer

FIRST_SYMBOL_ID = len(SPECIAL_TOKENS)  # token id of symbol 0; symbol k is token FIRST_SYMBOL_ID + k


def symbol_tokenizer(symbols: Sequence[str]) -> WordTokenizer:
    """A word tokenizer: the special tokens, then `symbols` in order (symbol k has token id 4 + k)."""
    return WordTokenizer([*SPECIAL_TOKENS, *symbols])


def symbols_to_texts(symbols: Sequence[str], sequences: torch.Tensor | np.ndarray) -> list[str]:
    """Each row of symbol indices as one line of space-separated symbols."""
    table = np.asarray(symbols, dtype=object)
    rows = np.asarray(torch.as_tensor(sequences).cpu(), dtype=np.int64)
    if rows.ndim != 2:
        raise SeqgenError(f"expected a 2-d array of symbol indices, got shape {tuple(rows.shape)}")
    if rows.size and (rows.min() < 0 or rows.max() >= len(table)):
        raise SeqgenError(f"symbol indices must be in [0, {len(table)})")
    return [" ".join(table[row]) for row in rows]


def texts_to_symbols(
    prefix: str, num_symbols: int, length: int, texts: Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(symbol indices (m, length) of the valid lines, valid mask (n,)) for lines of words "<prefix><k>".

    A line is valid when it has exactly `length` words, each a symbol of the oracle; anything else (a model's
    early EOS, an `<unk>`, a number out of range) makes it invalid rather than an error.
    """
    word = re.compile(re.escape(prefix) + r"(0|[1-9][0-9]*)")
    rows, valid = [], []
    for line in texts:
        words = line.split()
        ok = len(words) == length
        row: list[int] = []
        for w in words if ok else ():
            m = word.fullmatch(w)
            if m is None or int(m.group(1)) >= num_symbols:
                ok = False
                break
            row.append(int(m.group(1)))
        valid.append(ok)
        if ok:
            rows.append(row)
    seqs = torch.tensor(rows, dtype=torch.long).reshape(len(rows), length)
    return seqs, torch.tensor(valid, dtype=torch.bool)


def index_to_sequences(index: torch.Tensor, vocab: int, length: int) -> torch.Tensor:
    """Rows of symbol indices for lexicographic indices (index = sum_t x_t V^(L-t)), (n, length) long."""
    powers = vocab ** torch.arange(length - 1, -1, -1)
    return torch.as_tensor(index, dtype=torch.long)[:, None] // powers % vocab


def draw_splits(
    oracle: Any, sizes: tuple[int, int, int], seed: int
) -> tuple[list[str], list[str], list[str]]:
    """(train, valid, test) lines of `sizes` i.i.d. draws from an oracle (anything with `sample(n,
    generator)` and `texts(rows)`), each split with its own seed derived from `seed` (so changing one size
    never changes the other splits)."""
    if min(*sizes, seed) < 0:
        raise SeqgenError(f"oracle splits: sizes and seed must be >= 0, got sizes {sizes} and seed {seed}")
    seeds = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint64)
    train, valid, test = (
        oracle.texts(oracle.sample(n, torch.Generator().manual_seed(int(s))))
        for n, s in zip(sizes, seeds, strict=True)
    )
    return train, valid, test
