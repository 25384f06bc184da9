"""Scheduled-sampling schedules: the probability of feeding the gold token at training step i (DESIGN §5).

Bengio et al. (2015) call this probability epsilon_i and decay it from 1 (pure teacher forcing) towards 0;
Huszár (2015) writes epsilon for the opposite quantity (the chance of feeding the model's own token), so
seqgen names the knob for what it is: `p_gold`. Huszár's epsilon is 1 - p_gold.
"""

from __future__ import annotations

import math
import operator

from seqgen.errors import SeqgenError

SCHEDULES = ("constant", "linear", "exponential", "inverse_sigmoid")


def p_gold(
    schedule: str, step: int, *, k: float, c: float = 0.0, p_min: float = 0.0, value: float = 1.0
) -> float:
    """Probability of feeding the gold token at training step `step` (>= 0) under `schedule`.

    - constant: `value`.
    - linear: max(p_min, k - c*step), k in [0, 1], c >= 0.
    - exponential: max(p_min, k**step), k in (0, 1).
    - inverse_sigmoid: max(p_min, k / (k + exp(step / k))), k >= 1. exp overflows a float at about
      step/k = 709; the value there is below 1e-300, so it is returned as 0 (then raised to p_min).

    Every schedule is non-increasing in `step`, lies in [0, 1] and never overflows, however large the step.
    `k` is ignored by constant. Huszár's epsilon is 1 - p_gold.
    """
    if schedule not in SCHEDULES:
        raise SeqgenError(f"unknown scheduled-sampling schedule {schedule!r}; expected one of {SCHEDULES}")
    try:
        i = -1 if isinstance(step, bool) else operator.index(step)  # ints and numpy integers only
    except TypeError:
        i = -1
    if i < 0:
        raise SeqgenError(f"scheduled-sampling step must be an integer >= 0, got {step!r}")
    # Every schedule is flat (at p_min, or k for c = 0) long before 2**62; Python ints beyond ~1e308 would
    # raise OverflowError on conversion to float.
    i = min(i, 2**62)
    _check_prob("p_min", p_min)
    if schedule == "constant":
        _check_prob("value", value)
        return float(value)
    if not math.isfinite(k):
        raise SeqgenError(f"scheduled-sampling k must be finite, got {k}")
    if schedule == "linear":
        if not 0.0 <= k <= 1.0:
            raise SeqgenError(f"linear schedule needs k (the starting p_gold) in [0, 1], got {k}")
        if not (math.isfinite(c) and c >= 0.0):
            raise SeqgenError(f"linear schedule needs a decay c >= 0, got {c}")
        if p_min > k:
            raise SeqgenError(f"linear schedule p_min={p_min} is above its starting value k={k}")
        return max(p_min, k - c * i)
    if schedule == "exponential":
        if not 0.0 < k < 1.0:
            raise SeqgenError(f"exponential schedule needs 0 < k < 1, got {k}")
        return max(p_min, k**i)  # underflows to 0.0 for huge steps, never raises
    if k < 1.0:
        raise SeqgenError(f"inverse_sigmoid schedule needs k >= 1, got {k}")
    x = i / k
    return max(p_min, 0.0 if x > 700.0 else k / (k + math.exp(x)))


def _check_prob(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise SeqgenError(f"scheduled-sampling {name} must be a probability in [0, 1], got {p}")
