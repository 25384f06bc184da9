"""Char, word and sentencepiece tokenizers behind one small interface, saved as JSON (+ ``spm.model``).

The public import point: the tokenizer settings (`TokenizerConfig`), `train_tokenizer` and `load_tokenizer`,
and the classes and special ids. The interface and the saved folder live in seqgen.data.tokenizer_base, the
kinds in seqgen.data.vocab_tokenizers and seqgen.data.sentencepiece_tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from seqgen.data.sentencepiece_tokenizer import SentencePieceTokenizer
from seqgen.data.tokenizer_base import (
    BOS_ID,
    CONFIG_NAME,
    EOS_ID,
    KINDS,
    PAD_ID,
    SPECIAL_TOKENS,
    SPM_NAME,
    UNK_ID,
    Tokenizer,
    load_tokenizer,
)
from seqgen.data.vocab_tokenizers import SPLITS, CharTokenizer, WordTokenizer, check_split
from seqgen.errors import SeqgenError, Settings, setting

__all__ = [
    "BOS_ID",
    "CONFIG_NAME",
    "EOS_ID",
    "KINDS",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "SPM_NAME",
    "UNK_ID",
    "CharTokenizer",
    "SentencePieceTokenizer",
    "Tokenizer",
    "TokenizerConfig",
    "WordTokenizer",
    "load_tokenizer",
    "train_tokenizer",
]


@dataclass
class TokenizerConfig(Settings):
    """`tokenizer.*`: which tokenizer a run trains on its training split (or loads)."""

    section = "tokenizer"

    kind: str = setting("word", "char, word or sentencepiece", KINDS)
    path: str | None = setting(None, "a saved tokenizer folder to use instead of training one on data.train")
    vocab_size: int = setting(8000, "sentencepiece vocabulary size")
    model_type: str = setting("unigram", "sentencepiece model type", ("unigram", "bpe"))
    min_freq: int = setting(1, "word: keep words seen at least this often")
    max_vocab: int = setting(0, "word/char: keep at most this many symbols, most frequent first (0 = all)")
    split: str = setting(
        "whitespace",
        "word: how lines become words: whitespace (str.split), treebank (nltk's rules: night. -> night .) or "
        "regex (the matches of tokenizer.pattern)",
        SPLITS,
    )
    pattern: str | None = setting(
        None, "word, split=regex: the regular expression of one word, e.g. \\w+|[^\\w\\s]"
    )

    def check(self) -> None:
        self.at_least(1, "min_freq")
        if self.kind == "word" and (self.split == "regex" or self.pattern is not None):
            if self.split != "regex":
                self.refuse("pattern", f"is used only with tokenizer.split=regex, got split={self.split}")
            check_split("regex", self.pattern)
        if self.vocab_size <= len(SPECIAL_TOKENS):
            self.refuse("vocab_size", f"must be more than the 4 special tokens, got {self.vocab_size}")
        if self.max_vocab < 0 or 0 < self.max_vocab <= len(SPECIAL_TOKENS):
            self.refuse(
                "max_vocab", f"must be 0 (no limit) or more than the 4 special tokens, got {self.max_vocab}"
            )


def train_tokenizer(
    kind: str,
    lines: Iterable[str],
    *,
    vocab_size: int = 8000,
    model_type: str = "unigram",
    min_freq: int = 1,
    max_vocab: int = 0,
    split: str = "whitespace",
    pattern: str | None = None,
) -> Tokenizer:
    """Train a `kind` tokenizer on `lines` (an iterable, read once); settings of other kinds are ignored."""
    if isinstance(lines, str):
        raise TypeError("train_tokenizer takes an iterable of lines, not one string")
    if kind == "char":
        return CharTokenizer.train(lines, max_vocab=max_vocab)
    if kind == "word":
        return WordTokenizer.train(
            lines, min_freq=min_freq, max_vocab=max_vocab, split=split, pattern=pattern
        )
    if kind == "sentencepiece":
        return SentencePieceTokenizer.train(lines, vocab_size=vocab_size, model_type=model_type)
    raise SeqgenError(f"unknown tokenizer kind {kind!r} (expected {', '.join(KINDS)})")
