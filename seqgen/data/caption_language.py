"""The caption language: seqgen's embedded default corpus, a weighted finite-state language with exact P(x).

Sentences read like COCO captions ("a man riding a horse on the beach .", "two dogs are playing with a frisbee
in a park ."). The language is a phrase-structure grammar with fixed weights (`caption_words.sentence()`,
written with the combinators `seq`, `alt`, `opt`, `words` defined here), compiled into a weighted finite-state
automaton:

    grammar --Thompson--> epsilon-NFA --epsilon removal--> NFA --"a/an" resolution--> NFA
            --weighted determinisation--> DFA --minimisation--> `CaptionLanguage`

Because the result is finite-state, P(x) of any token sequence is exact (`log_prob`: the forward algorithm,
which sums over all paths, so it is right for ambiguous automata too), and so are the entropy H(P) and the
expected length (a dynamic programme over lengths). Every path has 5 to 20 tokens by construction (the grammar
has no loops and the constructor checks the bound), so `sample` draws from exactly the distribution `log_prob`
scores: no rejection, no normaliser. Only `sample` is random (through its seed), so the language is the same
on every machine, and nothing is downloaded.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from seqgen.errors import SeqgenError

ARTICLE = "a/an"  # written in the grammar, replaced by "a" or "an" when compiled
_STOP = -1  # the pseudo-token of "end of sentence" in the sampler's tables

# ============================================================================================================
# Phrase-structure expressions
# ============================================================================================================


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


# ============================================================================================================
# Compiling an expression into a weighted automaton
# ============================================================================================================

Arcs = dict[int, list[tuple[str, int, float]]]  # state -> [(token, next state, probability)]


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


# ============================================================================================================
# The automaton
# ============================================================================================================


class CaptionLanguage:
    """A weighted finite-state language over whole sentences, with exact log-probabilities.

    States are 0..n_states-1; `transitions` are (state, token, next_state, prob); `stop_probs[s]` is the
    probability of ending the sentence in state s. Out of every state the arc probabilities and the stop
    probability sum to 1, and every path from `start` to a stop has `min_len`..`max_len` tokens (checked
    here), so the automaton defines a probability distribution over sentences of those lengths.
    """

    def __init__(
        self,
        n_states: int,
        start: int,
        transitions: Sequence[tuple[int, str, int, float]],
        stop_probs: Sequence[float],
        min_len: int = 5,
        max_len: int = 20,
    ) -> None:
        self.n_states, self.start, self.min_len, self.max_len = int(n_states), int(start), min_len, max_len
        self.vocab: list[str] = sorted({tok for _, tok, _, _ in transitions})
        self._id = {tok: i for i, tok in enumerate(self.vocab)}
        rows = sorted((s, self._id[tok], d, p) for s, tok, d, p in transitions)
        self._src = np.array([r[0] for r in rows], dtype=np.int64)
        self._tok = np.array([r[1] for r in rows], dtype=np.int64)
        self._dst = np.array([r[2] for r in rows], dtype=np.int64)
        self._prob = np.array([r[3] for r in rows], dtype=np.float64)
        self.stop_probs = np.asarray(stop_probs, dtype=np.float64)
        self._check()
        self._next: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
        for s, t, d, p in rows:
            self._next[s, t].append((d, p))
        self.is_deterministic = all(len(v) == 1 for v in self._next.values())
        self._build_sampler()

    # --- construction -------------------------------------------------------------------------------------

    @classmethod
    def from_grammar(
        cls, expr: Expr, min_len: int = 5, max_len: int = 20, determinize: bool = True
    ) -> CaptionLanguage:
        """Compile a phrase-structure expression. With `determinize=False` the automaton may be ambiguous
        (several paths for one sentence); `log_prob` still sums them, `entropy` determinises first."""
        start, arcs, eps, final = _thompson(expr)
        out, stop = _remove_epsilons(start, arcs, eps, final)
        _resolve_articles(start, out, stop)
        if determinize:
            out, stop = _determinize(start, out, stop)
            out, stop, start = _minimize(0, out, stop)
        n, transitions, stop_probs = _topological(start, out, stop)
        return cls(n, 0, transitions, stop_probs, min_len, max_len)

    def determinized(self) -> CaptionLanguage:
        """The same distribution as a deterministic, minimal automaton (self if already deterministic)."""
        return self if self.is_deterministic else self._determinized

    @functools.cached_property
    def _determinized(self) -> CaptionLanguage:
        out: Arcs = defaultdict(list)
        for s, tok, d, p in self.transitions:
            out[s].append((tok, d, p))
        stop = dict(enumerate(self.stop_probs.tolist()))
        d_out, d_stop = _determinize(self.start, out, stop)
        m_out, m_stop, m_start = _minimize(0, d_out, d_stop)
        n, transitions, stop_probs = _topological(m_start, m_out, m_stop)
        return CaptionLanguage(n, 0, transitions, stop_probs, self.min_len, self.max_len)

    @property
    def transitions(self) -> list[tuple[int, str, int, float]]:
        """All arcs as (state, token, next_state, probability), sorted by state then token."""
        return [
            (int(s), self.vocab[t], int(d), float(p))
            for s, t, d, p in zip(self._src, self._tok, self._dst, self._prob, strict=True)
        ]

    def _check(self) -> None:
        n = self.n_states
        if not 0 <= self.start < n or len(self.stop_probs) != n:
            raise SeqgenError("caption language: start state or stop probabilities do not match n_states")
        if len(self._src) and (self._src.max() >= n or self._dst.max() >= n or self._dst.min() < 0):
            raise SeqgenError("caption language: a transition names a state outside 0..n_states-1")
        if not (np.all(self._prob > 0) and np.all(self._prob <= 1 + 1e-12)):
            raise SeqgenError("caption language: transition probabilities must be in (0, 1]")
        if not (np.all(self.stop_probs >= 0) and np.all(self.stop_probs <= 1 + 1e-12)):
            raise SeqgenError("caption language: stop probabilities must be in [0, 1]")
        total = np.bincount(self._src, weights=self._prob, minlength=n) + self.stop_probs
        bad = np.flatnonzero(np.abs(total - 1.0) > 1e-9)
        if len(bad):
            raise SeqgenError(f"caption language: probabilities out of state {bad[0]} sum to {total[bad[0]]}")
        # Breadth-first over lengths: no stop before min_len, no state reachable after max_len tokens (which
        # also proves there is no reachable loop, so lengths, entropy and the sampler are all bounded).
        reach = np.zeros(n, dtype=bool)
        reach[self.start] = True
        for k in range(self.max_len + 1):
            if k < self.min_len and np.any(self.stop_probs[reach] > 0):
                raise SeqgenError(
                    f"caption language: a sentence of {k} tokens is shorter than {self.min_len}"
                )
            nxt = np.zeros(n, dtype=bool)
            nxt[self._dst[reach[self._src]]] = True
            reach = nxt
        if reach.any():
            raise SeqgenError(f"caption language: a sentence can be longer than {self.max_len} tokens")

    # --- sampling -----------------------------------------------------------------------------------------

    def _build_sampler(self) -> None:
        # One table of all choices (arcs, then stop) grouped by state; for state s the cumulative
        # probabilities are s + cumsum(...) with the last one exactly s + 1, so one searchsorted of s + u
        # picks every row's choice at once.
        n = self.n_states
        has_stop = self.stop_probs > 0
        stop_states = np.flatnonzero(has_stop)
        src = np.concatenate([self._src, stop_states])
        order = np.argsort(src, kind="stable")
        self._s_src = src[order]
        self._s_tok = np.concatenate([self._tok, np.full(len(stop_states), _STOP)])[order]
        self._s_dst = np.concatenate([self._dst, np.full(len(stop_states), -1)])[order]
        prob = np.concatenate([self._prob, self.stop_probs[stop_states]])[order]
        cum = np.cumsum(prob)
        first = np.searchsorted(self._s_src, np.arange(n))
        last = np.searchsorted(self._s_src, np.arange(n), side="right") - 1
        starts_before = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
        self._s_cum = self._s_src + (cum - starts_before[self._s_src])
        has_choice = last >= first
        self._s_cum[last[has_choice]] = np.arange(n)[has_choice] + 1.0

    def sample(self, n: int, seed: int) -> list[str]:
        """`n` sentences (space-joined tokens, final "." included), deterministic for `seed`."""
        if n < 0 or seed < 0:
            raise SeqgenError(f"caption language: need n >= 0 and seed >= 0, got n={n} seed={seed}")
        rng = np.random.default_rng(seed)
        state = np.full(n, self.start, dtype=np.int64)
        tokens = np.full((n, self.max_len + 1), _STOP, dtype=np.int64)  # the last column stays empty
        alive = np.ones(n, dtype=bool)
        for k in range(self.max_len + 1):
            rows = np.flatnonzero(alive)
            if not len(rows):
                break
            u = rng.random(n)[rows]
            pick = np.searchsorted(self._s_cum, state[rows] + u, side="right")
            tok = self._s_tok[pick]
            ended = tok == _STOP
            alive[rows[ended]] = False
            go = rows[~ended]
            tokens[go, k] = tok[~ended]
            state[go] = self._s_dst[pick[~ended]]
        vocab = np.array(self.vocab + [""], dtype=object)
        return [" ".join(vocab[row[row >= 0]]) for row in tokens]

    # --- scoring ------------------------------------------------------------------------------------------

    def log_prob(self, sentence: str | Sequence[str]) -> float:
        """Natural log of P(sentence) by the forward algorithm (all paths summed); -inf if impossible.

        A string is split on whitespace; the final "." is a token of the sentence, end-of-sentence is not.
        """
        tokens = sentence.split() if isinstance(sentence, str) else list(sentence)
        if not self.min_len <= len(tokens) <= self.max_len:
            return -math.inf  # exact: the automaton has no path of any other length
        alpha = {self.start: 1.0}
        log_scale = 0.0
        for word in tokens:
            t = self._id.get(word)
            if t is None:
                return -math.inf
            nxt: dict[int, float] = {}
            for s, a in alpha.items():
                for d, p in self._next.get((s, t), ()):
                    nxt[d] = nxt.get(d, 0.0) + a * p
            if not nxt:
                return -math.inf
            z = sum(nxt.values())  # rescale each step so long sentences cannot underflow
            log_scale += math.log(z)
            alpha = {d: v / z for d, v in nxt.items()}
        end = sum(a * self.stop_probs[s] for s, a in alpha.items())
        return log_scale + math.log(end) if end > 0 else -math.inf

    def log_probs(self, sentences: Sequence[str | Sequence[str]]) -> np.ndarray:
        """`log_prob` of each sentence, as a float64 array."""
        return np.fromiter((self.log_prob(s) for s in sentences), dtype=np.float64, count=len(sentences))

    def is_valid(self, sentence: str | Sequence[str]) -> bool:
        """Whether the language can produce the sentence at all."""
        return self.log_prob(sentence) > -math.inf

    # --- exact summaries ----------------------------------------------------------------------------------

    @functools.cached_property
    def _forward_by_length(self) -> np.ndarray:
        """(max_len + 1, n_states): probability of being in each state after exactly k tokens."""
        reach = np.zeros((self.max_len + 1, self.n_states))
        reach[0, self.start] = 1.0
        for k in range(self.max_len):
            reach[k + 1] = np.bincount(
                self._dst, weights=self._prob * reach[k][self._src], minlength=self.n_states
            )
        return reach

    def length_distribution(self) -> np.ndarray:
        """P(sentence has k tokens) for k = 0..max_len (exact)."""
        return self._forward_by_length @ self.stop_probs

    def expected_length(self) -> float:
        """Expected number of tokens per sentence, the "." included and end-of-sentence not."""
        dist = self.length_distribution()
        return float(np.arange(len(dist)) @ dist)

    def entropy(self) -> float:
        """Exact entropy H(P) in nats per sentence.

        On a deterministic automaton each sentence is one path, so H is the expected sum of the entropies of
        the choices made along it (next token or stop): the sum over k and s of P(in s after k tokens) times
        H(choice at s).
        An ambiguous automaton is determinised first (its path entropy would overstate H).
        """
        if not self.is_deterministic:
            return self.determinized().entropy()
        p = self._prob
        local = np.bincount(self._src, weights=-p * np.log(p), minlength=self.n_states)
        s = self.stop_probs
        local -= np.where(s > 0, s * np.log(np.where(s > 0, s, 1.0)), 0.0)
        return float(self._forward_by_length.sum(axis=0) @ local)

    def optimal_nll_per_token(self) -> float:
        """The floor of held-out NLL in nats per token for a model that predicts every token and EOS.

        A perfect model pays -log P(x) = H per sentence on average, spread over expected_length() + 1
        predictions (the tokens plus EOS); seqgen's NLL per token is total NLL over total tokens, which on a
        large held-out sample tends to H / (expected_length() + 1). No model can do better in expectation.
        """
        return self.entropy() / (self.expected_length() + 1.0)


# ============================================================================================================
# Public entry points
# ============================================================================================================


@functools.cache
def caption_language() -> CaptionLanguage:
    """The default caption language (built once per process, then cached; about half a second)."""
    from seqgen.data.caption_words import sentence  # the words import this module's combinators

    return CaptionLanguage.from_grammar(sentence())


def caption_splits(n_train: int, n_heldout: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """(train, valid, test) sentences of the default language: `n_train`, `n_heldout` and `n_heldout` i.i.d.
    draws with three seeds derived from `seed`. Splits may share frequent sentences: they are samples of one
    distribution, and the oracle NLL is defined against that distribution, not against the train set."""
    if n_train < 0 or n_heldout < 0 or seed < 0:
        raise SeqgenError(f"caption splits: need sizes and seed >= 0, got {n_train=} {n_heldout=} {seed=}")
    lang = caption_language()
    seeds = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint64)
    return (
        lang.sample(n_train, int(seeds[0])),
        lang.sample(n_heldout, int(seeds[1])),
        lang.sample(n_heldout, int(seeds[2])),
    )
