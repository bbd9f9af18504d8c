"""Confusion-matrix mIoU: the Cityscapes/PASCAL VOC evaluation, ignore index included.

IoU of class c = TP / (TP + FP + FN) over all pixels of a split, accumulated in one
confusion matrix (rows: ground truth, columns: prediction) rather than averaged per image
(Everingham et al., PASCAL VOC, IJCV 2010; Cordts et al., Cityscapes, CVPR 2016). Pixels whose
ground truth is the ignore index count nowhere, whatever was predicted there. A class with no
ground-truth and no predicted pixel has no IoU (NaN) and stays out of the mean.
"""
from __future__ import annotations

import numpy as np
import torch

from archlab.data.base import IGNORE_INDEX


class ConfusionMatrix:
    """Accumulates ``num_classes x num_classes`` pixel counts (int64) from label/prediction tensors."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes={num_classes!r} must be a positive integer")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, target: torch.Tensor, prediction: torch.Tensor) -> None:
        """Add a batch: ``target`` and ``prediction`` hold class ids, same shape."""
        if target.shape != prediction.shape:
            raise ValueError(f"target shape {tuple(target.shape)} != prediction shape {tuple(prediction.shape)}")
        target = target.reshape(-1).to("cpu", torch.int64)
        prediction = prediction.reshape(-1).to("cpu", torch.int64)
        keep = target != self.ignore_index
        target, prediction = target[keep], prediction[keep]
        bad = (target < 0) | (target >= self.num_classes)
        if bool(bad.any()):
            raise ValueError(f"ground truth holds ids {sorted(set(target[bad].tolist()))[:10]} outside "
                             f"0..{self.num_classes - 1} and not the ignore index {self.ignore_index}")
        if bool(((prediction < 0) | (prediction >= self.num_classes)).any()):
            raise ValueError(f"prediction holds ids outside 0..{self.num_classes - 1}")
        flat = target * self.num_classes + prediction
        self.matrix += torch.bincount(flat, minlength=self.num_classes ** 2).reshape(self.num_classes, -1)

    def merge(self, other: "ConfusionMatrix") -> None:
        self.matrix += other.matrix


def iou_per_class(matrix) -> np.ndarray:
    """IoU of every class from a confusion matrix (NaN where the class has neither truth nor prediction)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"a confusion matrix is square, got shape {m.shape}")
    tp = np.diag(m)
    union = m.sum(0) + m.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)


def mean_iou(matrix, classes=None) -> float:
    """Mean IoU over ``classes`` (default: all), skipping classes without an IoU; NaN if none has one."""
    ious = iou_per_class(matrix)
    if classes is not None:
        ious = ious[list(classes)]
    valid = ious[~np.isnan(ious)]
    return float(valid.mean()) if valid.size else float("nan")


def pixel_accuracy(matrix) -> float:
    m = np.asarray(matrix, dtype=np.float64)
    total = m.sum()
    return float(np.trace(m) / total) if total else float("nan")
