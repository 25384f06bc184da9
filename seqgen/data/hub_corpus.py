"""Corpora from the Hugging Face hub (``data.train=hf:NAME[:CONFIG]``): whole, or streamed.

``hf:NAME:CONFIG`` loads config CONFIG through `datasets.load_dataset`. With ``data.hf_revision`` the dataset
is read at that git revision; the hub's parquet conversion (``refs/convert/parquet``, where script datasets
such as ``billion-word-benchmark/lm1b`` live on, since datasets >= 4 refuses their scripts) holds one folder
per config and no loading metadata, so there CONFIG is read as that folder (``data_dir=CONFIG``) and its
``train/``, ``test/``, ... sub-folders are the splits. A local folder in the same layout loads alike
(``hf:/path/to/folder:CONFIG``).

With ``data.streaming=true`` the splits are `datasets.IterableDataset`s: rows are read as training asks for
them and the corpus is never downloaded whole. Validation and test, which evaluation reads in full, are read
once into Arrow tables in the datasets cache (keyed by name, revision, config and split).
"""

from __future__ import annotations

import hashlib
from itertools import islice
from typing import Any

from seqgen.errors import SeqgenError, one_line

PARQUET_REVISION = "refs/convert/parquet"


def hub_splits(
    source: str, text_column: str, keep_blank: bool, *, revision: str = "", streaming: bool = False
) -> dict[str, Any]:
    """Every split of a hub dataset, reduced to a clean "text" column (Datasets, or IterableDatasets when
    `streaming`)."""
    import datasets

    spec = source[len("hf:") :]
    name, _, config = spec.partition(":")
    if not name or ":" in config:
        raise SeqgenError(f"expected hf:NAME or hf:NAME:CONFIG, got {source!r}")
    where: dict[str, Any] = {"revision": revision or None, "streaming": streaming}
    if revision == PARQUET_REVISION and config:
        where["data_dir"] = config  # the parquet conversion: one folder per config, no config metadata
        config = ""
    try:
        loaded = datasets.load_dataset(name, config or None, **where)
    except Exception as e:  # offline, unknown name, bad config: all mean "this source cannot be read"
        at = f" at revision {revision}" if revision else ""
        raise SeqgenError(
            f"cannot load hub dataset '{spec}'{at} ({one_line(e)}); "
            "hub datasets need a network connection or a copy in the datasets cache"
        ) from None
    out = {split: _clean(ds, spec, split, text_column, keep_blank, streaming) for split, ds in loaded.items()}
    if "train" not in out:
        raise SeqgenError(f"hub dataset '{spec}' has no train split (splits: {', '.join(out)})")
    return out


def _clean(ds: Any, spec: str, split: str, text_column: str, keep_blank: bool, streaming: bool) -> Any:
    features = ds.features or {}
    feature = features.get(text_column)
    if getattr(feature, "dtype", None) not in ("string", "large_string"):
        raise SeqgenError(
            f"hub dataset '{spec}' has no text column '{text_column}' "
            f"(columns: {', '.join(features) or 'unknown'}); set data.text_column"
        )
    ds = ds.select_columns([text_column])
    if text_column != "text":
        ds = ds.rename_column(text_column, "text")
    described = {} if streaming else {"desc": "Cleaning text"}
    ds = ds.map(_strip_newlines, batched=True, **described)
    if not keep_blank:
        ds = ds.filter(_not_blank, batched=True, **({} if streaming else {"desc": "Skipping blank rows"}))
    if not streaming and len(ds) == 0:
        raise SeqgenError(f"empty corpus (no non-blank rows): hf:{spec} split {split}")
    return ds


def read_stream(stream: Any, key: tuple, rows: int | None = None) -> Any:
    """The first `rows` rows (all when None) of a streamed split as a Dataset in the datasets cache, under a
    fingerprint made of `key` (what identifies the rows: source, revision, split, how many)."""
    from datasets import Dataset, Features, Value

    def generate(count: int | None) -> Any:
        yield from ({"text": row["text"]} for row in islice(stream, count))

    fingerprint = hashlib.sha256(repr(("stream", key, rows)).encode()).hexdigest()[:32]
    ds = Dataset.from_generator(
        generate,
        features=Features({"text": Value("string")}),
        gen_kwargs={"count": rows},
        fingerprint=fingerprint,
    )
    if len(ds) == 0:
        raise SeqgenError(f"empty corpus (no non-blank rows): {key[0]} split {key[2]}")
    return ds


def _strip_newlines(batch: dict[str, list]) -> dict[str, list]:
    return {"text": [(t or "").rstrip("\r\n") for t in batch["text"]]}


def _not_blank(batch: dict[str, list]) -> list[bool]:
    return [bool(t.strip()) for t in batch["text"]]
