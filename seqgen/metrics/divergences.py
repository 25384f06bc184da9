"""Exact divergences between two distributions given as probability vectors over the same finite support.

Used with the enumerable oracle (`seqgen.data.oracles.enumerable`), where P and a model's Q are known for
every sequence.
All values are in nats. Conventions: 0 log 0 = 0; KL(P||Q) is +inf when Q(x) = 0 for some x with P(x) > 0.

- `kl(p, q)` = sum_x p log(p / q)
- `js_pi(p, q, pi)` = pi KL(P||M) + (1 - pi) KL(Q||M), M = pi P + (1 - pi) Q (Huszár's generalised JS, the
  divergence a discriminator with class balance pi estimates; DESIGN §5). pi = 0.5 is the usual JS, at most
  log 2; JS_pi / pi -> KL(P||Q) as pi -> 0 and JS_pi / (1 - pi) -> KL(Q||P) as pi -> 1. Both KL terms are
  summed as -sum p log1p(.) so the limits stay accurate for pi within 1e-8 of 0 or 1.
- `total_variation(p, q)` = sum_x |p - q| / 2, in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from seqgen.errors import SeqgenError

_SUM_TOLERANCE = 1e-6  # how far from 1 a probability vector may sum (float32 model outputs, rounding)


def _as_probs(x: Any, name: str) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = arr.astype(np.float64).reshape(-1)
    if arr.size == 0:
        raise SeqgenError(f"{name} is an empty probability vector")
    if not np.all(np.isfinite(arr)) or arr.min() < 0:
        raise SeqgenError(f"{name} has negative or non-finite entries")
    if abs(arr.sum() - 1.0) > _SUM_TOLERANCE:
        raise SeqgenError(f"{name} sums to {arr.sum():.9g}, not 1")
    return arr


def _pair(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
    p, q = _as_probs(p, "p"), _as_probs(q, "q")
    if p.shape != q.shape:
        raise SeqgenError(f"p and q have different supports ({p.size} and {q.size} entries)")
    return p, q


def _kl_to_mixture(p: np.ndarray, q: np.ndarray, w: float) -> float:
    """KL(P || w P + (1 - w) Q) = -sum_{p>0} p log1p((1 - w)(q/p - 1)); w = 0 gives KL(P||Q)."""
    s = p > 0
    ratio = q[s] / p[s]
    # log(w + (1 - w) r): log1p keeps the accuracy near r = 1 (and for w near 1); below r = 0.5 the direct
    # log, because r - 1 rounds to -1 once r < 1e-16 and log1p(-1) would call a finite KL infinite.
    with np.errstate(divide="ignore"):
        log_m = np.where(ratio < 0.5, np.log(w + (1.0 - w) * ratio), np.log1p((1.0 - w) * (ratio - 1.0)))
        terms = p[s] * log_m
    return float(max(-terms.sum(), 0.0))  # >= 0 in exact arithmetic; rounding may leave -1e-17


def kl(p: Any, q: Any) -> float:
    """KL(P||Q) in nats; inf where Q misses mass of P."""
    p, q = _pair(p, q)
    return _kl_to_mixture(p, q, 0.0)


def js_pi(p: Any, q: Any, pi: float) -> float:
    """pi KL(P||M) + (1 - pi) KL(Q||M) with M = pi P + (1 - pi) Q, in nats; pi in [0, 1]."""
    if not 0.0 <= pi <= 1.0:
        raise SeqgenError(f"js_pi: pi must be in [0, 1], got {pi}")
    p, q = _pair(p, q)
    if pi == 0.0 or pi == 1.0:
        return 0.0  # M equals the distribution with all the weight
    return pi * _kl_to_mixture(p, q, pi) + (1.0 - pi) * _kl_to_mixture(q, p, 1.0 - pi)


def total_variation(p: Any, q: Any) -> float:
    """sup_A |P(A) - Q(A)| = sum |p - q| / 2."""
    p, q = _pair(p, q)
    return float(min(0.5 * np.abs(p - q).sum(), 1.0))


def oracle_divergences(
    p: Any, q: Any, marginals_product: Any, pis: Iterable[float] = (0.5,)
) -> dict[str, float]:
    """Every exact divergence the comparison tables report, for data P, model Q and P's product of marginals.

    Keys: kl_p_q, kl_q_p, js (pi = 0.5, always), js_pi_<pi> for each other pi in `pis` (formatted with
    `:g`, e.g. js_pi_0.1), tv, kl_q_product = KL(Q || prod_t P_t) (0 when Q is what scheduled sampling with
    p_gold = 0 converges to), kl_p_product = KL(P || prod_t P_t) (P's dependence between positions).
    """
    out = {
        "kl_p_q": kl(p, q),
        "kl_q_p": kl(q, p),
        "js": js_pi(p, q, 0.5),
    }
    for pi in pis:
        if pi != 0.5:
            out[f"js_pi_{pi:g}"] = js_pi(p, q, pi)
    out["tv"] = total_variation(p, q)
    out["kl_q_product"] = kl(q, marginals_product)
    out["kl_p_product"] = kl(p, marginals_product)
    return out


def binary_entropy(pi: float) -> float:
    """H(pi) in nats: the upper bound of JS_pi (reached when P and Q have disjoint supports)."""
    return 0.0 if pi in (0.0, 1.0) else -(pi * math.log(pi) + (1 - pi) * math.log(1 - pi))
