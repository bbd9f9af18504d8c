import math

import numpy as np
import pytest

from archlab.search.hypervolume import REFERENCE, Normalisation, hypervolume, hypervolume_2d, hypervolume_curve


def test_one_point_is_its_box():
    assert hypervolume_2d([[0.5, 0.5]], (1, 1)) == pytest.approx(0.25)
    assert hypervolume_2d([[0.0, 0.0]]) == pytest.approx(REFERENCE[0] * REFERENCE[1])


def test_staircase_by_hand():
    # boxes up to (4, 4): x in [1,2] covers y 3..4 (1), [2,3] covers 2..4 (2), [3,4] covers 1..4 (3) -> 6
    assert hypervolume_2d([[1, 3], [2, 2], [3, 1]], (4, 4)) == pytest.approx(6.0)
    # two boxes: [1,4]x[3,4] (3) and [2,4]x[1,4] (6) overlap in [2,4]x[3,4] (2): 3 + 6 - 2 = 7
    assert hypervolume_2d([[1, 3], [2, 1]], (4, 4)) == pytest.approx(7.0)


def test_order_dominated_duplicates_and_outsiders_change_nothing():
    front = [[1, 3], [2, 2], [3, 1]]
    noisy = [[3, 1], [2.5, 2.5], [1, 3], [2, 2], [2, 2], [5, 0], [0, 5], [math.nan, 0], [3.5, math.inf]]
    assert hypervolume_2d(noisy, (4, 4)) == pytest.approx(hypervolume_2d(front, (4, 4)))
    assert hypervolume_2d([], (4, 4)) == 0.0
    assert hypervolume_2d([[4, 1]], (4, 4)) == 0.0     # on the reference's edge: no area


def test_normalisation_maps_the_box_to_the_unit_square():
    norm = Normalisation.over([10, 20, 15], [0.2, 0.6, 0.4])
    assert norm.apply([10, 20], [0.6, 0.2]).tolist() == [[0.0, 0.0], [1.0, 1.0]]
    # the ideal corner alone dominates the whole box up to the reference point
    assert hypervolume([10], [0.6], norm) == pytest.approx(1.1 * 1.1)
    # the nadir corner alone: only the 10% margin
    assert hypervolume([20], [0.2], norm) == pytest.approx(0.1 * 0.1)
    flat = Normalisation.over([5, 5], [0.3, 0.3])
    assert flat.apply([5], [0.3]).tolist() == [[0.0, 0.0]]
    with pytest.raises(ValueError, match="no point"):
        Normalisation.over([math.nan], [1.0])
    assert "reference point (1.1, 1.1)" in norm.describe("latency_ms_median", "miou")


def test_curve_grows_and_skips_infeasible_trials():
    norm = Normalisation.over([1, 3], [0, 1])
    cost = [3, np.nan, 2, 1, 2.5]
    acc = [0, np.nan, 0.5, 0.2, 1.0]
    curve = hypervolume_curve(cost, acc, norm)
    assert len(curve) == 5 and np.all(np.diff(curve) >= 0)
    assert curve[1] == curve[0]                      # an infeasible trial (NaN) adds nothing
    assert curve[-1] == pytest.approx(hypervolume([3, 2, 1, 2.5], [0, 0.5, 0.2, 1.0], norm))
    # first point: cost 3 -> x 1.0, accuracy 0 -> y 1.0: box 0.1 x 0.1
    assert curve[0] == pytest.approx(0.01)
