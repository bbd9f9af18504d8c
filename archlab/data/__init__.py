"""Datasets: the generated default (``synthstreets``), Cityscapes and CamVid, behind one call.

``get_dataset(name, split, root=..., size=...)`` returns a :class:`SegmentationDataset` of raw
``uint8`` samples; :mod:`archlab.data.augment` turns them into training and evaluation tensors.
"""
from __future__ import annotations

from archlab.data.base import (CITYSCAPES_CLASSES, CITYSCAPES_NAMES, CITYSCAPES_PALETTE, IGNORE_INDEX, Sample,
                               SegmentationDataset, colorize)
from archlab.errors import DataError

DATASETS = ("synthstreets", "cityscapes", "camvid")
NEEDS_ROOT = ("cityscapes", "camvid")


def get_dataset(name: str, split: str = "train", *, root=None, size: tuple[int, int] | None = None, seed: int = 0,
                length: int | None = None, cache_dir=None) -> SegmentationDataset:
    """The ``split`` of dataset ``name``.

    ``synthstreets`` is generated (``size`` = rendered ``(H, W)``, ``seed``, ``length`` = number of
    scenes, ``cache_dir`` = optional on-disk cache); ``cityscapes`` and ``camvid`` read the tree
    at ``root`` (their images keep their own resolution; resizing is the transforms' job).
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset; valid: {', '.join(DATASETS)}", dataset=name)
    if name in NEEDS_ROOT and root is None:
        raise DataError("needs the dataset's root directory (--data-root PATH)", dataset=name)
    if name == "synthstreets":
        from archlab.data.synthstreets import SynthStreets

        return SynthStreets(split, size=size or (128, 256), seed=seed, length=length, cache_dir=cache_dir)
    if name == "cityscapes":
        from archlab.data.cityscapes import Cityscapes

        return Cityscapes(root, split)
    from archlab.data.camvid import CamVid

    return CamVid(root, split)


__all__ = ["CITYSCAPES_CLASSES", "CITYSCAPES_NAMES", "CITYSCAPES_PALETTE", "DATASETS", "DataError", "IGNORE_INDEX",
           "Sample", "SegmentationDataset", "colorize", "get_dataset"]
