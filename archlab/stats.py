"""Seed statistics for the accuracy axis: intervals over seeds, paired differences, rank agreement.

A trained mIoU is one draw from the seed distribution of its budget. archlab reports the mean over
seeds with a two-sided Student-t interval (``LEVEL`` = 95%, n − 1 degrees of freedom), and compares
two variants by their **paired** differences: seed ``s`` of every variant sees the same data order,
augmentation and initial random stream (common random numbers), so the per-seed difference cancels
what the seeds share and its interval is narrower than the two rows' intervals suggest. A
difference is *resolved* when its interval excludes zero.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

#: Confidence level of every interval archlab prints.
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values with the two-sided Student-t interval [low, high] at ``level``."""

    mean: float
    low: float
    high: float
    n: int
    std: float
    level: float = LEVEL

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def resolved(self) -> bool:
        """True when the interval excludes 0 (for a difference: its sign is established)."""
        return self.n >= 2 and (self.low > 0 or self.high < 0)


def t_interval(values, level: float = LEVEL) -> Interval:
    """Mean and Student-t interval of ``values`` (NaNs dropped); with one value the bounds are NaN."""
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))], float)
    n = len(v)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, math.nan, level)
    mean = float(v.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1, math.nan, level)
    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, std, level)


def paired_difference(a: dict, b: dict, level: float = LEVEL) -> Interval:
    """Interval of ``a[s] - b[s]`` over the seeds ``s`` present (and finite) in both."""
    common = sorted(s for s in a if s in b and all(_finite(x[s]) for x in (a, b)))
    return t_interval([a[s] - b[s] for s in common], level)


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def kendall_tau(x, y) -> float:
    """Kendall's τ-b between two score lists over the same items (NaN when undefined)."""
    from scipy import stats

    pairs = [(a, b) for a, b in zip(x, y) if _finite(a) and _finite(b)]
    if len(pairs) < 2:
        return math.nan
    tau = stats.kendalltau([p[0] for p in pairs], [p[1] for p in pairs]).statistic
    return float(tau)


def mean_pairwise_tau(rankings: list[list[float]]) -> float:
    """Mean Kendall τ over every pair of score lists (e.g. each seed's mIoU of the same variants)."""
    taus = [kendall_tau(a, b) for a, b in itertools.combinations(rankings, 2)]
    taus = [t for t in taus if _finite(t)]
    return float(np.mean(taus)) if taus else math.nan
