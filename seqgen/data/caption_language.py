"""The caption language: seqgen's embedded default corpus, a weighted finite-state language with exact P(x).

Sentences read like COCO captions ("a man riding a horse on the beach .", "two dogs are playing with a frisbee
in a park ."). The language is a phrase-structure grammar with fixed weights (`caption_words.sentence()`,
written with the combinators of `seqgen.data.grammar`), compiled into a weighted finite-state automaton
(`seqgen.data.grammar_compiler`):

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
from collections.abc import Sequence

import numpy as np

from seqgen.data.caption_words import sentence
from seqgen.data.grammar import Expr
from seqgen.data.grammar_compiler import compile_grammar, determinize_automaton
from seqgen.errors import SeqgenError

_STOP = -1  # the pseudo-token of "end of sentence" in the sampler's tables

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
        n, transitions, stop_probs = compile_grammar(expr, determinize)
        return cls(n, 0, transitions, stop_probs, min_len, max_len)

    def determinized(self) -> CaptionLanguage:
        """The same distribution as a deterministic, minimal automaton (self if already deterministic)."""
        return self if self.is_deterministic else self._determinized

    @functools.cached_property
    def _determinized(self) -> CaptionLanguage:
        n, transitions, stop_probs = determinize_automaton(
            self.start, self.transitions, self.stop_probs.tolist()
        )
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
