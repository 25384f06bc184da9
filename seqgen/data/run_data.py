"""From data and tokenizer settings to the pieces a run trains and is evaluated on: splits, tokenizer, rows.

Shared by `seqgen train`, `seqgen evaluate` and `seqgen tokenizer train`, so a run is always rebuilt the same
way: the split rule is deterministic, and the tokenizer is trained once on the training split and then read
from the run. The caller chooses the saved tokenizer a run uses (`saved_tokenizer`: its own folder's, its
init_from run's, or `tokenizer.path`); None means none is saved: an oracle corpus then has its fixed
tokenizer and any other corpus gets one trained on its training split from the `tokenizer.*` settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqgen.data.config import SYMBOL_ORACLES, DataConfig
from seqgen.data.corpus import Splits, resolve_splits
from seqgen.data.corpus_tokenizer import train_on_split
from seqgen.data.encoding import encode_corpus
from seqgen.data.parallel_counts import worker_count
from seqgen.errors import SeqgenError
from seqgen.tokenization import Tokenizer, TokenizerConfig, load_tokenizer


@dataclass
class RunData:
    tokenizer: Tokenizer
    train: Any  # datasets.Dataset with "input_ids"
    valid: Any | None
    test: Any | None
    rule: str
    texts: Splits | None = None  # the splits' text, before encoding (column "text")


def saved_tokenizer(
    data: DataConfig, settings: TokenizerConfig, run_tokenizer: str | Path | None = None
) -> Tokenizer | None:
    """The saved tokenizer a run uses: the one in `run_tokenizer` (the folder of the run's own tokenizer,
    or of the run it starts from; a missing one is an error), else `tokenizer.path` (checked against
    `tokenizer.kind`; never for an oracle corpus, whose tokenizer is fixed), else None (none is saved)."""
    if run_tokenizer is not None:
        return load_tokenizer(run_tokenizer)
    if settings.path and data.train not in SYMBOL_ORACLES:
        tok = load_tokenizer(settings.path)
        if tok.kind != settings.kind:
            raise SeqgenError(
                f"tokenizer.path {settings.path} holds a {tok.kind} tokenizer but tokenizer.kind="
                f"{settings.kind}"
            )
        return tok
    return None


def resolve_tokenizer(
    data: DataConfig, settings: TokenizerConfig, train_texts: Any, tokenizer: Tokenizer | None = None
) -> Tokenizer:
    """`tokenizer` when one was chosen, else the oracle's fixed one, else one trained on the train split."""
    if tokenizer is not None:
        return tokenizer
    if data.train in SYMBOL_ORACLES:  # fixed: symbol k is token 4 + k (exact evaluation)
        from seqgen.data.oracles.corpus import build_oracle  # torch only for the oracle corpora

        return build_oracle(data).tokenizer()
    return tokenizer_from_config(settings, train_texts, data.num_proc)


def tokenizer_from_config(t: TokenizerConfig, texts: Any, num_proc: int = 0) -> Tokenizer:
    """Train the tokenizer that the `tokenizer.*` settings describe on `texts` (a split's Dataset, or lines;
    for train and the CLI): a large split is counted in `num_proc` processes and cached."""
    return train_on_split(t, texts, num_proc)


def load_run_data(
    data: DataConfig,
    settings: TokenizerConfig,
    tokenizer: Tokenizer | None = None,
    splits: tuple[str, ...] = ("train", "valid", "test"),
) -> RunData:
    """The splits of `data`, the tokenizer (`resolve_tokenizer`) and the encoded rows of the `splits` asked
    for (the others are None)."""
    s = resolve_splits(data)
    if data.streaming and tokenizer is None:
        raise SeqgenError(
            "data.streaming=true needs a saved tokenizer (training one would read the whole stream): train "
            "it on part of the corpus with `seqgen tokenizer train` and set tokenizer.path"
        )
    tok = resolve_tokenizer(data, settings, s.train if s.train is not None else [], tokenizer)

    def enc(ds: Any, name: str) -> Any:
        if ds is None or name not in splits:
            return None
        if name == "train" and data.streaming:
            return ds  # the stream's text: encoded as it is read (seqgen.data.train_batches)
        return encode_corpus(
            ds,
            tok,
            mode=data.mode,
            max_len=data.max_len,
            truncation=data.truncation,
            num_proc=worker_count(data.num_proc, len(ds)),
        )

    return RunData(tok, enc(s.train, "train"), enc(s.valid, "valid"), enc(s.test, "test"), s.rule, s)
