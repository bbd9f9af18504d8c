import math

import numpy as np
import pytest
import torch

from archlab.train.metrics import ConfusionMatrix, iou_per_class, mean_iou, pixel_accuracy


def test_iou_from_a_hand_made_matrix():
    # rows = truth, columns = prediction
    m = np.array([[3, 1, 0],
                  [2, 4, 0],
                  [0, 0, 0]])
    ious = iou_per_class(m)
    assert ious[0] == pytest.approx(3 / (3 + 1 + 2))     # TP 3, FP 2 (row 1 predicted 0), FN 1
    assert ious[1] == pytest.approx(4 / (4 + 2 + 1))
    assert math.isnan(ious[2])                          # no truth and no prediction: no IoU
    assert mean_iou(m) == pytest.approx((3 / 6 + 4 / 7) / 2)
    assert pixel_accuracy(m) == pytest.approx(7 / 10)


def test_a_predicted_absent_class_counts_as_zero():
    m = np.array([[5, 5], [0, 0]])                     # class 1 never true but predicted 5 times
    assert iou_per_class(m)[1] == 0.0
    assert mean_iou(m) == pytest.approx((5 / 10 + 0) / 2)
    assert mean_iou(m, classes=[0]) == pytest.approx(0.5)


def test_confusion_matrix_skips_the_ignore_index_whatever_was_predicted():
    cm = ConfusionMatrix(3)
    target = torch.tensor([[0, 0, 1, 255], [2, 255, 1, 1]])
    pred = torch.tensor([[0, 1, 1, 2], [2, 0, 0, 1]])
    cm.update(target, pred)
    expected = np.zeros((3, 3), int)
    for t, p in [(0, 0), (0, 1), (1, 1), (2, 2), (1, 0), (1, 1)]:
        expected[t, p] += 1
    assert (cm.matrix.numpy() == expected).all()
    assert cm.matrix.sum() == 6                          # the two ignored pixels are nowhere


def test_confusion_matrix_accumulates_and_merges():
    a, b = ConfusionMatrix(2), ConfusionMatrix(2)
    a.update(torch.tensor([0, 1]), torch.tensor([0, 0]))
    b.update(torch.tensor([1, 1]), torch.tensor([1, 1]))
    a.merge(b)
    assert a.matrix.tolist() == [[1, 0], [1, 2]]


def test_bad_ids_are_named():
    cm = ConfusionMatrix(3)
    with pytest.raises(ValueError, match=r"ids \[7\] outside 0..2"):
        cm.update(torch.tensor([0, 7]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        cm.update(torch.tensor([0, 1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="square"):
        iou_per_class(np.zeros((2, 3)))


def test_mean_iou_of_nothing_is_nan_not_zero():
    assert math.isnan(mean_iou(np.zeros((3, 3))))
