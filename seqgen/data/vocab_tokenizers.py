"""Tokenizers that are an explicit list of symbols: one token per character, or per word (split on whitespace
or by the Treebank rules, seqgen.data.word_split).

Ids 0..3 are the special tokens; the rest of the vocabulary is ranked by frequency in the training text.
"""

from __future__ import annotations

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

SPLITS = ("whitespace", "treebank")  # how a word tokenizer splits a line (13a rewrites text: no positions)


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
        counts: Counter[str] = Counter()
        for line in lines:
            counts.update(line)
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
    """Words, split by `split` (``whitespace``: str.split(); ``treebank``: nltk's Treebank rules, which detach
    punctuation: "at night." -> at night .); rare or unseen words (and the special token strings) become
    ``<unk>``. Decoding joins the words with one space."""

    kind = "word"
    unk_text = SPECIAL_TOKENS[UNK_ID]

    def __init__(self, vocab: Sequence[str], split: str = "whitespace") -> None:
        if split not in SPLITS:
            raise SeqgenError(f"unknown word split {split!r}; choose one of {', '.join(SPLITS)}")
        super().__init__(vocab)
        self.split = split

    @staticmethod
    def _valid_symbol(token: str) -> bool:
        return token.split() == [token]

    @classmethod
    def train(
        cls, lines: Iterable[str], min_freq: int = 1, max_vocab: int = 0, split: str = "whitespace"
    ) -> WordTokenizer:
        if split not in SPLITS:
            raise SeqgenError(f"unknown word split {split!r}; choose one of {', '.join(SPLITS)}")
        counts: Counter[str] = Counter()
        for line in lines:
            counts.update(split_words(line, split))
        if not counts:
            raise SeqgenError("no text to train the word tokenizer on")
        return cls(_ranked(counts, min_freq, max_vocab, "word"), split)

    def encode(self, text: str) -> list[int]:
        get = self._index.get
        return [get(w, UNK_ID) for w in split_words(text, self.split)]

    def char_ends(self, text: str) -> list[int]:
        return word_ends(text, self.split)

    def _decode(self, ids: list[int]) -> str:
        return " ".join(self._symbols(ids))

    def _files(self) -> dict[str, bytes]:
        # The split is written only when it is not the default, so older saved tokenizers keep their digest.
        extra = {} if self.split == "whitespace" else {"split": self.split}
        return {CONFIG_NAME: self._config(vocab=self._vocab, **extra)}

    @classmethod
    def _from_saved(cls, path: Path, cfg: dict[str, Any]) -> Tokenizer:
        try:
            return cls(cfg.get("vocab"), cfg.get("split", "whitespace"))
        except SeqgenError as e:
            raise SeqgenError(f"{e} in {path}") from None
