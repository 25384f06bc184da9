"""Comparing quality–diversity curves, not points (Caccia et al. 2020; DESIGN §6).

A run sampled at several temperatures traces a curve of (diversity, quality) points: a lower temperature buys
quality (BLEU, LM score) with diversity (Self-BLEU, reverse LM score). Two runs are compared at matched
diversity — each curve interpolated (piecewise linearly, between the measured temperatures) to the diversity
of a reference point, the quality read there — and at matched quality, the converse. A value outside the
range a curve covers is not extrapolated: it is None. A curve lies *entirely below* another when, over the
diversities both cover, its quality is worse everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]  # (x, y)


def interpolate(points: Sequence[Point], x: float) -> float | None:
    """y at `x` on the piecewise-linear curve through `points` (any order), None outside their x range."""
    pts = sorted((float(a), float(b)) for a, b in points)
    if not pts or x < pts[0][0] or x > pts[-1][0]:
        return None
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[-1][1] if x == pts[-1][0] else None


def value_at(curve: Sequence[Point], x: float) -> float | None:
    """The curve's y at x (for a curve of (diversity, quality) points: the quality at matched diversity)."""
    return interpolate(curve, x)


def swapped(curve: Sequence[Point]) -> list[Point]:
    """(quality, diversity) points of a (diversity, quality) curve: read diversity at matched quality."""
    return [(y, x) for x, y in curve]


def entirely_below(
    curve: Sequence[Point], reference: Sequence[Point], *, higher_is_better: bool, samples: int = 50
) -> bool | None:
    """Whether `curve`'s y is worse than `reference`'s at every x both cover (`higher_is_better` says what
    worse means); None when their x ranges do not overlap (nothing to compare)."""
    if len(curve) < 1 or len(reference) < 1:
        return None
    lo = max(min(x for x, _ in curve), min(x for x, _ in reference))
    hi = min(max(x for x, _ in curve), max(x for x, _ in reference))
    if lo > hi:
        return None
    xs = [lo + (hi - lo) * i / (samples - 1) for i in range(samples)] if hi > lo else [lo]
    for x in xs:
        mine, theirs = interpolate(curve, x), interpolate(reference, x)
        if mine is None or theirs is None:
            continue
        if (mine >= theirs) if higher_is_better else (mine <= theirs):
            return False
    return True
