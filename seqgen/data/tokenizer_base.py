"""The interface every seqgen tokenizer has, its special ids, and the saved tokenizer folder.

Every kind uses the same special ids: pad=0, bos=1, eos=2, unk=3, so data, models and metrics never ask which
kind they have. ``encode`` adds no BOS/EOS (the data pipeline does); ``decode`` drops pad/bos/eos.

A saved tokenizer is a folder holding ``tokenizer.json`` (kind, special ids, and the vocabulary for char/word)
and, for sentencepiece, the model file ``spm.model`` beside it. Nothing is pickled. Each kind reads its own
part back (`Tokenizer._from_saved`); the kinds register with `load_tokenizer` by the `_loadable` decorator,
so this module never imports them (seqgen.tokenization imports them all).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from seqgen.atomic import atomic_dir
from seqgen.errors import SeqgenError

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")  # the pieces at ids 0..3, also sentencepiece's defaults
CONFIG_NAME = "tokenizer.json"
SPM_NAME = "spm.model"
KINDS = ("char", "word", "sentencepiece")
_ID_KEYS = ("pad_id", "bos_id", "eos_id", "unk_id")


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
    def char_ends(self, text: str) -> list[int]:
        """Where each token of ``encode(text)`` ends in `text`, in characters: token k stands for
        ``text[ends[k-1]:ends[k]]`` (a token owns the whitespace before it). ``text[ends[-1]:]`` (trailing
        whitespace; all of `text` when it has no tokens) belongs to no token: it goes with the EOS after it.
        This is how a likelihood's characters and words are counted on the text (seqgen.data.text_coverage).
        """

    @abstractmethod
    def _decode(self, ids: list[int]) -> str: ...

    @abstractmethod
    def id_to_token(self, i: int) -> str: ...

    @abstractmethod
    def _files(self) -> dict[str, bytes]:
        """The saved form: file name -> content (always including tokenizer.json)."""

    @classmethod
    @abstractmethod
    def _from_saved(cls, path: Path, cfg: dict[str, Any]) -> Tokenizer:
        """The tokenizer whose checked `tokenizer.json` (at `path`) is `cfg`; problems name the path."""

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


_LOADABLE: dict[str, type[Tokenizer]] = {}  # kind -> class, filled by @_loadable
_T = TypeVar("_T", bound=type[Tokenizer])


def _loadable(cls: _T) -> _T:
    """Class decorator: `load_tokenizer` reads folders of this kind with ``cls._from_saved``."""
    _LOADABLE[cls.kind] = cls
    return cls


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
    if kind is None and _is_hugging_face(cfg):
        raise SeqgenError(
            f"{path} is a Hugging Face tokenizer (as a run's generator/ folder holds), not a seqgen "
            "tokenizer folder: give the run's tokenizer/ folder"
        )
    if kind not in KINDS:
        raise SeqgenError(f"unknown tokenizer kind {kind!r} in {path} (expected {', '.join(KINDS)})")
    ids = tuple(cfg.get(k) for k in _ID_KEYS)
    if ids != (PAD_ID, BOS_ID, EOS_ID, UNK_ID):
        raise SeqgenError(f"special ids pad,bos,eos,unk must be 0,1,2,3, got {ids} in {path}")
    kind_class = _LOADABLE.get(kind)
    if kind_class is None:  # its module was never imported; seqgen.tokenization imports every kind
        raise SeqgenError(f"the {kind} tokenizer is not loaded: import seqgen.tokenization first")
    return kind_class._from_saved(path, cfg)


def _is_hugging_face(cfg: Any) -> bool:
    """Whether a tokenizer.json's contents are the `tokenizers` library's format (a generator folder's)."""
    return isinstance(cfg, dict) and "model" in cfg and "kind" not in cfg


def _is_tokenizer_folder(folder: Path) -> bool:
    """A folder with seqgen's tokenizer.json (even a damaged one), not a generator folder's HF one."""
    path = folder / CONFIG_NAME
    if not path.is_file():
        return False
    try:
        return not _is_hugging_face(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return True


def _write_folder_atomically(target: Path, files: dict[str, bytes]) -> None:
    """Write `files` as the folder `target`, atomically (seqgen.atomic). A non-empty folder that is not a
    tokenizer folder is never replaced, so a mistyped path cannot wipe a run folder or a generator folder."""
    if target.exists() and not target.is_dir():
        raise SeqgenError(f"cannot save a tokenizer to {target}: it is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not _is_tokenizer_folder(target):
        raise SeqgenError(f"refusing to replace {target}: it is not empty and is not a tokenizer folder")
    with atomic_dir(target) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
