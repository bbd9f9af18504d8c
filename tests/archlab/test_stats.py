"""Seed statistics on fixed numbers (archlab/stats.py)."""
import math

import pytest

from archlab.stats import kendall_tau, mean_pairwise_tau, paired_difference, t_interval

T_975_2DF = 4.302652729911275   # Student t, 97.5th percentile, 2 degrees of freedom


def test_t_interval_of_three_values():
    i = t_interval([1.0, 2.0, 3.0])
    assert i.mean == 2.0 and i.std == pytest.approx(1.0) and i.n == 3
    assert i.half_width == pytest.approx(T_975_2DF / math.sqrt(3))
    assert i.low == pytest.approx(2 - T_975_2DF / math.sqrt(3)) and not i.resolved   # straddles 0? no: low < 0
    assert i.low < 0 < i.high


def test_one_value_has_no_interval_and_nans_are_dropped():
    i = t_interval([0.3, float("nan")])
    assert i.mean == 0.3 and i.n == 1 and math.isnan(i.low) and not i.resolved
    assert t_interval([]).n == 0


def test_pairing_resolves_what_the_rows_own_intervals_cannot():
    # Seeds move both variants together; the variant is always 1 point better.
    a, b = {0: 0.30, 1: 0.40, 2: 0.50}, {0: 0.29, 1: 0.39, 2: 0.49}
    ia, ib = t_interval(a.values()), t_interval(b.values())
    assert ia.low < ib.high                               # the row intervals overlap widely
    d = paired_difference(a, b)
    assert d.mean == pytest.approx(0.01) and d.resolved and d.n == 3


def test_a_difference_within_seed_noise_is_not_resolved():
    d = paired_difference({0: 0.30, 1: 0.32, 2: 0.31}, {0: 0.28, 1: 0.29, 2: 0.30})
    assert d.mean == pytest.approx(0.02)
    assert d.low == pytest.approx(0.02 - T_975_2DF * 0.01 / math.sqrt(3))
    assert d.low < 0 and not d.resolved
    d = paired_difference({0: 0.30, 1: 0.325, 2: 0.322}, {0: 0.28, 1: 0.30, 2: 0.30})
    assert d.low > 0 and d.resolved


def test_pairs_only_over_seeds_both_have():
    d = paired_difference({0: 0.3, 1: 0.4, 2: float("nan")}, {0: 0.2, 1: 0.3, 2: 0.1, 3: 0.5})
    assert d.n == 2 and d.mean == pytest.approx(0.1)


def test_kendall_tau():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)
    assert mean_pairwise_tau([[1, 2, 3], [1, 2, 3], [3, 2, 1]]) == pytest.approx((1 - 1 - 1) / 3)
    assert math.isnan(kendall_tau([1], [1]))
