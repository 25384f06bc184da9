"""Subword tokenizers from sentencepiece (unigram or BPE), trained deterministically on every line given.

Training counts what it was fed on the way (`_FedLines`), so lines sentencepiece would skip silently are
refused or warned about, and sentencepiece's own training errors become one-line SeqgenErrors.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sentencepiece as spm

from seqgen.data.tokenizer_base import (
    BOS_ID,
    CONFIG_NAME,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    SPM_NAME,
    UNK_ID,
    Tokenizer,
    _loadable,
)
from seqgen.errors import SeqgenError

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


@_loadable
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

    @property
    def model_proto(self) -> bytes:
        """The serialized sentencepiece model (what spm.model holds)."""
        return self._proto

    def encode(self, text: str) -> list[int]:
        return self._sp.encode(text)

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        return self._sp.encode(list(texts))

    def char_ends(self, text: str) -> list[int]:
        # Each piece's surface is the text it stands for (the dummy-prefix piece's is empty); they tile it.
        ends, at = [], 0
        for piece in self._sp.encode(text, return_type="proto").pieces:
            at += len(piece.surface)
            ends.append(at)
        return ends

    def _decode(self, ids: list[int]) -> str:
        return self._sp.decode(ids)

    def id_to_token(self, i: int) -> str:
        self._check_id(i)
        return self._sp.id_to_piece(i)

    def _files(self) -> dict[str, bytes]:
        meta = self._config(model_file=SPM_NAME, model_type=self.model_type, vocab_size=self.vocab_size)
        return {CONFIG_NAME: meta, SPM_NAME: self._proto}

    @classmethod
    def _from_saved(cls, path: Path, cfg: dict[str, Any]) -> SentencePieceTokenizer:
        name = cfg.get("model_file")
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise SeqgenError(
                f"'model_file' must be a file name beside {CONFIG_NAME}, got {name!r} in {path}"
            )
        folder = path.parent
        model = folder / name
        if not model.is_file():
            raise SeqgenError(f"sentencepiece model file missing: {model}")
        try:
            tok = cls(model.read_bytes(), str(cfg.get("model_type", "unigram")))
        except SeqgenError as e:
            raise SeqgenError(f"{e}: {model}") from None
        if cfg.get("vocab_size") != tok.vocab_size:  # a model file cut at a piece boundary still parses
            raise SeqgenError(
                f"{path} says vocab_size {cfg.get('vocab_size')!r} but {model} has {tok.vocab_size} pieces"
            )
        return tok


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
