"""Corpora as `datasets.Dataset`s of sentences (one column "text"), and the rules that pick train/valid/test.

Sources that `load_corpus` reads:

- a text file: one sentence a line;
- a folder: the ``*.txt`` files directly inside it, in name order. Sub-folders are not read, so a ``valid/``
  or ``test/`` folder kept beside the training files never leaks into training;
- a One-Billion-Word root (the folder holding ``training-monolingual.tokenized.shuffled/``): the training
  shards ``news.en-NNNNN-of-00100`` in name order;
- ``hf:NAME`` or ``hf:NAME:CONFIG``: a Hugging Face hub dataset through `datasets.load_dataset` (its "train"
  split; each row of `text_column` is one sentence). This needs the network, or a copy in the datasets cache.

Lines lose their trailing newline (LF or CRLF) and a leading UTF-8 byte-order mark; blank lines are skipped,
except with ``keep_blank=True`` (stream mode), where they are paragraph breaks of a book. Text files are read
strictly as UTF-8. Files become Arrow tables in the datasets cache (memory-mapped, not Python lists), keyed by
each file's path, size and modification time, so a second load is instant and an edited file is re-read.

Split rules (`resolve_splits`); a valid/test corpus given explicitly (data.valid / data.test, read with
`load_corpus`) always wins over these:

- ``caption``: the embedded caption language; train = ``data.caption_sentences`` sentences, valid and test =
  ``data.holdout`` fresh sentences each, all drawn with ``data.caption_seed``.
- One-Billion-Word root: train = the training shards; valid = heldout shard
  ``news.en.heldout-00001-of-00050``, test = heldout shard ``news.en.heldout-00000-of-00050`` (the shard
  language-modelling papers report on) from ``heldout-monolingual.tokenized.shuffled/``.
- ``hf:NAME``: the dataset's own "validation" and "test" splits when it has them; a missing one is held out
  from its train split as for a plain corpus.
- a file or folder: ``k = min(data.holdout, 5% of the lines)`` lines are held out for each missing split and
  removed from train. They are chosen by a permutation with the fixed seed 0 (not train.seed, so changing the
  training seed never moves the split): test = the first k positions of the permutation, valid = the next k,
  so the test set stays the same when a valid file is added later. Held-out and training lines keep their
  file order. When k is 0 (fewer than 20 lines, or data.holdout=0) that split is None.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqgen.data.hub_corpus import hub_splits, read_stream
from seqgen.data.parallel_counts import available_cpus
from seqgen.data.progress import MIN_BYTES, datasets_progress
from seqgen.errors import SeqgenError, one_line

if TYPE_CHECKING:
    from datasets import Dataset

    from seqgen.data.config import DataConfig

log = logging.getLogger(__name__)

OBW_TRAIN_DIR = "training-monolingual.tokenized.shuffled"
OBW_HELDOUT_DIR = "heldout-monolingual.tokenized.shuffled"
OBW_TRAIN_GLOB = "news.en-*-of-00100"
OBW_VALID = "news.en.heldout-00001-of-00050"
OBW_TEST = "news.en.heldout-00000-of-00050"
HOLDOUT_SEED = 0
HOLDOUT_MAX_DIVISOR = 20  # at most 5% of the lines per held-out split
# Part of every cache key: bump it when the reading rules above change, so old cached corpora are not reused.
# (2: record batches of WRITER_ROWS rows, was datasets' 1,000.)
_READER_VERSION = 2
# Rows per record batch of a corpus table. Each batch's header, read whenever the table is opened, faults in
# up to 64 KB of the memory-mapped file around it: with 1,000-row batches that was half of 1BW's text
# resident in every process that opened it; with 20,000 it is 2-3%.
WRITER_ROWS = 20_000


@dataclass
class Splits:
    """Train/valid/test corpora, and `rule`: one line saying how they were chosen (kept in run metadata)."""

    train: Dataset
    valid: Dataset | None
    test: Dataset | None
    rule: str


# --------------------------------------------------------------------------- loading


def load_corpus(
    source: str | os.PathLike, *, text_column: str = "text", keep_blank: bool = False, num_proc: int = 1
) -> Dataset:
    """One sentence a row in column "text", from a file, a folder, a One-Billion-Word root or ``hf:NAME``.

    Blank lines are skipped unless `keep_blank` (see the module docstring for every source's rules).
    `text_column` names the text column of a hub dataset. `num_proc` processes (0 = every CPU) read a corpus
    of several large files, a group of files each, into the same rows in the same order. Raises SeqgenError
    for a missing path, a folder without .txt files, an empty corpus, non-UTF-8 bytes (naming file, line and
    byte offset) or a hub dataset that cannot be loaded.
    """
    source = os.fspath(source)
    if source.startswith("hf:"):
        return hub_splits(source, text_column, keep_blank)["train"]
    path = Path(source).expanduser()
    return _load_files(_corpus_files(path), keep_blank=keep_blank, source=str(path), num_proc=num_proc)


def is_obw_root(path: str | Path) -> bool:
    return (Path(path) / OBW_TRAIN_DIR).is_dir()


def _corpus_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        if is_obw_root(path):
            shards = sorted(p for p in (path / OBW_TRAIN_DIR).glob(OBW_TRAIN_GLOB) if p.is_file())
            if not shards:
                raise SeqgenError(
                    f"no One-Billion-Word training shards ({OBW_TRAIN_GLOB}) in {path / OBW_TRAIN_DIR}"
                )
            return shards
        files = sorted(p for p in path.glob("*.txt") if p.is_file())
        if not files:
            raise SeqgenError(f"no .txt files in folder {path}")
        return files
    if path.exists():
        raise SeqgenError(f"corpus is neither a file nor a folder: {path}")
    raise SeqgenError(f"corpus not found: {path}")


def _read_lines(files: list[str], keep_blank: bool, source: str, whole: bool) -> Iterator[dict[str, str]]:
    """The generator behind `_load_files`: strict UTF-8, errors as one-line SeqgenErrors naming the place.
    `whole`: these are all the corpus' files (one reader), so no row at all means an empty corpus."""
    rows = 0
    for name in files:
        try:
            with open(name, "rb") as f:
                offset = 0
                for lineno, raw in enumerate(f, 1):
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise SeqgenError(
                            f"not UTF-8 text: {name} line {lineno} (byte offset {offset + e.start})"
                        ) from None
                    offset += len(raw)
                    if lineno == 1:
                        text = text.removeprefix("\ufeff")
                    text = text.rstrip("\r\n")
                    if keep_blank or text.strip():
                        rows += 1
                        yield {"text": text}
        except OSError as e:
            raise SeqgenError(f"cannot read {name}: {e.strerror}") from None
    if whole and rows == 0:
        raise SeqgenError(f"empty corpus (no non-blank lines): {source}")


def _load_files(files: list[Path], *, keep_blank: bool, source: str, num_proc: int = 1) -> Dataset:
    from datasets import Dataset, Features, Value
    from datasets.exceptions import DatasetGenerationError

    stamps = []
    for p in files:
        st = p.stat()
        stamps.append((str(p.resolve()), st.st_size, st.st_mtime_ns))
    size = sum(st[1] for st in stamps)
    # Workers only pay off for several big files (a 1BW root: 99 shards); each reads a group of whole files.
    workers = min(num_proc or available_cpus(), len(files)) if size >= MIN_BYTES else 1
    kwargs: dict[str, Any] = dict(
        generator=_read_lines,
        features=Features({"text": Value("string")}),
        gen_kwargs={
            "files": [str(p) for p in files],
            "keep_blank": keep_blank,
            "source": source,
            "whole": workers == 1,
        },  # fmt: skip
        # Our own key, so datasets never has to hash the generator; it changes when any file changes.
        fingerprint=_digest("corpus", _READER_VERSION, keep_blank, stamps),
        num_proc=workers if workers > 1 else None,
        writer_batch_size=WRITER_ROWS,
    )

    def build(cache_dir: str | None) -> Dataset:
        try:
            with datasets_progress(size >= MIN_BYTES):
                ds = Dataset.from_generator(cache_dir=cache_dir, **kwargs)
        except DatasetGenerationError as e:
            cause = e.__cause__
            while cause is not None and not isinstance(cause, SeqgenError):  # a worker's error is wrapped
                cause = cause.__cause__
            if cause is not None:
                raise cause from None
            raise
        except ValueError as e:  # several readers and not one row: datasets' "corresponds to no data"
            if "no data" in str(e):
                raise SeqgenError(f"empty corpus (no non-blank lines): {source}") from None
            raise
        return ds

    try:
        return build(None)
    except (OSError, ValueError) as e:
        # An unwritable cache folder (OSError) or a corrupt cached table (ArrowInvalid, JSONDecodeError: both
        # ValueErrors) must not stop a run: rebuild in a fixed folder under the system temp dir instead.
        fallback = Path(tempfile.gettempdir()) / "seqgen-datasets-cache"
        log.warning("datasets cache unusable for %s (%s); using %s", source, one_line(e), fallback)
        try:
            return build(str(fallback))
        except (OSError, ValueError) as e2:
            raise SeqgenError(f"cannot cache corpus {source}: {one_line(e2)}") from None


# --------------------------------------------------------------------------- splits


def resolve_splits(data: DataConfig) -> Splits:
    """Train/valid/test corpora for `data` by the split rules in the module docstring."""
    keep_blank = data.mode == "stream"  # blank lines are paragraph breaks in a stream, empty rows otherwise

    def load(source: str) -> Dataset:
        return load_corpus(
            source, text_column=data.text_column, keep_blank=keep_blank, num_proc=data.num_proc
        )

    chosen: dict[str, Dataset | None] = {}
    notes: dict[str, str] = {}
    for name in ("valid", "test"):
        given = getattr(data, name)
        if given:
            chosen[name], notes[name] = load(given), f"given corpus {given}"
    missing = [name for name in ("valid", "test") if name not in chosen]

    if data.train == "caption":
        from seqgen.data.caption_language import caption_splits

        train_lines, *held = caption_splits(data.caption_sentences, data.holdout, data.caption_seed)
        train = _from_lines(train_lines)
        notes["train"] = f"caption language, {len(train_lines)} sentences (seed {data.caption_seed})"
        for name, lines in zip(("valid", "test"), held, strict=True):
            if name in missing:
                chosen[name] = _from_lines(lines) if lines else None
                notes[name] = f"{len(lines)} fresh caption-language sentences"
    elif data.train in ("oracle", "seqgan_oracle"):
        from seqgen.data.oracles.corpus import oracle_splits

        train_lines, valid_lines, test_lines, notes["train"] = oracle_splits(data)
        train = _from_lines(train_lines)
        for name, lines in (("valid", valid_lines), ("test", test_lines)):
            if name in missing:
                chosen[name] = _from_lines(lines) if lines else None
                notes[name] = f"{len(lines)} fresh oracle sequences"
    elif data.train.startswith("hf:"):
        train = _hub_train(data, keep_blank, missing, chosen, notes)
    elif is_obw_root(data.train):
        train = load(data.train)
        notes["train"] = f"One-Billion-Word training shards of {data.train}"
        for name, shard in (("valid", OBW_VALID), ("test", OBW_TEST)):
            if name in missing:
                path = Path(data.train) / OBW_HELDOUT_DIR / shard
                if not path.is_file():
                    raise SeqgenError(f"One-Billion-Word heldout shard not found: {path}")
                chosen[name], notes[name] = load(str(path)), f"heldout shard {shard}"
    else:
        train = load(data.train)
        notes["train"] = data.train
        train = _hold_out(train, data.train, missing, data.holdout, chosen, notes)

    rule = "; ".join(f"{name}: {notes.get(name, 'none')}" for name in ("train", "valid", "test"))
    return Splits(train=train, valid=chosen.get("valid"), test=chosen.get("test"), rule=rule)


def _hub_train(
    data: DataConfig, keep_blank: bool, missing: list[str], chosen: dict[str, Any], notes: dict[str, str]
) -> Any:
    """The train split of a hub dataset; its own validation/test splits fill the missing ones, and what is
    still missing is held out of train: by the fixed permutation, or for a stream, its first rows (test,
    then valid: data.holdout rows each), which training then skips."""
    parts = hub_splits(
        data.train, data.text_column, keep_blank, revision=data.hf_revision, streaming=data.streaming
    )
    at = f" at {data.hf_revision}" if data.hf_revision else ""
    train, notes["train"] = parts["train"], f"{data.train}{at} split train" + " (streamed)" * data.streaming
    for name, split in (("valid", "validation"), ("test", "test")):
        if name in missing and split in parts:
            ds = parts[split]
            if data.streaming:
                ds = read_stream(ds, (data.train, data.hf_revision, split, data.text_column, keep_blank))
            chosen[name], notes[name] = ds, f"{data.train}{at} split {split}"
    still = [m for m in missing if m not in chosen]
    if not data.streaming:
        return _hold_out(train, data.train, still, data.holdout, chosen, notes)
    taken = 0
    for name in ("test", "valid"):
        if name in still and data.holdout:
            key = (
                data.train,
                data.hf_revision,
                f"train[{taken}:{taken + data.holdout}]",
                data.text_column,
                keep_blank,
            )
            chosen[name] = read_stream(train.skip(taken), key, data.holdout)
            notes[name] = (
                f"rows {taken}..{taken + len(chosen[name]) - 1} of the train stream (training skips them)"
            )
            taken += len(chosen[name])
        elif name in still:
            chosen[name], notes[name] = None, "none (data.holdout=0)"
    return train.skip(taken) if taken else train


def _hold_out(
    train: Dataset,
    source: str,
    missing: list[str],
    holdout: int,
    chosen: dict[str, Dataset | None],
    notes: dict[str, str],
) -> Dataset:
    """Move k lines per missing split out of `train` into `chosen` (noted in `notes`); return the rest."""
    if not missing:
        return train
    n = len(train)
    k = min(holdout, n // HOLDOUT_MAX_DIVISOR)
    if k == 0:
        for name in missing:
            chosen[name], notes[name] = None, f"none (k = min(data.holdout, 5% of {n} lines) = 0)"
        return train
    perm = np.random.default_rng(HOLDOUT_SEED).permutation(n)
    slots = {"test": perm[:k], "valid": perm[k : 2 * k]}
    for name in missing:
        chosen[name] = _select(train, np.sort(slots[name]), f"{name}-{k}")
        notes[name] = f"{k} lines held out of {source} (fixed permutation, seed {HOLDOUT_SEED})"
    keep = np.ones(n, dtype=bool)
    for name in missing:
        keep[slots[name]] = False
    return _select(train, np.flatnonzero(keep), f"train-{'-'.join(missing)}-{k}")


def _select(ds: Dataset, indices: np.ndarray, tag: str) -> Dataset:
    # Our own fingerprint: hashing millions of indices on every run would be slow; (parent, rule, k) suffices.
    return ds.select(indices, new_fingerprint=_digest(ds._fingerprint, "holdout", HOLDOUT_SEED, tag))


def _from_lines(lines: list[str]) -> Dataset:
    from datasets import Dataset

    return Dataset.from_dict({"text": list(lines)})


# --------------------------------------------------------------------------- helpers


def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:32]
