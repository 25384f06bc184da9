"""A tokenizer trained on a training split: counted in parallel, and cached for the next run on that split.

A word vocabulary of One-Billion-Word takes minutes to count, and every run on the corpus would count the
same vocabulary again. So a tokenizer trained on a large split (`CACHE_MIN_ROWS` rows or more) is kept in
``$SEQGEN_CACHE/tokenizers/KEY/`` (default ``~/.cache/seqgen``) as the JSON / sentencepiece files it saves
(never a pickle), where KEY digests the split's datasets fingerprint (which changes when a corpus file
changes), the tokenizer settings and `_CACHE_VERSION`. The next run on the same split loads it in a
fraction of a second. A cache that cannot be written is skipped (logged); a damaged entry is retrained.
Small splits are trained in place every time (milliseconds), so they leave nothing in the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqgen.data.parallel_counts import MIN_PARALLEL_ROWS, count_symbols, lines_of
from seqgen.data.vocab_tokenizers import CharTokenizer, WordTokenizer, count_chars, count_words
from seqgen.errors import SeqgenError

if TYPE_CHECKING:
    from seqgen.data.tokenizer_base import Tokenizer
    from seqgen.tokenization import TokenizerConfig

log = logging.getLogger(__name__)

CACHE_MIN_ROWS = MIN_PARALLEL_ROWS
# Part of every key: bump it when training any kind of tokenizer changes, so no old vocabulary is reused.
_CACHE_VERSION = 1


def cache_root() -> Path:
    """seqgen's cache folder: $SEQGEN_CACHE, else ~/.cache/seqgen (tokenizers, reference LMs)."""
    return Path(os.environ.get("SEQGEN_CACHE") or Path.home() / ".cache" / "seqgen")


def train_on_split(t: TokenizerConfig, texts: Any, num_proc: int = 0) -> Tokenizer:
    """The tokenizer `t` describes, trained on `texts` (a Dataset with a "text" column, or any iterable of
    lines); a large Dataset is counted in `num_proc` processes (0 = every CPU) and its result cached."""
    fingerprint = getattr(texts, "_fingerprint", None)
    if fingerprint is None or len(texts) < CACHE_MIN_ROWS:
        return _train(t, texts, num_proc)
    settings = (t.kind, t.vocab_size, t.model_type, t.min_freq, t.max_vocab, t.split, t.pattern)
    key = hashlib.sha256(repr((_CACHE_VERSION, fingerprint, settings)).encode()).hexdigest()[:32]
    folder = cache_root() / "tokenizers" / key
    if folder.is_dir():
        from seqgen.tokenization import load_tokenizer

        try:
            tok = load_tokenizer(folder)
            log.info("tokenizer read from the cache (%s)", folder)
            return tok
        except SeqgenError as e:
            log.warning("cached tokenizer %s is unreadable (%s); training it again", folder, e)
            shutil.rmtree(folder, ignore_errors=True)  # so the new one can take its place
    tok = _train(t, texts, num_proc)
    _store(tok, folder)
    return tok


def _train(t: TokenizerConfig, texts: Any, num_proc: int) -> Tokenizer:
    from seqgen.tokenization import train_tokenizer

    dataset = hasattr(texts, "shard")
    if t.kind == "word" and dataset:
        counts = count_symbols(texts, partial(count_words, split=t.split, pattern=t.pattern), num_proc)
        return WordTokenizer.from_counts(counts, t.min_freq, t.max_vocab, t.split, t.pattern)
    if t.kind == "char" and dataset:
        return CharTokenizer.from_counts(count_symbols(texts, count_chars, num_proc), t.max_vocab)
    return train_tokenizer(
        t.kind,
        lines_of(texts),
        vocab_size=t.vocab_size,
        model_type=t.model_type,
        min_freq=t.min_freq,
        max_vocab=t.max_vocab,
        split=t.split,
        pattern=t.pattern,
    )


def _store(tok: Tokenizer, folder: Path) -> None:
    """Save `tok` into `folder` atomically (a finished folder or none), or log why it could not be."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        tok.save(tmp / "tokenizer")
        try:
            os.replace(tmp / "tokenizer", folder)
        except OSError:  # another process stored it first: theirs is the same tokenizer
            pass
        shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        log.warning("cannot cache the tokenizer in %s (%s); the next run trains it again", folder, e)
