"""A One-Billion-Word-shaped corpus, written in the official layout, for tests and the pipeline benchmark.

Usage: python benchmarks/obw_corpus.py ROOT --sentences N [--language zipf|caption] [--seed 0]

The real corpus (Chelba et al. 2013, 4 GB, 30,301,028 training sentences) is not on this machine; what its
data path costs depends on the number of sentences, their length and the size of the vocabulary, so this
writes a corpus with the same layout and similar statistics:

    ROOT/training-monolingual.tokenized.shuffled/news.en-000NN-of-00100   NN = 01..99 (99 shards, as released:
                                                                           shard 00000 became the heldout set)
    ROOT/heldout-monolingual.tokenized.shuffled/news.en.heldout-000NN-of-00050   NN = 00..49

one sentence a line, space-separated tokens. N sentences go to training, N x 306,688 / 30,301,028 (the real
heldout / training ratio) to the heldout shards, split evenly.

Languages (both seeded, so the same arguments write the same bytes):
- ``zipf`` (default): words drawn from a Zipf law (exponent 1.1) over 400,000 pseudo-words ("ba", "da", ...,
  "baba", ...), sentence lengths log-normal with mean ~25 words, as in 1BW (25.4 tokens a sentence). The
  vocabulary grows with N as a real corpus' does, which is what word-level counting and memory depend on.
- ``caption``: seqgen's embedded caption language (a few hundred words, 5-20 a sentence): reads like text.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

TRAIN_DIR = "training-monolingual.tokenized.shuffled"
HELDOUT_DIR = "heldout-monolingual.tokenized.shuffled"
TRAIN_SHARDS = range(1, 100)
HELDOUT_SHARDS = range(50)
REAL_TRAIN, REAL_HELDOUT = 30_301_028, 306_688
ZIPF_WORDS, ZIPF_EXPONENT = 400_000, 1.1
CHUNK = 50_000  # sentences drawn at a time: bounds the generator's memory whatever N is


def pseudo_words(n: int) -> np.ndarray:
    """The n pseudo-words in rank order, 1, 2, 3... syllables ("ba", "da", ..., "baba", ...): frequent words
    are short, as in English, and a sentence has about as many bytes as a 1BW one (~130)."""
    letters = np.array([c + v for v in "aeiou" for c in "bdfgklmnprstvz"][:26])  # 26 distinct syllables
    out, length = [], 1
    while sum(len(x) for x in out) < n:
        k = min(26**length, n - sum(len(x) for x in out))
        idx = np.arange(k)
        cols = [letters[(idx // 26**p) % 26] for p in reversed(range(length))]
        out.append(np.array(["".join(t) for t in zip(*cols, strict=True)], dtype=object))
        length += 1
    return np.concatenate(out)


class ZipfLanguage:
    def __init__(self, seed: int) -> None:
        self.words = pseudo_words(ZIPF_WORDS)
        p = 1.0 / np.arange(1, ZIPF_WORDS + 1) ** ZIPF_EXPONENT
        self.cdf = np.cumsum(p / p.sum())
        self.rng = np.random.default_rng(seed)

    def sentences(self, n: int) -> list[str]:
        lengths = np.clip(np.round(self.rng.lognormal(3.1, 0.5, size=n)), 1, 150).astype(np.int64)
        ids = np.searchsorted(self.cdf, self.rng.random(int(lengths.sum())), side="right")
        ids = np.minimum(ids, ZIPF_WORDS - 1)
        words = self.words[ids]
        ends = np.cumsum(lengths)
        return [" ".join(words[e - k : e]) for e, k in zip(ends.tolist(), lengths.tolist(), strict=True)]


class CaptionSource:
    def __init__(self, seed: int) -> None:
        from seqgen.data.caption_language import caption_language

        self.lang, self.seed = caption_language(), seed

    def sentences(self, n: int) -> list[str]:
        self.seed += 1
        return self.lang.sample(n, self.seed)


def _write_shards(folder: Path, names: list[str], total: int, source: ZipfLanguage | CaptionSource) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, total, len(names) + 1).round().astype(np.int64)
    for name, lo, hi in zip(names, bounds[:-1], bounds[1:], strict=True):
        with open(folder / name, "w", encoding="utf-8") as f:
            left = int(hi - lo)
            while left > 0:
                take = min(CHUNK, left)
                f.write("\n".join(source.sentences(take)) + "\n")
                left -= take


def write_obw_corpus(root: str | Path, sentences: int, *, language: str = "zipf", seed: int = 0) -> Path:
    """Write the layout above under `root` (returned); `sentences` training sentences."""
    if sentences < len(TRAIN_SHARDS):
        raise ValueError(
            f"need at least {len(TRAIN_SHARDS)} sentences (one a training shard), got {sentences}"
        )
    root = Path(root)
    source = ZipfLanguage(seed) if language == "zipf" else CaptionSource(seed)
    heldout = max(len(HELDOUT_SHARDS), round(sentences * REAL_HELDOUT / REAL_TRAIN))
    _write_shards(root / TRAIN_DIR, [f"news.en-{k:05d}-of-00100" for k in TRAIN_SHARDS], sentences, source)
    _write_shards(
        root / HELDOUT_DIR, [f"news.en.heldout-{k:05d}-of-00050" for k in HELDOUT_SHARDS], heldout, source
    )
    return root


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="folder to write (the corpus root)")
    ap.add_argument("--sentences", type=int, required=True, help="training sentences")
    ap.add_argument("--language", choices=("zipf", "caption"), default="zipf")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    write_obw_corpus(args.root, args.sentences, language=args.language, seed=args.seed)
    size = sum(p.stat().st_size for p in args.root.rglob("news.en*"))
    print(f"wrote {args.root}: {args.sentences:,} training sentences, {size / 1e6:.0f} MB, "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
