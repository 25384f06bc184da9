"""Exact divergences against hand-computed values, explicit Python loops, limits and textbook bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqgen.errors import SeqgenError
from seqgen.metrics.divergences import (
    binary_entropy,
    js_pi,
    kl,
    oracle_divergences,
    total_variation,
)

LOG2 = math.log(2.0)


# --- references: plain Python, one term at a time -----------------------------------------------------------


def kl_loop(p: list[float], q: list[float]) -> float:
    total = 0.0
    for a, b in zip(p, q, strict=True):
        if a > 0:
            if b == 0:
                return math.inf
            total += a * math.log(a / b)
    return total


def js_loop(p: list[float], q: list[float], pi: float) -> float:
    m = [pi * a + (1 - pi) * b for a, b in zip(p, q, strict=True)]
    return pi * kl_loop(p, m) + (1 - pi) * kl_loop(q, m)


def random_pair(seed: int, n: int = 12, zeros: bool = False) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.full(n, 0.7)), rng.dirichlet(np.full(n, 0.7))
    if zeros:  # some symbols missing from one side or both
        p[:2] = 0.0
        q[1:3] = 0.0
        p, q = p / p.sum(), q / q.sum()
    return p.tolist(), q.tolist()


# --- hand-computed -----------------------------------------------------------------------------------------


def test_hand_computed_two_point_case():
    p, q = [0.5, 0.5], [0.25, 0.75]
    assert kl(p, q) == pytest.approx(0.5 * math.log(2.0) + 0.5 * math.log(2.0 / 3.0), rel=1e-14)
    assert kl(q, p) == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5), rel=1e-14)
    # M = (0.375, 0.625)
    expected_js = 0.5 * (0.5 * math.log(0.5 / 0.375) + 0.5 * math.log(0.5 / 0.625)) + 0.5 * (
        0.25 * math.log(0.25 / 0.375) + 0.75 * math.log(0.75 / 0.625)
    )
    assert js_pi(p, q, 0.5) == pytest.approx(expected_js, rel=1e-13)
    assert total_variation(p, q) == pytest.approx(0.25, abs=1e-15)


def test_zero_probabilities():
    p, q = [1.0, 0.0], [0.5, 0.5]
    assert kl(p, q) == pytest.approx(LOG2)  # 0 log 0 = 0
    assert kl(q, p) == math.inf  # Q puts mass where P has none
    assert js_pi(p, q, 0.5) == pytest.approx(js_loop(p, q, 0.5))
    assert math.isfinite(js_pi(p, q, 0.5))
    assert total_variation(p, q) == pytest.approx(0.5)
    assert kl(p, p) == 0.0 and js_pi(q, q, 0.3) == 0.0 and total_variation(q, q) == 0.0


def test_tiny_but_positive_ratios_stay_finite():
    # q/p below 1e-16 made q/p - 1 round to -1 and log1p(-1) = -inf: a finite KL of ~57 nats read as inf
    # (a generator started where P has almost no mass, data.oracle.symbol_offset).
    p, q = [1e-30, 1.0 - 1e-30], [0.5, 0.5]
    assert kl(q, p) == pytest.approx(kl_loop(q, p), rel=1e-12)
    assert math.isfinite(kl(q, p)) and kl(q, p) > 30
    assert kl(p, q) == pytest.approx(kl_loop(p, q), rel=1e-12)
    for pi in (1e-3, 0.5, 0.999):
        assert js_pi(p, q, pi) == pytest.approx(js_loop(p, q, pi), rel=1e-11)


@pytest.mark.parametrize("pi", [0.5, 0.1, 0.77])
def test_disjoint_supports_reach_the_upper_bounds(pi):
    p, q = [0.3, 0.7, 0.0, 0.0], [0.0, 0.0, 0.6, 0.4]
    assert js_pi(p, q, pi) == pytest.approx(binary_entropy(pi), rel=1e-12)
    assert total_variation(p, q) == pytest.approx(1.0)
    assert kl(p, q) == math.inf
    assert binary_entropy(0.5) == pytest.approx(LOG2)


# --- against loops on random distributions ---------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("zeros", [False, True])
def test_against_explicit_loops(seed, zeros):
    p, q = random_pair(seed, zeros=zeros)
    assert kl(p, q) == pytest.approx(kl_loop(p, q), rel=1e-12)
    assert kl(q, p) == pytest.approx(kl_loop(q, p), rel=1e-12)
    for pi in (0.5, 0.05, 0.3, 0.9):
        assert js_pi(p, q, pi) == pytest.approx(js_loop(p, q, pi), rel=1e-11, abs=1e-15)
    tv = 0.5 * sum(abs(a - b) for a, b in zip(p, q, strict=True))
    assert total_variation(p, q) == pytest.approx(tv, rel=1e-13)


def test_numpy_torch_and_lists_agree():
    p, q = random_pair(11)
    as_torch = (torch.tensor(p, dtype=torch.float64), torch.tensor(q, dtype=torch.float64))
    as_numpy = (np.array(p), np.array(q))
    for f in (kl, total_variation, lambda a, b: js_pi(a, b, 0.2)):
        assert f(*as_torch) == f(*as_numpy) == f(p, q)
    assert kl(torch.tensor(p, dtype=torch.float32), q) == pytest.approx(kl(p, q), rel=1e-5)


# --- limits, symmetry, bounds -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_js_pi_limits_are_the_two_kls(seed):
    p, q = random_pair(seed)
    forward, reverse = kl(p, q), kl(q, p)
    errors = []
    for eps in (1e-6, 1e-8):
        # JS_pi / pi = KL(P||Q) - O(pi) (the O(pi) term is a chi-square, large for small probabilities)
        assert js_pi(p, q, eps) / eps == pytest.approx(forward, rel=1e3 * eps + 1e-7)
        assert js_pi(p, q, 1 - eps) / eps == pytest.approx(reverse, rel=1e3 * eps + 1e-7)
        errors.append(abs(js_pi(p, q, eps) / eps - forward))
    assert errors[1] < errors[0] / 10  # it converges, at about the rate O(pi)
    # Far from the limits the ratio differs from the KL: the limit checks above compare distinct numbers.
    assert abs(js_pi(p, q, 0.3) / 0.3 - forward) > 0.05 * forward


@pytest.mark.parametrize("seed", range(4))
def test_symmetry(seed):
    p, q = random_pair(seed, zeros=seed % 2 == 1)
    assert js_pi(p, q, 0.5) == pytest.approx(js_pi(q, p, 0.5), rel=1e-13, abs=1e-16)
    assert js_pi(p, q, 0.2) == pytest.approx(js_pi(q, p, 0.8), rel=1e-13, abs=1e-16)
    assert total_variation(p, q) == total_variation(q, p)


@pytest.mark.parametrize("seed", range(20))
def test_bounds_and_pinsker(seed):
    p, q = random_pair(100 + seed, n=3 + seed, zeros=seed % 3 == 0)
    js = js_pi(p, q, 0.5)
    tv = total_variation(p, q)
    assert 0.0 <= js <= LOG2 + 1e-15
    assert 0.0 <= tv <= 1.0
    assert 0.0 <= js_pi(p, q, 0.1) <= binary_entropy(0.1) + 1e-15  # equality for disjoint supports
    assert tv <= math.sqrt(kl(p, q) / 2) + 1e-12  # Pinsker
    assert kl(p, q) >= 0 and kl(q, p) >= 0


# --- the table helper and bad input -----------------------------------------------------------------------


def test_oracle_divergences_keys_and_values():
    p, q = random_pair(3, n=8)
    marg = np.full(8, 1 / 8)
    out = oracle_divergences(p, q, marg, pis=(0.1, 0.5, 0.9))
    assert list(out) == [
        "kl_p_q",
        "kl_q_p",
        "js",
        "js_pi_0.1",
        "js_pi_0.9",
        "tv",
        "kl_q_product",
        "kl_p_product",
    ]
    assert out["kl_p_q"] == kl(p, q) and out["kl_q_p"] == kl(q, p)
    assert out["js"] == js_pi(p, q, 0.5) and out["js_pi_0.1"] == js_pi(p, q, 0.1)
    assert out["tv"] == total_variation(p, q)
    assert out["kl_q_product"] == pytest.approx(math.log(8) + sum(x * math.log(x) for x in q if x > 0))
    assert out["kl_p_product"] == kl(p, marg)
    assert list(oracle_divergences(p, q, marg)) == [
        "kl_p_q",
        "kl_q_p",
        "js",
        "tv",
        "kl_q_product",
        "kl_p_product",
    ]
    assert oracle_divergences(q, q, q)["kl_q_product"] == 0.0


@pytest.mark.parametrize(
    "p,q,fragment",
    [
        ([0.5, 0.5], [1.0], "different supports"),
        ([0.5, 0.6], [0.5, 0.5], "sums to 1.1"),
        ([1.5, -0.5], [0.5, 0.5], "negative or non-finite"),
        ([float("nan"), 1.0], [0.5, 0.5], "negative or non-finite"),
        ([], [], "empty"),
    ],
)
def test_bad_vectors(p, q, fragment):
    with pytest.raises(SeqgenError, match=fragment):
        kl(p, q)


def test_bad_pi():
    with pytest.raises(SeqgenError, match=r"pi must be in \[0, 1\]"):
        js_pi([1.0], [1.0], 1.5)
    assert js_pi([1.0, 0.0], [0.0, 1.0], 0.0) == 0.0  # M = Q: both terms vanish
