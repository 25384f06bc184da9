"""Compiling a phrase-structure expression (`seqgen.data.grammar`) into a weighted finite-state automaton:

    grammar --Thompson--> epsilon-NFA --epsilon removal--> NFA --"a/an" resolution--> NFA
            --weighted determinisation--> DFA --minimisation--> states in topological order

Every step keeps the distribution over strings. The result, (n_states, transitions, stop probabilities) with
the start state 0, is what `CaptionLanguage` is built from.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence

from seqgen.data.grammar import ARTICLE, Expr, Seq, Tok
from seqgen.errors import SeqgenError

Transition = tuple[int, str, int, float]  # (state, token, next state, probability)
Arcs = dict[int, list[tuple[str, int, float]]]  # state -> [(token, next state, probability)]


def compile_grammar(expr: Expr, determinize: bool = True) -> tuple[int, list[Transition], list[float]]:
    """(n_states, transitions, stop probabilities) of an automaton for `expr`, start state 0. With
    `determinize=False` it may be ambiguous (several paths for one sentence)."""
    start, arcs, eps, final = _thompson(expr)
    out, stop = _remove_epsilons(start, arcs, eps, final)
    _resolve_articles(start, out, stop)
    if determinize:
        out, stop = _determinize(start, out, stop)
        out, stop, start = _minimize(0, out, stop)
    return _topological(start, out, stop)


def determinize_automaton(
    start: int, transitions: Sequence[Transition], stop_probs: Sequence[float]
) -> tuple[int, list[Transition], list[float]]:
    """The same distribution as a deterministic, minimal automaton, start state 0."""
    out: Arcs = defaultdict(list)
    for s, tok, d, p in transitions:
        out[s].append((tok, d, p))
    stop = dict(enumerate(stop_probs))
    d_out, d_stop = _determinize(start, out, stop)
    m_out, m_stop, m_start = _minimize(0, d_out, d_stop)
    return _topological(m_start, m_out, m_stop)


def _thompson(expr: Expr) -> tuple[int, Arcs, dict[int, list[tuple[int, float]]], int]:
    """An epsilon-NFA for `expr`: (start, token arcs, epsilon arcs, final). Loop-free because `expr` is."""
    arcs: Arcs = defaultdict(list)
    eps: dict[int, list[tuple[int, float]]] = defaultdict(list)
    count = [0]

    def new() -> int:
        count[0] += 1
        return count[0] - 1

    def build(e: Expr, src: int, dst: int) -> None:
        if isinstance(e, Tok):
            arcs[src].append((e.word, dst, 1.0))
        elif isinstance(e, Seq):
            if not e.parts:
                eps[src].append((dst, 1.0))
            at = src
            for i, part in enumerate(e.parts):
                nxt = dst if i == len(e.parts) - 1 else new()
                build(part, at, nxt)
                at = nxt
        else:
            total = sum(w for w, _ in e.options)
            for w, option in e.options:
                if isinstance(option, Tok):
                    arcs[src].append((option.word, dst, w / total))
                else:
                    mid = new()
                    eps[src].append((mid, w / total))
                    build(option, mid, dst)

    start, final = new(), new()
    build(expr, start, final)
    return start, arcs, eps, final


def _remove_epsilons(start: int, arcs: Arcs, eps: Mapping, final: int) -> tuple[Arcs, dict[int, float]]:
    """The same string distribution without epsilon arcs; only states reachable from `start` are kept."""

    @functools.cache
    def closure(q: int) -> tuple[tuple[int, float], ...]:
        total: dict[int, float] = defaultdict(float)
        total[q] += 1.0
        for m, w in eps.get(q, ()):
            for r, c in closure(m):
                total[r] += w * c
        return tuple(total.items())

    out: Arcs = {}
    stop: dict[int, float] = {}
    todo, seen = [start], {start}
    while todo:
        q = todo.pop()
        merged: dict[tuple[str, int], float] = defaultdict(float)
        for r, c in closure(q):
            if r == final:
                stop[q] = stop.get(q, 0.0) + c
            for tok, d, p in arcs.get(r, ()):
                merged[tok, d] += c * p
        out[q] = [(tok, d, p) for (tok, d), p in merged.items()]
        for _tok, d, _p in out[q]:
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return out, stop


_AN_EXCEPTIONS = {"one", "once", "uniform", "university", "unicorn", "used", "user", "european", "ufo"}
_AN_SILENT_H = {"hour", "honest", "honor"}


def takes_an(word: str) -> bool:
    """Whether the indefinite article before `word` is "an" (spelling rule plus the usual exceptions)."""
    w = word.lower()
    return (w[:1] in set("aeiou") and w not in _AN_EXCEPTIONS) or w in _AN_SILENT_H


def _resolve_articles(start: int, out: Arcs, stop: dict[int, float]) -> None:
    """Replace every "a/an" arc by an "a" arc and an "an" arc, in place, keeping the string distribution.

    An arc q --a/an--> r becomes q --a--> r_a and q --an--> r_an, where r_a is a copy of r that keeps only
    the arcs whose token takes "a" (renormalised) and the "a" arc carries their share of the mass; the same
    for "an". Needs r to have no stop mass and no "a/an" arc of its own.
    """
    copies: dict[tuple[int, bool], tuple[int, float]] = {}
    next_id = max(out) + 1
    for q in list(out):
        new_arcs = []
        for tok, r, p in out[q]:
            if tok != ARTICLE:
                new_arcs.append((tok, r, p))
                continue
            if stop.get(r, 0.0) > 0 or any(t == ARTICLE for t, _, _ in out[r]):
                raise SeqgenError('grammar: "a/an" must be followed by a word')
            for an in (False, True):
                if (r, an) not in copies:
                    kept = [(t, d, pp) for t, d, pp in out[r] if takes_an(t) == an]
                    mass = sum(pp for _, _, pp in kept)
                    if kept:
                        out[next_id] = [(t, d, pp / mass) for t, d, pp in kept]
                    copies[r, an] = (next_id, mass)
                    next_id += 1
                copy, mass = copies[r, an]
                if mass > 0:
                    new_arcs.append(("an" if an else "a", copy, p * mass))
        out[q] = new_arcs


def _determinize(start: int, out: Arcs, stop: Mapping[int, float]) -> tuple[Arcs, dict[int, float]]:
    """Weighted subset construction: a DFA state is a distribution over NFA states (the forward vector,
    normalised), and its arc for a token carries the mass the NFA gives that token. It terminates because the
    automaton is loop-free; the string distribution is unchanged, and now each string has one path, so the
    path entropy is the sentence entropy. Beliefs equal to 12 decimals are merged (error ~1e-12)."""
    beliefs: list[dict[int, float]] = [{start: 1.0}]
    index = {((start, 1.0),): 0}
    d_out: Arcs = {}
    d_stop: dict[int, float] = {}
    i = 0
    while i < len(beliefs):
        moves: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        s = 0.0
        for q, w in beliefs[i].items():
            s += w * stop.get(q, 0.0)
            for tok, d, p in out.get(q, ()):
                moves[tok][d] += w * p
        d_stop[i] = s
        d_out[i] = []
        for tok, nxt in moves.items():
            mass = sum(nxt.values())
            belief = {d: v / mass for d, v in nxt.items()}
            key = tuple(sorted((d, round(v, 12)) for d, v in belief.items()))
            j = index.get(key)
            if j is None:
                j = index[key] = len(beliefs)
                beliefs.append(belief)
            d_out[i].append((tok, j, mass))
        i += 1
    return d_out, d_stop


def _postorder(start: int, out: Arcs) -> list[int]:
    """States reachable from `start`, each after all the states it leads to (the automaton is loop-free)."""
    order, done = [], set()
    stack = [(start, iter(out.get(start, ())))]
    done.add(start)
    while stack:
        q, it = stack[-1]
        for _, d, _ in it:
            if d not in done:
                done.add(d)
                stack.append((d, iter(out.get(d, ()))))
                break
        else:
            stack.pop()
            order.append(q)
    return order


def _minimize(start: int, out: Arcs, stop: Mapping[int, float]) -> tuple[Arcs, dict[int, float], int]:
    """Merge states with the same future (same stop mass, same arcs to merged states), leaves first."""
    cls: dict[int, int] = {}
    sig_to_cls: dict[tuple, int] = {}
    rep: list[int] = []
    for q in _postorder(start, out):
        sig = (
            round(stop.get(q, 0.0), 12),
            tuple(sorted((tok, round(p, 12), cls[d]) for tok, d, p in out.get(q, ()))),
        )
        if sig not in sig_to_cls:
            sig_to_cls[sig] = len(rep)
            rep.append(q)
        cls[q] = sig_to_cls[sig]
    m_out = {c: [(tok, cls[d], p) for tok, d, p in out.get(q, ())] for c, q in enumerate(rep)}
    m_stop = {c: stop.get(q, 0.0) for c, q in enumerate(rep)}
    return m_out, m_stop, cls[start]


def _topological(start: int, out: Arcs, stop: Mapping[int, float]) -> tuple[int, list, list[float]]:
    """Renumber states 0..n-1 in topological order (start = 0): (n, transitions, stop probabilities)."""
    order = _postorder(start, out)[::-1]
    new = {q: i for i, q in enumerate(order)}
    transitions = [(new[q], tok, new[d], p) for q in order for tok, d, p in sorted(out.get(q, ()))]
    return len(order), transitions, [stop.get(q, 0.0) for q in order]
