"""Tokenizers that are an explicit list of symbols: one token per character, or per word (split on whitespace
by the Treebank rules (seqgen.data.word_split) or by a regular expression).

Ids 0..3 are the special tokens; the rest of the vocabulary is ranked by frequency in the training text.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from seqgen.data.tokenizer_base import (
    BOS_ID,
    CONFIG_NAME,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    Tokenizer,
    _loadable,
)
from seqgen.data.word_split import split_words, word_ends
from seqgen.errors import SeqgenError

SPLITS = ("whitespace", "treebank", "regex")  # how a word tokenizer splits a line (not 13a: it rewrites text)


class _VocabTokenizer(Tokenizer):
    """A tokenizer that is an explicit list of symbols; ids 0..3 are the special tokens."""

    unk_text: ClassVar[str]  # what decode writes for unk_id

    def __init__(self, vocab: Sequence[str]) -> None:
        problem = self._vocab_problem(vocab)
        if problem:
            raise SeqgenError(f"invalid {self.kind} vocabulary: {problem}")
        self._vocab = list(vocab)
        # Special tokens are left out of the lookup so text like "<s>" never encodes to a control id.
        self._index = {t: i for i, t in enumerate(self._vocab) if i >= len(SPECIAL_TOKENS)}

    @classmethod
    def _vocab_problem(cls, vocab: Any) -> str | None:
        if not isinstance(vocab, list | tuple) or not all(isinstance(t, str) for t in vocab):
            return "the vocabulary must be a list of strings"
        if tuple(vocab[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            return f"ids 0..3 must be the special tokens {', '.join(SPECIAL_TOKENS)}"
        if len(set(vocab)) != len(vocab):
            dup = next(t for t, n in Counter(vocab).items() if n > 1)
            return f"duplicate token {dup!r}"
        bad = next((t for t in vocab[len(SPECIAL_TOKENS) :] if not cls._valid_symbol(t)), None)
        return None if bad is None else f"token {bad!r} cannot come from {cls.kind} tokenization"

    @staticmethod
    @abstractmethod
    def _valid_symbol(token: str) -> bool: ...

    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    def id_to_token(self, i: int) -> str:
        self._check_id(i)
        return self._vocab[i]

    def _symbols(self, ids: list[int]) -> list[str]:
        skip = (PAD_ID, BOS_ID, EOS_ID)
        return [self.unk_text if i == UNK_ID else self._vocab[i] for i in ids if i not in skip]

    def _files(self) -> dict[str, bytes]:
        return {CONFIG_NAME: self._config(vocab=self._vocab)}

    @classmethod
    def _from_saved(cls, path: Path, cfg: dict[str, Any]) -> Tokenizer:
        try:
            return cls(cfg.get("vocab"))
        except SeqgenError as e:
            raise SeqgenError(f"{e} in {path}") from None


def _ranked(counts: Counter[str], min_freq: int, max_vocab: int, unit: str) -> list[str]:
    """Special tokens, then symbols by descending count (ties by code point); max_vocab caps the total.

    A vocabulary of the special tokens alone is refused: every text would encode as <unk>. max_vocab cannot
    cause that (it keeps at least one symbol), so the message names min_freq. `unit` is "word" or "character".
    """
    if min_freq < 1:
        raise SeqgenError(f"min_freq must be at least 1, got {min_freq}")
    if max_vocab and max_vocab <= len(SPECIAL_TOKENS):
        raise SeqgenError(
            f"max_vocab must be 0 (no limit) or more than the 4 special tokens, got {max_vocab}"
        )
    symbols = sorted(
        (s for s, n in counts.items() if n >= min_freq and s not in SPECIAL_TOKENS),
        key=lambda s: (-counts[s], s),
    )
    if not symbols:
        top = max((n for t, n in counts.items() if t not in SPECIAL_TOKENS), default=0)
        if not top:
            raise SeqgenError(
                f"the corpus has no {unit} other than the special tokens {', '.join(SPECIAL_TOKENS)}, so the "
                f"{unit} vocabulary would hold nothing else"
            )
        # Worded for every caller: --min-freq, tokenizer.min_freq and the LM score's --lm min_freq=.
        raise SeqgenError(
            f"min_freq={min_freq} leaves no {unit} in the vocabulary but the 4 special tokens: the most "
            f"frequent {unit} occurs {top} time{'' if top == 1 else 's'}; lower min_freq to at most {top}"
        )
    if max_vocab:
        symbols = symbols[: max_vocab - len(SPECIAL_TOKENS)]
    return [*SPECIAL_TOKENS, *symbols]


@_loadable
class CharTokenizer(_VocabTokenizer):
    """One token per character (newline too, if the training text has it); unknown ones decode as U+FFFD."""

    kind = "char"
    is_char_level = True
    unk_text = "\ufffd"  # one character, so decoded text keeps the length of the original

    @staticmethod
    def _valid_symbol(token: str) -> bool:
        return len(token) == 1

    @classmethod
    def train(cls, lines: Iterable[str], max_vocab: int = 0) -> CharTokenizer:
        return cls.from_counts(count_chars(lines), max_vocab)

    @classmethod
    def from_counts(cls, counts: Counter[str], max_vocab: int = 0) -> CharTokenizer:
        """The tokenizer of the characters counted in `counts` (by `count_chars`, maybe in parts, summed)."""
        if not counts:
            raise SeqgenError("no text to train the char tokenizer on")
        return cls(_ranked(counts, 1, max_vocab, "character"))

    def encode(self, text: str) -> list[int]:
        get = self._index.get
        return [get(c, UNK_ID) for c in text]

    def char_ends(self, text: str) -> list[int]:
        return list(range(1, len(text) + 1))  # one token per character

    def _decode(self, ids: list[int]) -> str:
        return "".join(self._symbols(ids))


@_loadable
class WordTokenizer(_VocabTokenizer):
    """Words, split by `split`: ``whitespace`` (str.split()), ``treebank`` (nltk's Treebank rules, which
    detach punctuation: "at night." -> at night .) or ``regex`` (the matches of `pattern`); rare or unseen
    words (and the special token strings) become ``<unk>``. Decoding joins the words with one space,
    so it gives back the text only where the words were separated by single spaces."""

    kind = "word"
    unk_text = SPECIAL_TOKENS[UNK_ID]

    def __init__(self, vocab: Sequence[str], split: str = "whitespace", pattern: str | None = None) -> None:
        self._regex = check_split(split, pattern)
        super().__init__(vocab)
        self.split, self.pattern = split, pattern if split == "regex" else None

    @staticmethod
    def _valid_symbol(token: str) -> bool:
        return token.split() == [token]

    @classmethod
    def train(
        cls,
        lines: Iterable[str],
        min_freq: int = 1,
        max_vocab: int = 0,
        split: str = "whitespace",
        pattern: str | None = None,
    ) -> WordTokenizer:
        return cls.from_counts(count_words(lines, split, pattern), min_freq, max_vocab, split, pattern)

    @classmethod
    def from_counts(
        cls,
        counts: Counter[str],
        min_freq: int = 1,
        max_vocab: int = 0,
        split: str = "whitespace",
        pattern: str | None = None,
    ) -> WordTokenizer:
        """The tokenizer of the words counted in `counts` (by `count_words` with the same split, maybe in
        parts, summed)."""
        check_split(split, pattern)
        if not counts:
            raise SeqgenError("no text to train the word tokenizer on")
        bad = next((w for w in counts if w.split() != [w]), None)
        if bad is not None:
            raise SeqgenError(f"tokenizer.pattern {pattern!r} matches text with whitespace in it: {bad!r}")
        return cls(_ranked(counts, min_freq, max_vocab, "word"), split, pattern)

    def encode(self, text: str) -> list[int]:
        get = self._index.get
        return [get(w, UNK_ID) for w in _words(text, self.split, self._regex)]

    def char_ends(self, text: str) -> list[int]:
        if self._regex is not None:
            return [m.end() for m in self._regex.finditer(text)]
        return word_ends(text, self.split)

    def _decode(self, ids: list[int]) -> str:
        return " ".join(self._symbols(ids))

    def _files(self) -> dict[str, bytes]:
        # The split is written only when it is not the default, so older saved tokenizers keep their digest.
        extra: dict[str, Any] = {} if self.split == "whitespace" else {"split": self.split}
        if self.pattern is not None:
            extra["pattern"] = self.pattern
        return {CONFIG_NAME: self._config(vocab=self._vocab, **extra)}

    @classmethod
    def _from_saved(cls, path: Path, cfg: dict[str, Any]) -> Tokenizer:
        try:
            return cls(cfg.get("vocab"), cfg.get("split", "whitespace"), cfg.get("pattern"))
        except SeqgenError as e:
            raise SeqgenError(f"{e} in {path}") from None


def check_split(split: str, pattern: str | None) -> re.Pattern[str] | None:
    """The compiled pattern of a regex split (None for the others); an unknown split or a bad pattern is
    refused."""
    if split not in SPLITS:
        raise SeqgenError(f"unknown word split {split!r}; choose one of {', '.join(SPLITS)}")
    if split != "regex":
        return None
    if not pattern:
        raise SeqgenError("a regex word split needs tokenizer.pattern, the regular expression of one word")
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise SeqgenError(f"tokenizer.pattern {pattern!r} is not a regular expression: {e}") from None
    if regex.fullmatch(""):
        raise SeqgenError(f"tokenizer.pattern {pattern!r} matches the empty string; a word needs a character")
    return regex


def count_chars(lines: Iterable[str]) -> Counter[str]:
    """How often each character occurs in `lines` (what a char vocabulary is ranked by)."""
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(line)
    return counts


def count_words(lines: Iterable[str], split: str = "whitespace", pattern: str | None = None) -> Counter[str]:
    """How often each word (by `split`) occurs in `lines` (what a word vocabulary is ranked by)."""
    regex = check_split(split, pattern)
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(_words(line, split, regex))
    return counts


def _words(text: str, split: str, regex: re.Pattern[str] | None) -> list[str]:
    return regex.findall(text) if regex is not None else split_words(text, split)
