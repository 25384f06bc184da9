"""Plain reads of a dataset's Arrow cache files, so work over a whole corpus keeps a flat memory footprint.

datasets memory-maps its tables. Every page of a mapped file that a process reads stays in that process's
resident memory until the mapping is closed, so one pass over a One-Billion-Word table (its text is 4 GB,
its token ids 3.3 GB) leaves gigabytes resident in each process that made it: the pages are reclaimable
page cache, but they count in every process's RSS and PSS and push out other work's cache. A pass that
reads the files with plain reads instead (`pa.OSFile`: each record batch is copied into a buffer that is
freed once used) holds one batch at a time, whatever the corpus size.

A table file is an Arrow IPC stream: a schema, then one message per record batch. `batch_spans` finds where
each message starts, so a worker can read exactly its share of the batches (`read_span`) without reading
the others'.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqgen.atomic import atomic_write_text

if TYPE_CHECKING:
    import pyarrow as pa
    from datasets import Dataset

log = logging.getLogger(__name__)

# Tables of at least this many bytes keep their record batch index beside them (smaller ones are scanned).
INDEX_MIN_BYTES = 20_000_000
# Rows per chunk when a table has to be read through its memory map (indices, transforms, in memory).
SLICE_ROWS = 50_000


@dataclass(frozen=True)
class Span:
    """One record batch of a table file: the byte offset of its message and its number of rows."""

    path: str
    offset: int
    rows: int


def plain_cache_files(ds: Dataset) -> list[str] | None:
    """The Arrow files whose rows, in order, are exactly `ds`'s, or None (indices, transforms, in memory)."""
    from datasets.table import ConcatenationTable, MemoryMappedTable

    if ds._indices is not None:
        return None
    t = ds.data
    if isinstance(t, MemoryMappedTable):
        tables = [t]
    elif isinstance(t, ConcatenationTable) and all(len(row) == 1 for row in t.blocks):
        tables = [row[0] for row in t.blocks]
    else:
        return None
    # Replayed operations change what the file's rows are, except new schema metadata (the features).
    harmless = {"replace_schema_metadata"}
    if not all(isinstance(x, MemoryMappedTable) and {op for op, *_ in x.replays} <= harmless for x in tables):
        return None
    return [x.path for x in tables]


def batch_spans(ds: Dataset) -> list[Span] | None:
    """Every record batch of `ds`'s files, in row order, or None when `ds` is not exactly its files.

    Finding them reads the files once (~0.1 s per GB from the page cache, seconds from a disk), so for big
    files the spans are kept in a small JSON file beside them, keyed by the files' paths, sizes and times:
    a second run on a 1BW-sized corpus does not read 4 GB of text again before its first step."""
    files = plain_cache_files(ds)
    if files is None:
        return None
    stamps = [(p, st.st_size, st.st_mtime_ns) for p, st in ((p, os.stat(p)) for p in files)]
    index = Path(files[0]).parent / f"spans-{_digest(stamps)}.json"
    spans = _read_index(index)
    if spans is None:
        spans = [span for path in files for span in _file_spans(path)]
        if sum(size for _, size, _ in stamps) >= INDEX_MIN_BYTES:
            _write_index(index, spans)
    if sum(s.rows for s in spans) != len(ds):  # never trust a layout that does not add up
        return None
    return spans


def _read_index(path: Path) -> list[Span] | None:
    try:
        return [Span(*entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError):  # none yet, or damaged: find the spans again
        return None


def _write_index(path: Path, spans: list[Span]) -> None:
    try:
        atomic_write_text(path, json.dumps([[s.path, s.offset, s.rows] for s in spans]))
    except OSError as e:  # a read-only cache still works, it only finds the spans again next time
        log.debug("cannot keep the record batch index %s: %s", path, e)


def _digest(stamps: list[tuple[str, int, int]]) -> str:
    return hashlib.sha256(repr(stamps).encode("utf-8")).hexdigest()[:32]


def _file_spans(path: str) -> list[Span]:
    import pyarrow as pa

    out = []
    with pa.OSFile(path) as f:
        reader = pa.ipc.open_stream(f)
        offset = f.tell()
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            out.append(Span(path, offset, batch.num_rows))
            offset = f.tell()
    return out


def read_span(span: Span, column: str) -> pa.Array:
    """Column `column` of the record batch at `span`, read with plain reads."""
    import pyarrow as pa

    schema = _schema(span.path)
    with pa.OSFile(span.path) as f:
        f.seek(span.offset)
        batch = pa.ipc.read_record_batch(pa.ipc.read_message(f), schema)
    return batch.column(schema.get_field_index(column))


@functools.lru_cache(maxsize=256)
def _schema(path: str) -> pa.Schema:
    import pyarrow as pa

    with pa.OSFile(path) as f:
        return pa.ipc.open_stream(f).schema


def split_spans(spans: list[Span], parts: int) -> list[list[Span]]:
    """`spans` cut into at most `parts` contiguous groups of about equal rows (none empty)."""
    total = sum(s.rows for s in spans)
    groups: list[list[Span]] = [[] for _ in range(max(1, parts))]
    seen = 0
    for s in spans:
        groups[min(len(groups) - 1, seen * len(groups) // max(total, 1))].append(s)
        seen += s.rows
    return [g for g in groups if g]


def column_chunks(ds: Dataset, column: str) -> Iterator[Any]:
    """Column `column` of `ds`, a record batch at a time: with plain reads when `ds` is exactly its cache
    files, otherwise slices of `SLICE_ROWS` rows of its (memory-mapped or in-memory) table."""
    spans = batch_spans(ds)
    if spans is not None:
        for span in spans:
            yield read_span(span, column)
        return
    table = ds.data if ds._indices is None else ds.with_format("arrow")[:]
    for chunk in table.column(column).chunks:
        for start in range(0, len(chunk), SLICE_ROWS):
            yield chunk.slice(start, SLICE_ROWS)
