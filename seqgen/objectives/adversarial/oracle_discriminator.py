"""The exact discriminator on the enumerable oracle: the optimum of each discriminator loss, with no training.

V(x) = log(pi p(x) / ((1-pi) q(x))) for divergence=gan, log p/q for kl / reverse_kl / hellinger, and
2 (p/q - 1) for chi2. With it, an estimator's gradient can be checked without discriminator error.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from seqgen.data.oracles.symbols import FIRST_SYMBOL_ID
from seqgen.metrics.exact_distribution import model_distribution

if TYPE_CHECKING:
    from seqgen.models import Generator


class OracleDiscriminator:
    """q is the generator's exact restricted distribution, recomputed every call (the generator changes)."""

    def __init__(self, oracle: Any, divergence: str, pi: float) -> None:
        self.oracle, self.divergence, self.pi = oracle, divergence, pi

    def logits(self, generator: Generator, ids: torch.Tensor) -> torch.Tensor:
        symbols = ids[:, 1 : 1 + self.oracle.length].cpu() - FIRST_SYMBOL_ID
        idx = self.oracle.index_of(symbols)
        log_q = model_distribution(generator, self.oracle).log()
        log_ratio = self.oracle.log_probs[idx] - log_q[idx]
        if self.divergence == "gan":
            v = log_ratio + math.log(self.pi / (1 - self.pi))
        elif self.divergence == "chi2":
            v = 2 * (log_ratio.exp() - 1)
        else:
            v = log_ratio
        return v.float().to(ids.device)
