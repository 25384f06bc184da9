"""The SeqGAN oracle (Yu et al. 2017; DESIGN §7): a random LSTM over 5,000 words that generates 20-word
sequences, so the likelihood of any sequence under the "true" data distribution is known.

As in SeqGAN's `target_lstm`, every parameter (embeddings, the four gates' input and recurrent weights and
biases, the output layer) is drawn from N(0, 1), the state starts at zero and there is no end token: every
sequence has exactly `length` words. One difference: the first step reads a dedicated start vector (also
N(0, 1)) where SeqGAN reused word 0's embedding, so no word doubles as the start symbol.

The two metrics of the SeqGAN protocol:
- NLL_oracle: -log P_oracle of a model's samples per token (`sample_metrics`, `nll`): quality as the oracle
  sees it;
- held-out NLL: the model's NLL of the oracle's held-out samples (`splits(...)[2]`), measured by seqgen's
  usual evaluation: coverage.

Parameters come from a seeded CPU `torch.Generator`, so an oracle is fully defined by its `settings()`.
Computation is float32 (as in SeqGAN); sampling is deterministic given the generator on a given machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from seqgen.data.config import SEQGAN_ORACLE_LENGTH
from seqgen.data.oracles.symbols import draw_splits, symbol_tokenizer, symbols_to_texts, texts_to_symbols
from seqgen.errors import SeqgenError
from seqgen.tokenization import WordTokenizer

_ROWS = 2048  # rows per step of scoring/sampling: (2048, 5000) float32 logits = 40 MB


class SeqGANOracle:
    """Random LSTM language model P over `vocab` words and sequences of exactly `length` words."""

    def __init__(
        self,
        vocab: int = 5000,
        length: int = SEQGAN_ORACLE_LENGTH,
        emb_dim: int = 32,
        hidden_dim: int = 32,
        seed: int = 0,
    ) -> None:
        for name, value, low in (
            ("vocab", vocab, 2),
            ("length", length, 1),
            ("emb_dim", emb_dim, 1),
            ("hidden_dim", hidden_dim, 1),
            ("seed", seed, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise SeqgenError(f"SeqGAN oracle: {name} must be an integer >= {low}, got {value!r}")
        self.vocab, self.length, self.emb_dim, self.hidden_dim, self.seed = (
            vocab,
            length,
            emb_dim,
            hidden_dim,
            seed,
        )
        g = torch.Generator().manual_seed(seed)
        h = hidden_dim

        def normal(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=g)

        # Gate order i, f, g, o (PyTorch's), so the weights load into nn.LSTM for an independent check.
        self.params: dict[str, torch.Tensor] = {
            "embed": normal(vocab, emb_dim),
            "start": normal(emb_dim),
            "w_ih": normal(4 * h, emb_dim),
            "w_hh": normal(4 * h, h),
            "b": normal(4 * h),
            "w_out": normal(vocab, h),
            "b_out": normal(vocab),
        }
        # |h| <= 1, so no logit exceeds bound = max_k |b_k| + ||W_k||_1. While that bound is moderate (about
        # 40 at SeqGAN's sizes), the output bias is stored minus the bound: the logits come out of the matmul
        # already shifted, so exp() can neither overflow nor lose the largest terms (exp(-2 * 60) is still a
        # float32 number) and sampling and scoring skip the per-row max pass. Softmax ignores the shift.
        bound = float((self.params["b_out"].abs() + self.params["w_out"].abs().sum(dim=1)).max())
        self._exp_safe = bound < 60.0
        self._b_out_shifted = self.params["b_out"] - (bound if self._exp_safe else 0.0)

    def settings(self) -> dict[str, Any]:
        """Everything that defines P: `SeqGANOracle(**oracle.settings())` is the same oracle."""
        return {
            "vocab": self.vocab,
            "length": self.length,
            "emb_dim": self.emb_dim,
            "hidden_dim": self.hidden_dim,
            "seed": self.seed,
        }

    def __repr__(self) -> str:
        return "SeqGANOracle(" + ", ".join(f"{k}={v!r}" for k, v in self.settings().items()) + ")"

    # --- the LSTM -----------------------------------------------------------------------------------------

    def _step(
        self, inputs: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One LSTM step on input vectors (n, emb_dim): (logits (n, vocab) up to a constant shift, h, c)."""
        p = self.params
        gates = torch.addmm(p["b"], inputs, p["w_ih"].T).addmm_(h, p["w_hh"].T)
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return torch.addmm(self._b_out_shifted, h, p["w_out"].T), h, c

    def _zeros(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(n, self.hidden_dim)
        return self.params["start"].expand(n, -1), zeros, zeros

    # --- sampling and scoring -------------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`n` exact draws from P, (n, length) word indices 0..vocab-1; deterministic given a generator."""
        if not isinstance(n, int) or n < 0:
            raise SeqgenError(f"number of oracle samples must be an integer >= 0, got {n!r}")
        out = torch.empty(n, self.length, dtype=torch.long)
        for lo in range(0, n, _ROWS):
            hi = min(lo + _ROWS, n)
            x, h, c = self._zeros(hi - lo)
            for t in range(self.length):
                logits, h, c = self._step(x, h, c)
                out[lo:hi, t] = _draw(logits, self._exp_safe, generator)
                x = self.params["embed"][out[lo:hi, t]]
        return out

    @torch.no_grad()
    def log_prob(self, sequences: torch.Tensor) -> torch.Tensor:
        """log P of each row of word indices, (n,) float64. Rows shorter than `length` get the probability
        of that prefix (the marginal of their first k words)."""
        seqs = self._check(sequences)
        n, k = seqs.shape
        total = torch.zeros(n, dtype=torch.float64)
        for lo in range(0, n, _ROWS):
            hi = min(lo + _ROWS, n)
            x, h, c = self._zeros(hi - lo)
            for t in range(k):
                logits, h, c = self._step(x, h, c)
                tok = seqs[lo:hi, t]
                picked = logits.gather(1, tok[:, None]).squeeze(1)
                if self._exp_safe:
                    log_z = logits.exp_().sum(dim=-1).log_()
                else:
                    log_z = torch.logsumexp(logits, dim=-1)
                total[lo:hi] += (picked - log_z).double()
                x = self.params["embed"][tok]
        return total

    def nll(self, sequences: torch.Tensor) -> float:
        """Mean NLL per word in nats of the rows under P (NLL_oracle when the rows are a model's samples)."""
        seqs = self._check(sequences)
        if seqs.numel() == 0:
            raise SeqgenError("oracle NLL of no sequences")
        return float(-self.log_prob(seqs).sum() / seqs.numel())

    def _check(self, sequences: torch.Tensor) -> torch.Tensor:
        seqs = torch.as_tensor(sequences, dtype=torch.long)
        if seqs.dim() != 2 or seqs.size(1) > self.length:
            raise SeqgenError(
                f"expected word indices of shape (n, k) with k <= {self.length}, got {tuple(seqs.shape)}"
            )
        if seqs.numel() and (int(seqs.min()) < 0 or int(seqs.max()) >= self.vocab):
            raise SeqgenError(f"word indices must be in [0, {self.vocab})")
        return seqs

    # --- text ---------------------------------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        """The words: "w0" .. "w<vocab-1>"."""
        return [f"w{k}" for k in range(self.vocab)]

    def texts(self, sequences: torch.Tensor) -> list[str]:
        """Each row of word indices as a line such as "w17 w4032 ... w9"."""
        return symbols_to_texts(self.symbols, sequences)

    def parse(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(word indices of the valid lines (m, length), valid mask (n,)); valid = exactly `length` oracle
        words."""
        return texts_to_symbols("w", self.vocab, self.length, texts)

    def tokenizer(self) -> WordTokenizer:
        """Word tokenizer with the special tokens then the words in order: word k has token id 4 + k."""
        return symbol_tokenizer(self.symbols)

    def splits(
        self, train: int = 10000, valid: int = 1000, test: int = 10000, seed: int = 0
    ) -> tuple[list[str], list[str], list[str]]:
        """(train, valid, test) text lines: i.i.d. draws from P with three seeds derived from `seed`.

        SeqGAN's protocol: 10,000 training sequences; the test split is the held-out set whose NLL under
        the model is the coverage metric. Splits may share sequences only by chance (they are independent).
        """
        return draw_splits(self, (train, valid, test), seed)

    def sample_metrics(self, texts: Sequence[str]) -> dict[str, float]:
        """NLL_oracle of generated text lines, like `caption_sample_metrics`.

        Keys: num_samples; valid_fraction (lines of exactly `length` oracle words; a model may stop early or
        emit <unk>); oracle_nll (nats per word over the valid lines; inf if none); distinct_fraction.
        """
        seqs, valid = self.parse(texts)
        n = len(texts)
        return {
            "num_samples": n,
            "valid_fraction": float(valid.sum()) / max(n, 1),
            "oracle_nll": self.nll(seqs) if len(seqs) else float("inf"),
            "distinct_fraction": len(set(texts)) / max(n, 1),
        }


def _draw(logits: torch.Tensor, exp_safe: bool, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row from softmax(logits), by inverse CDF: one uniform per row. Overwrites `logits`.

    Exact up to float32 rounding of the CDF, and about 6x faster than `torch.multinomial` on (2048, 5000)
    rows on CPU. u is uniform on [0, total) and the index is the number of CDF values <= u, so index k is
    drawn with probability (c_k - c_{k-1}) / total; words whose exp underflows have empty intervals.
    `exp_safe`: the logits are already shifted so that exp() is safe (else each row's max is subtracted).
    """
    if not exp_safe:
        logits = logits - logits.max(dim=-1, keepdim=True).values
    cdf = logits.exp_().cumsum_(dim=-1)
    u = torch.rand(logits.size(0), 1, generator=generator, device=logits.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=logits.size(1) - 1)
