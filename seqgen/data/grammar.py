"""Phrase-structure expressions: the notation a weighted grammar is written in (`caption_words.sentence()`).

An expression is a token (`Tok`), parts one after another (`Seq`) or a weighted choice (`Alt`); the
combinators `phrase`, `seq`, `alt`, `opt` and `words` build them from strings ("on the beach", "hot_dog" for
the one entry "hot dog"). `ARTICLE` ("a/an") stands for the indefinite article, which compiling the grammar
(`seqgen.data.grammar_compiler`) resolves to "a" or "an" by the word that follows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from seqgen.errors import SeqgenError

ARTICLE = "a/an"  # written in the grammar, replaced by "a" or "an" when compiled


@dataclass(frozen=True)
class Tok:
    """One token."""

    word: str


@dataclass(frozen=True)
class Seq:
    """The parts one after another (no parts: the empty phrase)."""

    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class Alt:
    """One of the options, chosen with probability proportional to its weight."""

    options: tuple[tuple[float, Expr], ...]


Expr = Tok | Seq | Alt
Part = str | Expr  # a string is a phrase: space-separated tokens, "_" joins words of one entry


def phrase(text: str) -> Expr:
    """Fixed tokens: "on the beach" (and "hot_dog" is "hot dog")."""
    tokens = text.replace("_", " ").split()
    return Tok(tokens[0]) if len(tokens) == 1 else Seq(tuple(Tok(t) for t in tokens))


def _expr(part: Part) -> Expr:
    return phrase(part) if isinstance(part, str) else part


def seq(*parts: Part) -> Expr:
    """The parts in order; strings are phrases ("on the beach")."""
    return Seq(tuple(_expr(p) for p in parts))


def alt(*options: Part | tuple[float, Part]) -> Expr:
    """A choice: each option is a part (weight 1) or a (weight, part) pair."""
    pairs = []
    for o in options:
        w, p = o if isinstance(o, tuple) else (1.0, o)
        if not w > 0:
            raise SeqgenError(f"grammar: option weights must be positive, got {w}")
        pairs.append((float(w), _expr(p)))
    if not pairs:
        raise SeqgenError("grammar: a choice needs at least one option")
    return Alt(tuple(pairs))


def opt(part: Part, p: float) -> Expr:
    """The part with probability p, else nothing."""
    if not 0 < p <= 1:
        raise SeqgenError(f"grammar: an optional part needs 0 < p <= 1, got {p}")
    return _expr(part) if p == 1 else Alt(((p, _expr(part)), (1.0 - p, Seq(()))))


def words(entries: str | Iterable[str]) -> Expr:
    """A uniform choice among word-list entries ("red white black_and_white" or a list of phrases)."""
    items = entries.split() if isinstance(entries, str) else list(entries)
    return alt(*items)
