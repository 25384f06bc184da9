"""The metrics only a known distribution allows: exact divergences between the enumerable oracle's P and a
generator's Q, and the oracle's view of a generator's samples (valid fraction, exact NLL under P)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqgen.data.config import DataConfig
from seqgen.data.oracles.corpus import build_oracle
from seqgen.metrics.caption_oracle import caption_sample_metrics
from seqgen.metrics.divergences import oracle_divergences
from seqgen.metrics.exact_distribution import model_distribution

if TYPE_CHECKING:
    from seqgen.models import Generator

EXACT_KEYS = ("kl_p_q", "kl_q_p", "js", "tv", "kl_q_product", "kl_p_product")


def exact_divergences(generator: Generator, data: DataConfig) -> dict[str, float]:
    """KL(P||Q), KL(Q||P), JS (pi = 0.5), total variation and the KLs to the product of P's marginals, exact
    over all V^L sequences of the enumerable oracle (Q restricted to the oracle's symbols, renormalised)."""
    oracle = build_oracle(data)
    q = model_distribution(generator, oracle)
    out = oracle_divergences(oracle.probs, q, oracle.product_of_marginals())
    return {k: out[k] for k in EXACT_KEYS}


def oracle_sample_metrics(data: DataConfig, samples: list[str]) -> dict[str, float]:
    """Sample metrics that only a known distribution allows: valid fraction, exact oracle NLL per token of
    the valid samples, distinct fraction (caption language: EOS counted; symbol oracles: per symbol)."""
    if data.train == "caption":
        out = caption_sample_metrics(samples)
    elif data.train == "seqgan_oracle":
        out = build_oracle(data).sample_metrics(samples)
    else:
        out = _enumerable_sample_metrics(build_oracle(data), samples)
    out.pop("num_samples", None)
    return out


def _enumerable_sample_metrics(oracle: Any, samples: list[str]) -> dict[str, float]:
    seqs, valid = oracle.parse(samples)
    n = len(samples)
    nll = -float(oracle.log_prob(seqs).sum()) / (len(seqs) * oracle.length) if len(seqs) else float("inf")
    return {
        "valid_fraction": float(valid.sum()) / max(n, 1),
        "oracle_nll": nll,
        "oracle_optimal_nll": oracle.entropy() / oracle.length,
        "distinct_fraction": len(set(samples)) / max(n, 1),
    }
