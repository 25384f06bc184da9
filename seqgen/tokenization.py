"""Char, word and sentencepiece tokenizers behind one small interface, saved as JSON (+ ``spm.model``).

Every kind uses the same special ids: pad=0, bos=1, eos=2, unk=3, so data, models and metrics never ask which
kind they have. ``encode`` adds no BOS/EOS (the data pipeline does); ``decode`` drops pad/bos/eos.

A saved tokenizer is a folder holding ``tokenizer.json`` (kind, special ids, and the vocabulary for char/word)
and, for sentencepiece, the model file ``spm.model`` beside it. Nothing is pickled.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import sentencepiece as spm

from seqgen.atomic import atomic_dir
from seqgen.errors import SeqgenError, Settings, setting

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")  # the pieces at ids 0..3, also sentencepiece's defaults
CONFIG_NAME = "tokenizer.json"
SPM_NAME = "spm.model"
KINDS = ("char", "word", "sentencepiece")
_ID_KEYS = ("pad_id", "bos_id", "eos_id", "unk_id")


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

    def check(self) -> None:
        self.at_least(1, "min_freq")
        if self.vocab_size <= len(SPECIAL_TOKENS):
            self.refuse("vocab_size", f"must be more than the 4 special tokens, got {self.vocab_size}")
        if self.max_vocab < 0 or 0 < self.max_vocab <= len(SPECIAL_TOKENS):
            self.refuse(
                "max_vocab", f"must be 0 (no limit) or more than the 4 special tokens, got {self.max_vocab}"
            )


class Tokenizer(ABC):
    """Text <-> token ids. Subclasses set `kind` and implement the abstract methods."""

    kind: ClassVar[str]
    is_char_level: ClassVar[bool] = False  # True when one token is one character (bits per character)
    pad_id: ClassVar[int] = PAD_ID
    bos_id: ClassVar[int] = BOS_ID
    eos_id: ClassVar[int] = EOS_ID
    unk_id: ClassVar[int] = UNK_ID

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without BOS/EOS; anything outside the vocabulary becomes `unk_id`."""

    @abstractmethod
    def _decode(self, ids: list[int]) -> str: ...

    @abstractmethod
    def id_to_token(self, i: int) -> str: ...

    @abstractmethod
    def _files(self) -> dict[str, bytes]:
        """The saved form: file name -> content (always including tokenizer.json)."""

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids` (ints, numpy or 0-d tensors); skips pad/bos/eos, shows unk as the kind's unk text."""
        ids = [int(i) for i in ids]
        size = self.vocab_size
        bad = next((i for i in ids if not 0 <= i < size), None)
        if bad is not None:
            self._check_id(bad)
        return self._decode(ids)

    def save(self, directory: str | Path) -> None:
        """Write the tokenizer folder atomically; an existing tokenizer folder there is replaced."""
        _write_folder_atomically(Path(directory), self._files())

    @staticmethod
    def load(directory: str | Path) -> Tokenizer:
        """The tokenizer saved in `directory`, whatever its kind (same as `load_tokenizer`)."""
        return load_tokenizer(directory)

    def _check_id(self, i: int) -> None:
        if not 0 <= i < self.vocab_size:
            raise SeqgenError(
                f"token id {i} is out of range for a {self.kind} vocabulary of {self.vocab_size}"
            )

    def _config(self, **extra: Any) -> bytes:
        cfg = {
            "kind": self.kind,
            **dict(zip(_ID_KEYS, (PAD_ID, BOS_ID, EOS_ID, UNK_ID), strict=True)),
            **extra,
        }
        return (json.dumps(cfg, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


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

    def _decode(self, ids: list[int]) -> str:
        return "".join(self._symbols(ids))


class WordTokenizer(_VocabTokenizer):
    """Whitespace-separated words; rare or unseen words (and the special token strings) become ``<unk>``."""

    kind = "word"
    unk_text = SPECIAL_TOKENS[UNK_ID]

    @staticmethod
    def _valid_symbol(token: str) -> bool:
        return token.split() == [token]

    @classmethod
    def train(cls, lines: Iterable[str], min_freq: int = 1, max_vocab: int = 0) -> WordTokenizer:
        counts: Counter[str] = Counter()
        for line in lines:
            counts.update(line.split())
        if not counts:
            raise SeqgenError("no text to train the word tokenizer on")
        return cls(_ranked(counts, min_freq, max_vocab, "word"))

    def encode(self, text: str) -> list[int]:
        get = self._index.get
        return [get(w, UNK_ID) for w in text.split()]

    def _decode(self, ids: list[int]) -> str:
        return " ".join(self._symbols(ids))


# Training options, each for a reason:
# - identity normaliser and remove_extra_whitespaces=False: decode(encode(s)) == s for any text whose
#   characters were seen in training, whatever its spacing (NFKC and whitespace squeezing rewrite text);
# - character_coverage=1.0: every character of the corpus gets a piece, so "covered" means "seen in training";
# - input_sentence_size=0 and no shuffling: every line is used, no sampling, so training is deterministic
#   (unigram EM also depends on sentencepiece's num_threads, whose default is a fixed 16, not the CPU count);
# - hard_vocab_limit=False: a vocab_size larger than the corpus supports gives the largest vocabulary it does
#   support, with a warning, instead of failing (the default 8000 is too large for small corpora);
# - max_sentence_length: sentencepiece silently skips longer lines (default 4192 bytes); allow long
#   paragraphs, and count the lines that are still longer (see _FedLines).
_SPM_MAX_BYTES = 1 << 16
_SPM_OPTIONS = dict(
    pad_id=PAD_ID, bos_id=BOS_ID, eos_id=EOS_ID, unk_id=UNK_ID, normalization_rule_name="identity",
    remove_extra_whitespaces=False, character_coverage=1.0, input_sentence_size=0,
    shuffle_input_sentence=False, hard_vocab_limit=False, max_sentence_length=_SPM_MAX_BYTES, minloglevel=2,
)  # fmt: skip


class SentencePieceTokenizer(Tokenizer):
    """Unigram or BPE subwords from sentencepiece; unk decodes as sentencepiece's `` ⁇ ``.

    Round trip holds for text made of characters seen in training, except U+2581 (sentencepiece's space mark).
    """

    kind = "sentencepiece"

    def __init__(self, model_proto: bytes, model_type: str = "unigram") -> None:
        try:
            self._sp = spm.SentencePieceProcessor(model_proto=model_proto)
        except RuntimeError:
            raise SeqgenError("not a valid sentencepiece model") from None
        got = (self._sp.pad_id(), self._sp.bos_id(), self._sp.eos_id(), self._sp.unk_id())
        if got != (PAD_ID, BOS_ID, EOS_ID, UNK_ID):
            raise SeqgenError(
                f"sentencepiece model has special ids pad,bos,eos,unk = {got}, expected (0, 1, 2, 3)"
            )
        self._proto = bytes(model_proto)
        self.model_type = model_type

    @classmethod
    def train(
        cls, lines: Iterable[str], vocab_size: int = 8000, model_type: str = "unigram"
    ) -> SentencePieceTokenizer:
        if model_type not in ("unigram", "bpe"):
            raise SeqgenError(f"sentencepiece model_type must be unigram or bpe, got {model_type!r}")
        if vocab_size <= len(SPECIAL_TOKENS):
            raise SeqgenError(f"vocab_size must be more than the 4 special tokens, got {vocab_size}")
        fed = _FedLines()

        def counted() -> Iterator[str]:
            try:
                for line in lines:
                    fed.count(line)
                    yield line
            except Exception as e:  # sentencepiece would flatten it into a RuntimeError; keep it as it was
                fed.error = e
                raise

        out = io.BytesIO()  # the trained model stays in memory, no temporary file
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=counted(),
                model_writer=out,
                vocab_size=vocab_size,
                model_type=model_type,
                **_SPM_OPTIONS,
            )
        except RuntimeError as e:
            if fed.error is not None:
                raise fed.error from None
            fed.refuse_if_all_too_long()  # sentencepiece's own error is "[!sentences_.empty()]"
            raise _training_error(str(e), vocab_size, fed.chars) from None
        fed.refuse_if_all_too_long()  # a model trained on the blank lines alone would be no better
        tok = cls(out.getvalue(), model_type)
        if fed.too_long:
            fed.warn_skipped(tok)
        if tok.vocab_size < vocab_size:
            warnings.warn(
                f"the corpus supports only {tok.vocab_size} sentencepiece pieces; using {tok.vocab_size} "
                f"instead of the requested vocab_size={vocab_size}",
                UserWarning,
                stacklevel=3,
            )
        return tok

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self._sp.encode(text)

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        return self._sp.encode(list(texts))

    def _decode(self, ids: list[int]) -> str:
        return self._sp.decode(ids)

    def id_to_token(self, i: int) -> str:
        self._check_id(i)
        return self._sp.id_to_piece(i)

    def _files(self) -> dict[str, bytes]:
        meta = self._config(model_file=SPM_NAME, model_type=self.model_type, vocab_size=self.vocab_size)
        return {CONFIG_NAME: meta, SPM_NAME: self._proto}


@dataclass
class _FedLines:
    """What the sentencepiece trainer was fed, counted on the way (the lines can be read only once)."""

    lines: int = 0
    chars: int = 0
    with_text: int = 0  # lines that are not blank
    too_long: int = 0  # lines over _SPM_MAX_BYTES, which sentencepiece skips without a word
    longest: int = 0  # bytes of the longest of those
    too_long_chars: set[str] = field(default_factory=set)  # the characters of those lines
    error: Exception | None = None  # raised while reading the lines

    def count(self, line: str) -> None:
        self.lines += 1
        self.chars += len(line)
        if line and not line.isspace():
            self.with_text += 1
        # UTF-8 takes at most 4 bytes a character, so only long strings need encoding to measure them.
        if len(line) * 4 > _SPM_MAX_BYTES:
            size = len(line.encode("utf-8", "surrogatepass"))
            if size > _SPM_MAX_BYTES:
                self.too_long += 1
                self.longest = max(self.longest, size)
                self.too_long_chars.update(line)

    def _over_the_limit(self, whose: str = "sentencepiece's") -> str:
        return (
            f"longer than {whose} max_sentence_length of {_SPM_MAX_BYTES} bytes "
            f"(the longest has {self.longest} bytes)"
        )

    def refuse_if_all_too_long(self) -> None:
        if self.too_long and self.too_long >= self.with_text:
            n = self.too_long
            raise SeqgenError(
                f"the corpus has {n} line{'' if n == 1 else 's'} {self._over_the_limit()} and no shorter "
                "line with text; sentencepiece skips such lines, so there is nothing to train on: give it "
                "one sentence or paragraph per line"
            )

    def warn_skipped(self, tok: SentencePieceTokenizer) -> None:
        """Some lines were skipped: a warning, not a refusal, because the rest of the corpus trained a usable
        tokenizer; but characters seen only in the skipped lines now encode as <unk>, so it says how many."""
        lost = sum(1 for c in self.too_long_chars if UNK_ID in tok.encode(c))
        note = (
            f"; {lost} character{'' if lost == 1 else 's'} seen only there will encode as <unk>"
            if lost
            else ""
        )
        warnings.warn(
            f"sentencepiece skipped {self.too_long} of the corpus's {self.lines} lines, which are "
            f"{self._over_the_limit('its')}{note}; give it one sentence or paragraph per line",
            UserWarning,
            stacklevel=4,
        )


def _training_error(message: str, vocab_size: int, chars_seen: int) -> SeqgenError:
    if chars_seen == 0:
        return SeqgenError("no text to train the sentencepiece tokenizer on")
    small = re.search(r"smaller than required_chars\. \d+ vs (\d+)", message)
    if small:
        return SeqgenError(
            f"vocab_size={vocab_size} is too small for this corpus: sentencepiece needs at least "
            f"{small.group(1)} (every character plus 4 special tokens); raise vocab_size"
        )
    return SeqgenError(
        f"sentencepiece training failed: {message.strip().splitlines()[0] if message else '?'}"
    )


def train_tokenizer(
    kind: str,
    lines: Iterable[str],
    *,
    vocab_size: int = 8000,
    model_type: str = "unigram",
    min_freq: int = 1,
    max_vocab: int = 0,
) -> Tokenizer:
    """Train a `kind` tokenizer on `lines` (an iterable, read once); settings of other kinds are ignored."""
    if isinstance(lines, str):
        raise TypeError("train_tokenizer takes an iterable of lines, not one string")
    if kind == "char":
        return CharTokenizer.train(lines, max_vocab=max_vocab)
    if kind == "word":
        return WordTokenizer.train(lines, min_freq=min_freq, max_vocab=max_vocab)
    if kind == "sentencepiece":
        return SentencePieceTokenizer.train(lines, vocab_size=vocab_size, model_type=model_type)
    raise SeqgenError(f"unknown tokenizer kind {kind!r} (expected {', '.join(KINDS)})")


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """Load a folder written by `Tokenizer.save`; any problem is a one-line SeqgenError naming the path."""
    folder = Path(directory)
    if not folder.is_dir():
        raise SeqgenError(f"tokenizer folder not found: {folder}")
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise SeqgenError(f"no {CONFIG_NAME} in tokenizer folder: {folder}")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SeqgenError(f"tokenizer file is not valid JSON: {path}") from None
    kind = cfg.get("kind") if isinstance(cfg, dict) else None
    if kind not in KINDS:
        raise SeqgenError(f"unknown tokenizer kind {kind!r} in {path} (expected {', '.join(KINDS)})")
    ids = tuple(cfg.get(k) for k in _ID_KEYS)
    if ids != (PAD_ID, BOS_ID, EOS_ID, UNK_ID):
        raise SeqgenError(f"special ids pad,bos,eos,unk must be 0,1,2,3, got {ids} in {path}")
    if kind == "sentencepiece":
        return _load_sentencepiece(path, cfg)
    try:
        return (CharTokenizer if kind == "char" else WordTokenizer)(cfg.get("vocab"))
    except SeqgenError as e:
        raise SeqgenError(f"{e} in {path}") from None


def _load_sentencepiece(path: Path, cfg: dict[str, Any]) -> SentencePieceTokenizer:
    name = cfg.get("model_file")
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise SeqgenError(f"'model_file' must be a file name beside {CONFIG_NAME}, got {name!r} in {path}")
    folder = path.parent
    model = folder / name
    if not model.is_file():
        raise SeqgenError(f"sentencepiece model file missing: {model}")
    try:
        tok = SentencePieceTokenizer(model.read_bytes(), str(cfg.get("model_type", "unigram")))
    except SeqgenError as e:
        raise SeqgenError(f"{e}: {model}") from None
    if cfg.get("vocab_size") != tok.vocab_size:  # a model file cut at a piece boundary still parses
        raise SeqgenError(
            f"{path} says vocab_size {cfg.get('vocab_size')!r} but {model} has {tok.vocab_size} pieces"
        )
    return tok


def _write_folder_atomically(target: Path, files: dict[str, bytes]) -> None:
    """Write `files` as the folder `target`, atomically (seqgen.atomic). A non-empty folder that is not a
    tokenizer folder is never replaced, so a mistyped path cannot wipe a run folder."""
    if target.exists() and not target.is_dir():
        raise SeqgenError(f"cannot save a tokenizer to {target}: it is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not (target / CONFIG_NAME).is_file():
        raise SeqgenError(f"refusing to replace {target}: it is not empty and is not a tokenizer folder")
    with atomic_dir(target) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
