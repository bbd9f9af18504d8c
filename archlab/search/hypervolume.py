"""Two-dimensional hypervolume: how much of the objective plane a front dominates.

The hypervolume indicator (Zitzler & Thiele, "Multiobjective optimization using evolutionary
algorithms — a comparative case study", PPSN 1998) of a set of points, all objectives minimised,
is the area of the union of the boxes between each point and a reference point. In two
dimensions it is one sort and a sweep: by the first objective ascending, each point that improves
on the best second objective so far adds the strip ``(ref_x - x) * (best_y - y)``.

Searches minimise cost and maximise accuracy, so :class:`Normalisation` maps both to
"smaller is better" on [0, 1] over a fixed box (the ranges of every point that is compared),
and the reference point is ``(1.1, 1.1)``: 10% beyond the worst value on each axis, so the
extreme points of a front still add area. The same normalisation and reference point must be
used for every hypervolume that is compared.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REFERENCE = (1.1, 1.1)


def hypervolume_2d(points, reference=REFERENCE) -> float:
    """Area dominated by ``points`` ((n, 2), both coordinates minimised) inside the box up to ``reference``.

    Points that do not improve on the reference in both coordinates add nothing; non-finite rows
    are ignored; dominated points and duplicates do not change the result.
    """
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    rx, ry = float(reference[0]), float(reference[1])
    p = p[np.isfinite(p).all(axis=1) & (p[:, 0] < rx) & (p[:, 1] < ry)]
    if not len(p):
        return 0.0
    p = p[np.lexsort((p[:, 1], p[:, 0]))]          # by x, then y
    area, best_y = 0.0, ry
    for x, y in p:
        if y < best_y:
            area += (rx - x) * (best_y - y)
            best_y = y
    return float(area)


@dataclass(frozen=True)
class Normalisation:
    """Cost and accuracy mapped to [0, 1], both minimised: ``(cost - cost_min) / (cost_max - cost_min)``
    and ``(acc_max - acc) / (acc_max - acc_min)`` (a zero range counts as 1)."""

    cost_min: float
    cost_max: float
    acc_min: float
    acc_max: float

    @classmethod
    def over(cls, cost, accuracy) -> "Normalisation":
        """The box spanned by every finite (cost, accuracy) pair given."""
        c, a = np.asarray(cost, dtype=float).ravel(), np.asarray(accuracy, dtype=float).ravel()
        ok = np.isfinite(c) & np.isfinite(a)
        if not ok.any():
            raise ValueError("no point has a finite cost and accuracy to normalise over")
        return cls(float(c[ok].min()), float(c[ok].max()), float(a[ok].min()), float(a[ok].max()))

    def apply(self, cost, accuracy) -> np.ndarray:
        c, a = np.asarray(cost, dtype=float).ravel(), np.asarray(accuracy, dtype=float).ravel()
        cs = (self.cost_max - self.cost_min) or 1.0
        as_ = (self.acc_max - self.acc_min) or 1.0
        return np.column_stack([(c - self.cost_min) / cs, (self.acc_max - a) / as_])

    def describe(self, cost_name: str = "cost", accuracy_name: str = "accuracy") -> str:
        return (f"both axes normalised to [0, 1] over all points compared ({cost_name} {self.cost_min:.4g}..."
                f"{self.cost_max:.4g}, minimised; {accuracy_name} {self.acc_min:.4g}...{self.acc_max:.4g}, maximised); "
                f"reference point ({REFERENCE[0]}, {REFERENCE[1]}) in the normalised 'smaller is better' plane")


def hypervolume(cost, accuracy, norm: Normalisation, reference=REFERENCE) -> float:
    """Hypervolume of the (cost minimised, accuracy maximised) points under ``norm``."""
    return hypervolume_2d(norm.apply(cost, accuracy), reference)


def hypervolume_curve(cost, accuracy, norm: Normalisation, reference=REFERENCE) -> np.ndarray:
    """Hypervolume of the first k points, for k = 1..n (points in the order given: trials as they ran)."""
    pts = norm.apply(cost, accuracy)
    return np.array([hypervolume_2d(pts[:k], reference) for k in range(1, len(pts) + 1)])
