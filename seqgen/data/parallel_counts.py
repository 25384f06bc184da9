"""Work over a whole corpus in parallel processes: how many there are (`data.num_proc`) and the symbol counts
a char or word vocabulary is ranked by.

Counting a One-Billion-Word-sized split in one Python loop is the slowest step before training (17 s per
million sentences here, most of it iterating rows one by one). `count_symbols` instead reads the Arrow table
in record batches — one pass, never the whole text as Python objects, and with plain reads of the table's
files, so none of it stays resident — in `num_proc` forked workers, each on one contiguous part of the rows,
and sums their counters. The sum does not depend on how the rows were divided, so the vocabulary is the same
for any number of processes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from seqgen.data.arrow_files import Span, batch_spans, read_span, split_spans

if TYPE_CHECKING:
    from datasets import Dataset

BATCH_ROWS = 10_000  # rows per Arrow record batch: big enough for speed, small enough to keep memory flat
# Below this many rows a worker process costs more than it saves (starting one takes ~0.1 s).
MIN_PARALLEL_ROWS = 200_000


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def worker_count(num_proc: int, rows: int) -> int:
    """Processes for work over `rows` rows: `num_proc` (0 = every available CPU), 1 for small work."""
    if rows < MIN_PARALLEL_ROWS:
        return 1
    return max(1, min(num_proc or available_cpus(), rows // BATCH_ROWS))


def text_batches(
    ds: Dataset, part: list[Span] | range | None = None, column: str = "text"
) -> Iterator[list[str]]:
    """The strings of `column` in `part` (record batches of `ds`'s files, a range of rows, or all), a batch
    at a time, in the rows' order. Record batches are read with plain reads, so a pass over a corpus leaves
    none of it resident (arrow_files.py); a range of rows is a view of the table, so no worker copies it."""
    if part is None:
        part = batch_spans(ds) or range(len(ds))
    if not isinstance(part, range):
        for span in part:
            chunk = read_span(span, column)
            for start in range(0, len(chunk), BATCH_ROWS):
                yield chunk.slice(start, BATCH_ROWS).to_pylist()
        return
    table = ds.data if ds._indices is None else ds.with_format("arrow")[:]
    rows = table.select([column]).slice(part.start, len(part))
    for batch in rows.to_batches(max_chunksize=BATCH_ROWS):
        yield batch.column(0).to_pylist()


def count_symbols(ds: Dataset, count: Callable[[Iterable[str]], Counter], num_proc: int = 0) -> Counter:
    """Sum of `count(lines)` over the "text" rows of `ds`, in `worker_count(num_proc, len(ds))` processes,
    each on a contiguous part of the rows (its files' record batches where it is exactly its files; forked,
    so `count` may be any callable)."""
    n = len(ds)
    workers = worker_count(num_proc, n)
    spans = batch_spans(ds)
    if workers == 1:
        return _count_part(ds, spans or range(n), count)
    if spans is not None and len(spans) >= workers:
        parts: list[Any] = split_spans(spans, workers)
    else:
        bounds = [n * i // workers for i in range(workers + 1)]
        parts = [range(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    global _FORKED  # fork: the workers inherit the imported modules and the dataset; nothing is pickled
    _FORKED = (ds, count, parts)
    try:
        with multiprocessing.get_context("fork").Pool(len(parts)) as pool:
            counters = pool.map(_count_forked, range(len(parts)))
    finally:
        _FORKED = None
    total: Counter = Counter()
    for c in counters:
        total.update(c)
    return total


_FORKED: tuple[Any, Callable, list[Any]] | None = None


def _count_forked(index: int) -> Counter:
    assert _FORKED is not None
    ds, count, parts = _FORKED
    return _count_part(ds, parts[index], count)


def _count_part(ds: Dataset, part: list[Span] | range, count: Callable[[Iterable[str]], Counter]) -> Counter:
    total: Counter = Counter()
    for lines in text_batches(ds, part):
        total.update(count(lines))
    return total


def lines_of(ds: Any) -> Iterator[str]:
    """Every text row of a Dataset (a batch at a time, far faster than iterating its column), or of any
    iterable of strings."""
    if hasattr(ds, "data") and hasattr(ds, "shard"):
        for lines in text_batches(ds):
            yield from lines
    else:
        yield from ds
