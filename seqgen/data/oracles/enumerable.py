"""The enumerable oracle: a known distribution P over all V^L sequences, small enough to list every sequence.

With V <= 8 symbols and length L <= 8 there are at most 8^8 = 16.8M sequences, so P(x) and a model's Q(x) are
known for every x and divergences between them are exact sums, not estimates. That is what shows what a
training objective really learns (DESIGN §5, §7): e.g. scheduled sampling with p_gold = 0 converges to the
product of P's marginals, whose distance from P is `kl(P, product_of_marginals())`.

P is a left-to-right process with a tunable `dependence` between positions (0 = independent positions):
- "lstm": a random LSTM reads x_1..x_{t-1} into h_t (h_1 = 0); the logits of x_t are a per-position bias
  b_t plus `dependence * W h_t`, so b_1 alone sets x_1 (there is nothing before it to depend on).
- "hmm": K = `hidden` hidden states; transitions softmax(dependence * G) for a random Gaussian G (0 gives
  uniform rows, so the hidden states, and with them the symbols, are independent draws); state k emits
  mostly its favourite symbol k mod V (emission logits 4 * onehot + symbol_scale * N(0, 1)); uniform
  initial state.
For either kind, `symbol_offset` (V numbers, default all 0) is added to the logits of the next symbol at every
position, P(x_t | x_<t) proportional to P_0(x_t | x_<t) exp(offset[x_t]): a large negative offset gives a
symbol almost no mass, so P's support has a gap a generator can be started in (DESIGN §7).
Everything is drawn from a seeded CPU `torch.Generator` in float64, so an oracle is fully determined by its
`settings()` and a run rebuilds it from its config; nothing is saved.

Sequences are tensors of symbol indices 0..V-1 in lexicographic order (index = sum_t x_t V^(L-t)); as text,
symbol k is the word "s<k>", and `tokenizer()` gives it token id 4 + k (after the four special tokens; the
codec is `seqgen.data.oracles.symbols`).

A seqgen Generator's exact Q over the same V^L sequences is `model_distribution` in
`seqgen.metrics.exact_distribution` (see its docstring for the convention that makes Q a distribution).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import torch

from seqgen.data.config import ORACLE_KINDS
from seqgen.data.oracles.symbols import (
    draw_splits,
    index_to_sequences,
    symbol_tokenizer,
    symbols_to_texts,
    texts_to_symbols,
)
from seqgen.errors import SeqgenError
from seqgen.tokenization import WordTokenizer

KINDS = ORACLE_KINDS
DEFAULT_DEPENDENCE = 6.0  # KL(P || product of marginals) at V=4, L=5, seed 0: 0.875 nats (lstm), 1.62 (hmm)
_EMISSION_PEAK = 4.0  # HMM: logit bonus of a state's favourite symbol
_CHUNK = 1 << 16  # prefixes expanded at once when enumerating (bounds memory at V=8, L=8)


class EnumerableOracle:
    """A seeded distribution P over all V^L symbol sequences with exact probabilities (see the module doc).

    Settings: `vocab` V in 2..8, `length` L in 1..8, `kind` "lstm" or "hmm", `dependence` >= 0 (0 makes the
    positions independent; larger values make them more dependent), `seed`, `hidden` (LSTM hidden size or
    number of HMM states), `symbol_scale` >= 0 (std of the random logits that make some symbols likely on
    their own: the LSTM's per-position biases, the noise on the HMM's emission logits; for the LSTM, 0 with
    dependence 0 is the uniform distribution) and `symbol_offset` (V finite numbers added to the next symbol's
    logits at every position; None = all 0).

    Defaults: at V=4, L=5 the multi-information KL(P || product of marginals) is 0.875 nats (lstm) and 1.62
    (hmm); for L=2 every symbol has first-position probability >= 0.12 (V=4, seeds 0..19, both kinds).
    """

    def __init__(
        self,
        vocab: int = 4,
        length: int = 5,
        kind: str = "lstm",
        dependence: float = DEFAULT_DEPENDENCE,
        seed: int = 0,
        hidden: int = 16,
        symbol_scale: float = 0.3,
        symbol_offset: Sequence[float] | None = None,
    ) -> None:
        checks = (
            (isinstance(vocab, int) and 2 <= vocab <= 8, f"vocab must be an integer in 2..8, got {vocab!r}"),
            (
                isinstance(length, int) and 1 <= length <= 8,
                f"length must be an integer in 1..8, got {length!r}",
            ),
            (kind in KINDS, f"kind must be one of {', '.join(KINDS)}, got {kind!r}"),
            (_finite_nonneg(dependence), f"dependence must be a finite number >= 0, got {dependence!r}"),
            (isinstance(seed, int) and seed >= 0, f"seed must be an integer >= 0, got {seed!r}"),
            (isinstance(hidden, int) and 1 <= hidden <= 1024, f"hidden must be in 1..1024, got {hidden!r}"),
            (
                _finite_nonneg(symbol_scale),
                f"symbol_scale must be a finite number >= 0, got {symbol_scale!r}",
            ),
            (
                _offsets_ok(symbol_offset, vocab),
                f"symbol_offset must be {vocab} finite numbers (one per symbol), got {symbol_offset!r}",
            ),
        )
        problem = next((msg for ok, msg in checks if not ok), None)
        if problem:
            raise SeqgenError(f"enumerable oracle: {problem}")
        self.vocab, self.length, self.kind = vocab, length, kind
        self.dependence, self.seed = float(dependence), seed
        self.hidden, self.symbol_scale = hidden, float(symbol_scale)
        offset = (0.0,) * vocab if symbol_offset is None else tuple(float(v) for v in symbol_offset)
        self.symbol_offset = offset
        # None when all 0: the default oracle's numbers stay exactly those of the process without offsets.
        self._offset = torch.tensor(offset, dtype=torch.float64) if any(offset) else None
        self.params = _draw_params(kind, vocab, length, hidden, self.dependence, self.symbol_scale, seed)

    # --- identity -----------------------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """Everything that defines P: `EnumerableOracle(**oracle.settings())` is the same oracle."""
        return {
            "vocab": self.vocab,
            "length": self.length,
            "kind": self.kind,
            "dependence": self.dependence,
            "seed": self.seed,
            "hidden": self.hidden,
            "symbol_scale": self.symbol_scale,
            "symbol_offset": self.symbol_offset,
        }

    def __repr__(self) -> str:
        return "EnumerableOracle(" + ", ".join(f"{k}={v!r}" for k, v in self.settings().items()) + ")"

    @property
    def num_sequences(self) -> int:
        return self.vocab**self.length

    # --- the process, one position at a time ----------------------------------------------------------------
    # state: the LSTM's (h, c) after reading x_<t, or the HMM's distribution of hidden state z_t given x_<t.

    def _start(self, n: int) -> tuple[torch.Tensor, ...]:
        if self.kind == "lstm":
            zeros = torch.zeros(n, self.hidden, dtype=torch.float64)
            return zeros, zeros
        return (torch.full((n, self.hidden), 1.0 / self.hidden, dtype=torch.float64),)

    def _next_log_probs(self, state: tuple[torch.Tensor, ...], t: int) -> torch.Tensor:
        """log P(x_t = . | x_<t) for each row, (n, V); t is 0-based."""
        p = self.params
        if self.kind == "lstm":
            out = (p["bias"][t] + self.dependence * (state[0] @ p["w_out"].T)).log_softmax(dim=-1)
        else:
            out = (state[0] @ p["emission"]).log()
        return out if self._offset is None else (out + self._offset).log_softmax(dim=-1)

    def _advance(self, state: tuple[torch.Tensor, ...], symbols: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The state after also reading `symbols` (n,)."""
        p = self.params
        if self.kind == "lstm":
            h, c = state
            gates = p["embed"][symbols] @ p["w_ih"].T + h @ p["w_hh"].T
            i, f, g, o = gates.chunk(4, dim=-1)  # PyTorch's gate order, so nn.LSTMCell can check it
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        posterior = state[0] * p["emission"][:, symbols].T
        posterior = posterior / posterior.sum(dim=-1, keepdim=True)
        return (posterior @ p["transition"],)

    # --- exact tables -------------------------------------------------------------------------------------

    @cached_property
    def log_probs(self) -> torch.Tensor:
        """log P(x) for every sequence, (V^L,) float64, lexicographic order."""
        return self._expand(self._start(1), torch.zeros(1, dtype=torch.float64), 0)

    def _expand(self, state: tuple[torch.Tensor, ...], logp: torch.Tensor, t: int) -> torch.Tensor:
        """log-probs of all completions of the prefixes (of length t) whose log-probs are `logp`, in order.

        Prefixes are expanded a chunk at a time; chunks are contiguous in lexicographic order, so
        concatenating their completions keeps the order.
        """
        n = logp.numel()
        if n > _CHUNK:
            return torch.cat(
                [
                    self._expand(tuple(s[i : i + _CHUNK] for s in state), logp[i : i + _CHUNK], t)
                    for i in range(0, n, _CHUNK)
                ]
            )
        logp = (logp[:, None] + self._next_log_probs(state, t)).reshape(-1)
        if t + 1 == self.length:
            return logp
        v = self.vocab
        state = self._advance(tuple(s.repeat_interleave(v, dim=0) for s in state), torch.arange(v).repeat(n))
        return self._expand(state, logp, t + 1)

    @cached_property
    def probs(self) -> torch.Tensor:
        """P(x) for every sequence, (V^L,) float64, lexicographic order; sums to 1."""
        return self.log_probs.exp()

    @property
    def sequences(self) -> torch.Tensor:
        """Every sequence, (V^L, L) long, lexicographic order (row i is sequence i). Built on each access."""
        return index_to_sequences(torch.arange(self.num_sequences), self.vocab, self.length)

    @cached_property
    def marginals(self) -> torch.Tensor:
        """P_t(x_t = k) as an (L, V) float64 tensor (row t is position t + 1)."""
        table = self.probs.reshape((self.vocab,) * self.length)
        rows = [
            table.sum(dim=tuple(d for d in range(self.length) if d != t)) if self.length > 1 else table
            for t in range(self.length)
        ]
        return torch.stack(rows)

    def product_of_marginals(self) -> torch.Tensor:
        """prod_t P_t(x_t) for every sequence, (V^L,) float64, lexicographic order: the optimum of
        scheduled sampling with p_gold = 0 (DESIGN §5)."""
        out = torch.ones(1, dtype=torch.float64)
        for row in self.marginals:
            out = (out[:, None] * row[None, :]).reshape(-1)
        return out

    def conditional(self, t: int) -> torch.Tensor:
        """P(x_t | x_1..x_{t-1}) as a (V^(t-1), V) float64 tensor; t is 1-based, row = prefix index.

        For two positions, `conditional(2)[x1, x2]` is P(x2 | x1) and `conditional(1)[0]` is P_1.
        """
        if not (isinstance(t, int) and 1 <= t <= self.length):
            raise SeqgenError(f"conditional: position must be in 1..{self.length}, got {t!r}")
        v = self.vocab
        joint = self.probs.reshape(v ** (t - 1), v, v ** (self.length - t)).sum(dim=2)
        return joint / joint.sum(dim=1, keepdim=True)

    def entropy(self) -> float:
        """H(P) in nats per sequence (a perfect model's expected NLL of one sequence, EOS not counted)."""
        p = self.probs
        return float(-(p * self.log_probs).sum())

    # --- samples ------------------------------------------------------------------------------------------

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`n` exact draws from P, (n, L) symbol indices, by ancestral sampling (no table needed).

        Deterministic given a (CPU) `generator`.
        """
        if not (isinstance(n, int) and n >= 0):
            raise SeqgenError(f"number of oracle samples must be an integer >= 0, got {n!r}")
        out = torch.empty(n, self.length, dtype=torch.long)
        state = self._start(n)
        for t in range(self.length):
            probs = self._next_log_probs(state, t).exp()
            if n:
                out[:, t] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            if t + 1 < self.length:
                state = self._advance(state, out[:, t])
        return out

    def log_prob(self, sequences: torch.Tensor) -> torch.Tensor:
        """log P(x) of each row of symbol indices, (n,) float64."""
        return self.log_probs[self.index_of(sequences)]

    def index_of(self, sequences: torch.Tensor) -> torch.Tensor:
        """Lexicographic index of each row of symbol indices, (n,) long."""
        seqs = torch.as_tensor(sequences, dtype=torch.long)
        if seqs.dim() != 2 or seqs.size(1) != self.length:
            raise SeqgenError(f"expected sequences of shape (n, {self.length}), got {tuple(seqs.shape)}")
        if seqs.numel() and (int(seqs.min()) < 0 or int(seqs.max()) >= self.vocab):
            raise SeqgenError(f"symbol indices must be in [0, {self.vocab})")
        weights = self.vocab ** torch.arange(self.length - 1, -1, -1)
        return seqs @ weights

    def empirical(self, sequences: torch.Tensor) -> torch.Tensor:
        """The empirical distribution of the rows, (V^L,) float64, lexicographic order."""
        idx = self.index_of(sequences)
        if idx.numel() == 0:
            raise SeqgenError("empirical distribution of no sequences")
        counts = torch.bincount(idx, minlength=self.num_sequences).to(torch.float64)
        return counts / counts.sum()

    def splits(
        self, train: int = 10000, valid: int = 1000, test: int = 10000, seed: int = 0
    ) -> tuple[list[str], list[str], list[str]]:
        """(train, valid, test) text lines: i.i.d. draws from P with three seeds derived from `seed`."""
        return draw_splits(self, (train, valid, test), seed)

    # --- text ---------------------------------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        """The symbols as words: "s0" .. "s<V-1>"."""
        return [f"s{k}" for k in range(self.vocab)]

    def texts(self, sequences: torch.Tensor) -> list[str]:
        """Each row of symbol indices as a line such as "s1 s0 s3 s3 s2"."""
        return symbols_to_texts(self.symbols, sequences)

    def parse(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(symbol indices of the valid lines (m, L), valid mask (n,)); valid = exactly L oracle symbols."""
        return texts_to_symbols("s", self.vocab, self.length, texts)

    def tokenizer(self) -> WordTokenizer:
        """Word tokenizer with the special tokens then the symbols in order: symbol k has token id 4 + k."""
        return symbol_tokenizer(self.symbols)


def _offsets_ok(x: Any, vocab: int) -> bool:
    if x is None:
        return True
    try:
        values = [float(v) for v in x]
    except (TypeError, ValueError):
        return False
    return len(values) == vocab and all(np.isfinite(v) for v in values)


def _finite_nonneg(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and np.isfinite(x) and x >= 0


def _draw_params(
    kind: str, vocab: int, length: int, hidden: int, dependence: float, symbol_scale: float, seed: int
) -> dict[str, torch.Tensor]:
    """The oracle's random parameters, float64, from a CPU generator seeded with `seed` (any machine)."""
    g = torch.Generator().manual_seed(seed)

    def normal(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    if kind == "lstm":
        # Weights N(0, 1/fan_in) and no gate biases keep the gates in their sensitive range; embeddings of
        # std 2 make each symbol move the state a lot. Together h_t varies strongly with the prefix for almost
        # every seed (random gate biases left some seeds with nearly no dependence). W h_t has O(1) entries,
        # so `dependence` alone sets how much the prefix weighs against the per-position biases.
        return {
            "embed": 2.0 * normal(vocab, hidden),
            "w_ih": normal(4 * hidden, hidden) / hidden**0.5,
            "w_hh": normal(4 * hidden, hidden) / hidden**0.5,
            "w_out": normal(vocab, hidden) / hidden**0.5,
            "bias": normal(length, vocab) * symbol_scale,
        }
    # Each state has a favourite symbol (state k: symbol k mod V, logit +4 over the noise), so states are
    # told apart by what they emit (otherwise the hidden chain's memory barely shows in x) and, with a uniform
    # initial state and hidden >= V, every symbol is likely at every position.
    favourite = torch.nn.functional.one_hot(torch.arange(hidden) % vocab, vocab).to(torch.float64)
    return {
        "transition": (normal(hidden, hidden) * dependence).softmax(dim=-1),
        "emission": (normal(hidden, vocab) * symbol_scale + _EMISSION_PEAK * favourite).softmax(dim=-1),
    }
