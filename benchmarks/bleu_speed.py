"""BLEU speed: seqgen's precomputed reference tables vs nltk, on the Texygen COCO protocol.

Usage: python benchmarks/bleu_speed.py [--data ../shared/data] [--nltk-samples 200] [--scheme treebank]
                                       [--no-table]

1. Tokenization of the 10,000 references (coco/test.txt) and 9,984 samples (texygen_samples/mle.txt), timed
   apart from BLEU; for treebank also nltk's own word_tokenize on the same lines (the outputs must be equal).
2. The full Texygen row with seqgen: BLEU-2..5 of every sample against all references and Self-BLEU-2..5 of
   every sample against all the others; seconds, peak traced Python memory (tracemalloc, in a second run so
   the timing is untraced) and the process's peak resident memory.
3. nltk on `--nltk-samples` evenly spaced samples: sentence_bleu against all references and against all the
   other samples, one call per sample with the four weight tuples (nltk's fastest use; Texygen called it once
   per order). Prints seconds, the extrapolation to the full row, the speed-up, and the largest difference
   between nltk's per-sentence scores and seqgen's.
4. The whole Texygen table (6 sample files) reproduced, beside the published figures, with its time.
"""

from __future__ import annotations

import argparse
import math
import resource
import time
import tracemalloc
from pathlib import Path

from nltk.tokenize import word_tokenize
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from seqgen.metrics.bleu import ReferenceTable, self_bleu_stats
from seqgen.metrics.published import TEXYGEN_COCO
from seqgen.metrics.text_tokenize import SCHEMES, read_lines, tokenize_lines

ORDERS = (2, 3, 4, 5)
PUBLISHED = TEXYGEN_COCO  # BLEU-2..5 then Self-BLEU-2..5 (COCO, against coco/test.txt)


def full_row(references: list[list[str]], samples: list[list[str]]) -> dict:
    """Everything one Texygen row needs, with its timings."""
    t0 = time.perf_counter()
    stats = ReferenceTable(references, max(ORDERS)).stats(samples)
    t1 = time.perf_counter()
    self_stats = self_bleu_stats(samples, max(ORDERS))
    t2 = time.perf_counter()
    scores = {n: stats.sentence_scores(n) for n in ORDERS}
    self_scores = {n: self_stats.sentence_scores(n) for n in ORDERS}
    means = [math.fsum(scores[n]) / len(samples) for n in ORDERS]
    means += [math.fsum(self_scores[n]) / len(samples) for n in ORDERS]
    t3 = time.perf_counter()
    return {
        "bleu_stats_s": t1 - t0,
        "self_stats_s": t2 - t1,
        "scoring_s": t3 - t2,
        "total_s": t3 - t0,
        "scores": scores,
        "self_scores": self_scores,
        "means": means,
    }


def fmt(values: list[float] | tuple[float, ...]) -> str:
    return " | ".join(f"{v:.4f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--nltk-samples", type=int, default=200)
    parser.add_argument("--scheme", choices=SCHEMES, default="treebank")
    parser.add_argument("--no-table", action="store_true", help="skip the whole 6-file table")
    args = parser.parse_args()
    data: Path = args.data

    ref_lines = read_lines(data / "coco" / "test.txt")
    sample_lines = read_lines(data / "texygen_samples" / "mle.txt")
    print(
        f"references: {len(ref_lines)} lines of coco/test.txt; samples: {len(sample_lines)} lines of mle.txt"
    )
    print(f"tokenization: {args.scheme}\n")

    # 1. tokenization, apart from BLEU
    t = time.perf_counter()
    references = tokenize_lines(ref_lines, args.scheme)
    samples = tokenize_lines(sample_lines, args.scheme)
    tok_s = time.perf_counter() - t
    print(f"[tokenize] seqgen {args.scheme}: {tok_s:.2f} s for {len(ref_lines) + len(sample_lines)} lines")
    if args.scheme == "treebank":
        t = time.perf_counter()
        slow = [word_tokenize(line, preserve_line=True) for line in ref_lines + sample_lines]
        print(
            f"[tokenize] nltk word_tokenize(preserve_line=True): {time.perf_counter() - t:.2f} s, "
            f"identical tokens: {slow == references + samples}"
        )

    # 2. the full row with seqgen
    row = full_row(references, samples)
    tracemalloc.start()
    full_row(references, samples)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"\n[seqgen] full row ({len(samples)} samples vs {len(references)} references, BLEU-2..5 and "
        f"Self-BLEU-2..5 leave-one-out over {len(samples)}):"
    )
    print(
        f"  reference table + BLEU statistics {row['bleu_stats_s']:.2f} s, Self-BLEU table + statistics "
        f"{row['self_stats_s']:.2f} s, scores and means {row['scoring_s']:.2f} s"
    )
    print(
        f"  total {row['total_s']:.2f} s (+ {tok_s:.2f} s tokenization); peak traced Python memory "
        f"{traced_peak / 2**20:.0f} MiB; process peak RSS {rss:.0f} MiB"
    )
    print(f"  BLEU-2..5      {fmt(row['means'][:4])}")
    print(f"  Self-BLEU-2..5 {fmt(row['means'][4:])}")

    # 3. nltk on a subset, same run
    k = min(args.nltk_samples, len(samples))
    picks = [i * len(samples) // k for i in range(k)]
    smooth = SmoothingFunction().method1
    weights = [(1.0 / n,) * n for n in ORDERS]
    worst = 0.0
    t = time.perf_counter()
    for i in picks:
        got = sentence_bleu(references, samples[i], weights, smoothing_function=smooth)
        worst = max(worst, *(abs(g - row["scores"][n][i]) for g, n in zip(got, ORDERS, strict=True)))
    nltk_bleu_s = time.perf_counter() - t
    t = time.perf_counter()
    for i in picks:
        others = samples[:i] + samples[i + 1 :]
        got = sentence_bleu(others, samples[i], weights, smoothing_function=smooth)
        worst = max(worst, *(abs(g - row["self_scores"][n][i]) for g, n in zip(got, ORDERS, strict=True)))
    nltk_self_s = time.perf_counter() - t
    scale = len(samples) / k
    nltk_full = (nltk_bleu_s + nltk_self_s) * scale
    print(
        f"\n[nltk] {k} evenly spaced samples: BLEU-2..5 {nltk_bleu_s:.1f} s, "
        f"Self-BLEU-2..5 {nltk_self_s:.1f} s"
    )
    print(
        f"  extrapolated to the full row: {nltk_full:.0f} s ({nltk_full / 3600:.2f} h); "
        f"speed-up {nltk_full / row['total_s']:.0f}x over seqgen's BLEU time, "
        f"{nltk_full / (row['total_s'] + tok_s):.0f}x over its BLEU + tokenization time"
    )
    print(f"  largest |nltk - seqgen| over the {8 * k} per-sentence scores: {worst:.3g}")

    # 4. the whole published table
    if args.no_table:
        return
    t = time.perf_counter()
    table = ReferenceTable(tokenize_lines(ref_lines, args.scheme), max(ORDERS))
    rows = {}
    for name in PUBLISHED:
        s = tokenize_lines(read_lines(data / "texygen_samples" / f"{name}.txt"), args.scheme)
        stats, self_stats = table.stats(s), self_bleu_stats(s, max(ORDERS))
        rows[name] = [stats.mean(n) for n in ORDERS] + [self_stats.mean(n) for n in ORDERS]
    table_s = time.perf_counter() - t
    print(
        f"\n[table] Texygen COCO table, {args.scheme} tokenization, nltk sentence_bleu + method1, mean over "
        f"samples (tokenization + BLEU + Self-BLEU for 6 files: {table_s:.1f} s)"
    )
    header = ["samples"] + [f"BLEU-{n}" for n in ORDERS] + [f"Self-BLEU-{n}" for n in ORDERS]
    print("| " + " | ".join(header) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {fmt(values)} |")
        print(f"| (published) | {' | '.join(f'{v:.3f}' for v in PUBLISHED[name])} |")
    deviation = max(abs(v - p) for name in rows for v, p in zip(rows[name], PUBLISHED[name], strict=True))
    print(f"largest |seqgen - published|: {deviation:.4f}")


if __name__ == "__main__":
    main()
