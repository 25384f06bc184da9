"""Sentence -> words: the splitting schemes of word tokenizers and of BLEU (one definition for both).

- ``whitespace``: ``str.split()``.
- ``treebank``: nltk's ``word_tokenize(line, preserve_line=True)``, the Treebank-style rules Texygen applied
  to every line. ``preserve_line=True`` skips Punkt sentence splitting, so no nltk data is needed. On COCO it
  matters: the references attach final periods ("at night.") while generated samples separate them
  ("at night ."); treebank splits both the same way. A word tokenizer that splits on whitespace makes
  "night." a word of its own (40% of COCO's test sentences then hold an `<unk>` for the LM scores).
- ``13a``: sacrebleu's 13a tokenizer (mteval-v13a, the WMT default), then split on whitespace.

Speed: nltk's tokenizer runs ~30 regular-expression passes a line (about 80 us). Most generated and caption
lines are plain: ASCII letters, digits and spaces with at most a final period. For those the Treebank rules
reduce to "split on whitespace, detach the final period", except for the few words nltk splits without
punctuation (cannot, gimme, gonna, gotta, lemme, wanna), which go to nltk like every other line.
tests/test_bleu.py checks this fast path against nltk itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from seqgen.errors import SeqgenError

SCHEMES = ("treebank", "13a", "whitespace")

# Lines nltk's rules only split on whitespace, plus an optional final period (only whitespace after it).
_PLAIN = re.compile(r"[A-Za-z0-9 \t\r\n]*")
_PLAIN_FINAL_PERIOD = re.compile(r"([A-Za-z0-9 \t\r\n]*)\.[ \t\r\n]*")
# Words nltk's MacIntyre contraction rules split with no punctuation present (its CONTRACTIONS2, minus those
# needing an apostrophe). Matching a superset of nltk's patterns is safe: such lines take the slow path.
_CONTRACTION = re.compile(r"(?i)\b(?:cannot|gimme|gonna|gotta|lemme|wanna)\b")
_WORD_RE = re.compile(r"\S+")


@cache
def _nltk_tokenizer() -> Any:
    try:
        from nltk.tokenize import NLTKWordTokenizer
    except ImportError as err:  # nltk is an optional dependency
        raise SeqgenError("the treebank word splitting needs nltk: pip install nltk") from err
    # word_tokenize(line, preserve_line=True) is exactly this tokenizer on the whole line.
    return NLTKWordTokenizer()


@cache
def _sacrebleu_13a() -> Callable[[str], str]:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    return Tokenizer13a()


def _plain(line: str) -> re.Match[str] | None:
    """The fast path's match (group 1 without the final period, if any), or None for nltk's path."""
    if _CONTRACTION.search(line):
        return None
    return _PLAIN.fullmatch(line) or _PLAIN_FINAL_PERIOD.fullmatch(line)


def _treebank(line: str) -> list[str]:
    m = _plain(line)
    if m is None:
        return _nltk_tokenizer().tokenize(line)
    if m.re is _PLAIN:
        return line.split()
    return [*m.group(1).split(), "."]


def check_scheme(scheme: str) -> None:
    """Refuse an unknown scheme, naming the known ones."""
    if scheme not in SCHEMES:
        raise SeqgenError(f"unknown word splitting {scheme!r}; choose one of {', '.join(SCHEMES)}")


def split_words(line: str, scheme: str) -> list[str]:
    """The words of one line under `scheme` (one of SCHEMES)."""
    if scheme == "whitespace":
        return line.split()
    if scheme == "treebank":
        return _treebank(line)
    check_scheme(scheme)
    return _sacrebleu_13a()(line).split()


def word_ends(line: str, scheme: str) -> list[int]:
    """Where each word of ``split_words(line, scheme)`` ends in `line`, in characters (for whitespace and
    treebank; 13a rewrites the text, so its words have no positions in it)."""
    if scheme == "whitespace":
        return [m.end() for m in _WORD_RE.finditer(line)]  # \S+ runs are exactly str.split()'s words
    if scheme != "treebank":
        check_scheme(scheme)
        raise SeqgenError(f"the {scheme} word splitting rewrites the text, so its words have no positions")
    m = _plain(line)
    if m is None:
        return _nltk_ends(line)
    if m.re is _PLAIN:
        return [w.end() for w in _WORD_RE.finditer(line)]
    head = m.group(1)
    return [*(w.end() for w in _WORD_RE.finditer(head)), len(head) + 1]


def _nltk_ends(line: str) -> list[int]:
    tok = _nltk_tokenizer()
    try:
        return [end for _, end in tok.span_tokenize(line)]
    except ValueError:  # nltk cannot align a rewritten token (some quote forms): find each one after the last
        ends, at = [], 0
        for word in tok.tokenize(line):
            found = line.find(word, at)
            at = found + len(word) if found >= 0 else at
            ends.append(at)
        return ends
