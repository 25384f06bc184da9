"""`Dataset.map` over a corpus's text, cached in the datasets cache under our own key, with a flat memory
footprint on a corpus of any size.

A plain `ds.map(fn, num_proc=k)` hands each worker a memory-mapped shard of the text table; every page the
worker reads stays resident in it until the map ends, so encoding a 1BW-sized split holds all of its text
in memory (see arrow_files.py). When `ds` is exactly its cache files, the map here runs instead over a
small table of jobs, one row per record batch of the text (file, offset, rows): each call reads its record
batches with plain reads and returns their rows, in order. The result is the same table, row for row, in
the same cache file as before. Other datasets (in memory, selected by indices) take the plain map.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from seqgen.data.arrow_files import Span, batch_spans, read_span
from seqgen.data.progress import MIN_ROWS, datasets_progress

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)

# Rows one call encodes (and so rows per record batch of the result): large record batches keep the pages a
# memory-mapped read of the table touches few (each batch's header faults in up to 64 KB around it), small
# enough that one call's Python lists stay a few tens of MB.
CALL_ROWS = 20_000
PIECE_ROWS = 1_000  # rows `fn` is given at a time


def map_texts(
    ds: Dataset, fn: Callable[[list[str]], dict[str, list]], *, key: str, desc: str, features: Any,
    num_proc: int | None,
) -> Dataset:  # fmt: skip
    """`fn` (a batch of "text" strings -> a dict of output columns, any number of rows) over all of `ds`,
    in order, cached under fingerprint `key` beside `ds`'s files; `num_proc` > 1 runs it in workers."""
    spans = batch_spans(ds)
    if not spans:  # in memory, selected by indices (or no rows at all)
        return cached_map(
            ds, partial(_on_batch, fn=fn), rows=len(ds), batched=True, remove_columns=ds.column_names,
            features=features, new_fingerprint=key, desc=desc, num_proc=num_proc,
        )  # fmt: skip
    from datasets import Dataset

    columns = {"path": [s.path for s in spans], "offset": [s.offset for s in spans]}
    jobs = Dataset.from_dict({**columns, "rows": [s.rows for s in spans]})
    widest = max(s.rows for s in spans)
    per_call = max(1, CALL_ROWS // widest)
    workers = min(num_proc or 1, len(jobs))
    return cached_map(
        jobs,
        partial(_on_spans, fn=fn, schema=features.arrow_schema),
        rows=len(ds),
        cache_file=ds._get_cache_file_path(key),
        batched=True,
        batch_size=per_call,
        writer_batch_size=per_call * widest,  # one record batch per call
        remove_columns=jobs.column_names,
        features=features,
        new_fingerprint=key,
        desc=desc,
        num_proc=workers if workers > 1 else None,
    )


def _on_batch(batch: dict[str, list], fn: Callable[[list[str]], dict[str, list]]) -> dict[str, list]:
    return fn(batch["text"])


def _on_spans(batch: dict[str, list], fn: Callable, schema: Any) -> Any:
    """`fn` over the text of the record batches this call's jobs name, read with plain reads, as Arrow
    table of `schema`. Each piece of `PIECE_ROWS` rows becomes Arrow at once, so a call never holds more
    than one piece as Python objects (holding a whole call's rows made encoding a quarter slower)."""
    import pyarrow as pa

    pieces: dict[str, list] = {name: [] for name in schema.names}
    for path, offset, rows in zip(batch["path"], batch["offset"], batch["rows"], strict=True):
        texts = read_span(Span(path, offset, rows), "text")
        for start in range(0, len(texts), PIECE_ROWS):
            out = fn(texts.slice(start, PIECE_ROWS).to_pylist())
            for name in schema.names:
                pieces[name].append(pa.array(out[name], type=schema.field(name).type))
    columns = [
        pa.concat_arrays(a) if a else pa.array([], type=schema.field(n).type) for n, a in pieces.items()
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def cached_map(
    ds: Dataset, fn: Callable, *, rows: int, cache_file: str | None = None, **kwargs: Any
) -> Dataset:
    """`ds.map` that survives a bad cache: a corrupt cached result is recomputed (and overwritten), and when
    the cache cannot be written at all the result is kept in memory. Each fallback is logged. `rows` is the
    size of the work (the text rows), for the log line and the progress bar; `cache_file` is where the
    result is cached when it is not beside `ds`'s own files."""
    if cache_file is not None:
        kwargs["cache_file_name"] = cache_file
    attempts: list[dict[str, Any]] = [{"load_from_cache_file": False}, {"keep_in_memory": True}]
    workers = kwargs.get("num_proc") or 1
    level = logging.INFO if rows >= MIN_ROWS else logging.DEBUG  # small work stays quiet (SEQGEN_DEBUG=1)
    if _in_cache(ds, kwargs["new_fingerprint"], workers, cache_file):
        log.log(level, "%s: read from the datasets cache", kwargs["desc"].lower())
    else:  # the line a multi-process launch checks: only its main process should ever print it
        es = "es" * (workers > 1)
        log.log(level, "%s: %d rows in %d process%s", kwargs["desc"].lower(), rows, workers, es)
    while True:
        try:
            with datasets_progress(rows >= MIN_ROWS):
                return ds.map(fn, **kwargs)
        except (OSError, ValueError) as e:
            if not attempts:
                raise
            extra = attempts.pop(0)
            kwargs.update(extra)
            if "keep_in_memory" in extra:
                kwargs.pop("cache_file_name", None)  # datasets takes one or the other
            log.warning(
                "datasets cache problem (%s: %s); retrying the map with %s", type(e).__name__, e, extra
            )


def _in_cache(ds: Dataset, fingerprint: str, workers: int, cache_file: str | None) -> bool:
    """Whether `ds.map(..., new_fingerprint=fingerprint, num_proc=workers)` will read a cached result."""
    if cache_file is None:
        if not ds.cache_files:  # an in-memory table: datasets does not cache its maps
            return False
        cache_file = ds._get_cache_file_path(fingerprint)
    if workers > 1:  # datasets' default suffix_template of the shards of a multi-process map
        base, ext = os.path.splitext(cache_file)
        cache_file = f"{base}_{0:05d}_of_{workers:05d}{ext}"
    return os.path.exists(cache_file)
