"""Sentence -> word tokens for BLEU and Self-BLEU. The tokenization is part of the BLEU protocol.

Schemes (name every table's scheme in its header), defined in seqgen.data.word_split (word tokenizers with
`tokenizer.split` use the same rules): ``treebank`` (default; nltk's ``word_tokenize(line,
preserve_line=True)``, the rules Texygen applied to every line; on COCO it matters: the references attach
final periods, "at night.", while generated samples separate them, and treebank splits both the same way:
mle.txt BLEU-2 0.731 instead of 0.675 by whitespace), ``13a`` (sacrebleu's mteval-v13a tokenizer, the WMT
default, then split on whitespace) and ``whitespace`` (``str.split()``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from seqgen.data.word_split import SCHEMES, split_words
from seqgen.errors import SeqgenError

DEFAULT_SCHEME = "treebank"
__all__ = ["DEFAULT_SCHEME", "SCHEMES", "read_lines", "tokenize", "tokenize_file", "tokenize_lines"]


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise SeqgenError(f"unknown BLEU tokenization {scheme!r}; choose one of {', '.join(SCHEMES)}")


def tokenize(line: str, scheme: str = DEFAULT_SCHEME) -> list[str]:
    """The word tokens of one line under `scheme` (one of SCHEMES)."""
    _check_scheme(scheme)
    return split_words(line, scheme)


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
