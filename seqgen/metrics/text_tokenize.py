"""Sentence -> word tokens for BLEU and Self-BLEU. The tokenization is part of the BLEU protocol.

Schemes (name every table's scheme in its header):

- ``treebank`` (default): nltk's ``word_tokenize(line, preserve_line=True)``, the Treebank-style rules Texygen
  applied to every line. ``preserve_line=True`` skips Punkt sentence splitting, so no nltk data is needed. On
  COCO it matters: the references attach final periods ("at night.") while generated samples separate them
  ("at night ."), and treebank splits both the same way (mle.txt BLEU-2 0.731 instead of 0.675 by whitespace).
- ``13a``: sacrebleu's 13a tokenizer (mteval-v13a, the WMT default), then split on whitespace.
- ``whitespace``: ``str.split()``.

Speed: nltk's tokenizer runs ~30 regular-expression passes a line (about 80 us, so 1.6 s for the 20,000
lines of one Texygen row). Most generated and caption lines are plain: ASCII letters, digits and spaces with
at most a final period. For those the Treebank rules reduce to "split on whitespace, detach the final period",
except for the few words nltk splits without punctuation (cannot, gimme, gonna, gotta, lemme, wanna), which
go to nltk like every other line. tests/test_bleu.py checks this fast path against nltk itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

from seqgen.errors import SeqgenError

SCHEMES = ("treebank", "13a", "whitespace")
DEFAULT_SCHEME = "treebank"

# Lines nltk's rules only split on whitespace, plus an optional final period (only whitespace after it).
_PLAIN = re.compile(r"[A-Za-z0-9 \t\r\n]*")
_PLAIN_FINAL_PERIOD = re.compile(r"([A-Za-z0-9 \t\r\n]*)\.[ \t\r\n]*")
# Words nltk's MacIntyre contraction rules split with no punctuation present (its CONTRACTIONS2, minus those
# needing an apostrophe). Matching a superset of nltk's patterns is safe: such lines take the slow path.
_CONTRACTION = re.compile(r"(?i)\b(?:cannot|gimme|gonna|gotta|lemme|wanna)\b")


@cache
def _nltk_word_tokenize() -> Callable[[str], list[str]]:
    try:
        from nltk.tokenize import NLTKWordTokenizer
    except ImportError as err:  # nltk is an optional dependency
        raise SeqgenError("the treebank BLEU tokenization needs nltk: pip install nltk") from err
    # word_tokenize(line, preserve_line=True) is exactly this tokenizer on the whole line.
    return NLTKWordTokenizer().tokenize


@cache
def _sacrebleu_13a() -> Callable[[str], str]:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    return Tokenizer13a()


def _treebank(line: str) -> list[str]:
    if not _CONTRACTION.search(line):
        if _PLAIN.fullmatch(line):
            return line.split()
        m = _PLAIN_FINAL_PERIOD.fullmatch(line)
        if m:
            return [*m.group(1).split(), "."]
    return _nltk_word_tokenize()(line)


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise SeqgenError(f"unknown BLEU tokenization {scheme!r}; choose one of {', '.join(SCHEMES)}")


def tokenize(line: str, scheme: str = DEFAULT_SCHEME) -> list[str]:
    """The word tokens of one line under `scheme` (one of SCHEMES)."""
    _check_scheme(scheme)
    if scheme == "treebank":
        return _treebank(line)
    if scheme == "13a":
        return _sacrebleu_13a()(line).split()
    return line.split()


def tokenize_lines(lines: Iterable[str], scheme: str = DEFAULT_SCHEME) -> list[list[str]]:
    """`tokenize` for every line, in order."""
    _check_scheme(scheme)
    return [tokenize(line, scheme) for line in lines]


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file, without their newlines, as Python's file iteration splits them.

    Blank lines are kept: a generated sample can be empty, and Texygen scored such samples (as 0). Only the
    newline ending the last line does not start another line. A leading byte-order mark is dropped. A file
    with no text (empty, or blank lines only) is refused.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SeqgenError(f"no such file: {p}") from None
    except IsADirectoryError:
        raise SeqgenError(f"expected a text file, got a folder: {p}") from None
    except UnicodeDecodeError as err:
        raise SeqgenError(f"{p} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise SeqgenError(f"cannot read {p}: {err.strerror}") from None
    text = text.removeprefix("\ufeff")
    if not text:
        raise SeqgenError(f"{p} is empty")
    lines = text.split("\n")  # read_text already turned CRLF and CR into LF, as file iteration does
    if lines[-1] == "":
        lines.pop()
    # Some blank samples are real data, but a file of nothing else scores BLEU 0.0 as if it were a result.
    if not text.strip():
        n = len(lines)
        raise SeqgenError(f"{p} has no text, only {n} blank line{'' if n == 1 else 's'}")
    return lines


def tokenize_file(path: str | Path, scheme: str = DEFAULT_SCHEME) -> list[list[str]]:
    """`read_lines` then `tokenize_lines`: one token list per line of the file."""
    return tokenize_lines(read_lines(path), scheme)
