"""Cityscapes fine annotations (Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene
Understanding", CVPR 2016), read from the tree the official download unpacks to::

    root/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png   RGB images
    root/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png    8-bit label ids

The 34 label ids are mapped to the 19 train ids of the benchmark with the table of the
official ``cityscapesScripts`` (``helpers/labels.py``); every other id is ignored (255).
Where a ``_gtFine_labelTrainIds.png`` (written by cityscapesScripts' ``createTrainIdLabelImgs``)
is present and the ``_labelIds.png`` is not, it is used as it is (0..18, anything else ignored).
The labels of the official ``test`` split are placeholders (no public ground truth).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from archlab.data.base import (CITYSCAPES_NAMES, CITYSCAPES_PALETTE, IGNORE_INDEX, Sample, open_tree,
                               SegmentationDataset)
from archlab.errors import DataError

SPLITS = ("train", "val", "test")
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
TRAINID_SUFFIX = "_gtFine_labelTrainIds.png"

# (label id, name, train id) of cityscapesScripts' helpers/labels.py; 255 = not one of the 19
# evaluated classes. The license plate (id -1) cannot occur in an 8-bit labelIds image.
CITYSCAPES_LABELS: tuple[tuple[int, str, int], ...] = (
    (0, "unlabeled", 255), (1, "ego vehicle", 255), (2, "rectification border", 255),
    (3, "out of roi", 255), (4, "static", 255), (5, "dynamic", 255), (6, "ground", 255),
    (7, "road", 0), (8, "sidewalk", 1), (9, "parking", 255), (10, "rail track", 255),
    (11, "building", 2), (12, "wall", 3), (13, "fence", 4), (14, "guard rail", 255),
    (15, "bridge", 255), (16, "tunnel", 255), (17, "pole", 5), (18, "polegroup", 255),
    (19, "traffic light", 6), (20, "traffic sign", 7), (21, "vegetation", 8), (22, "terrain", 9),
    (23, "sky", 10), (24, "person", 11), (25, "rider", 12), (26, "car", 13), (27, "truck", 14),
    (28, "bus", 15), (29, "caravan", 255), (30, "trailer", 255), (31, "train", 16),
    (32, "motorcycle", 17), (33, "bicycle", 18), (-1, "license plate", 255),
)


def _lut(pairs) -> np.ndarray:
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    for src, dst in pairs:
        if 0 <= src < 256:
            lut[src] = dst
    return lut


ID_TO_TRAINID = _lut((label_id, train_id) for label_id, _, train_id in CITYSCAPES_LABELS)
TRAINID_TO_TRAINID = _lut((i, i) for i in range(len(CITYSCAPES_NAMES)))


def _subdirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


class Cityscapes(SegmentationDataset):
    """The ``split`` of the Cityscapes tree at ``root``: 19 classes, images at full resolution.

    The constructor only lists files (no decoding); a label that does not fit its image is
    reported when that sample is loaded.
    """

    name = "cityscapes"
    num_classes = len(CITYSCAPES_NAMES)
    class_names = CITYSCAPES_NAMES
    palette = CITYSCAPES_PALETTE
    eval_classes = tuple(range(len(CITYSCAPES_NAMES)))

    def __init__(self, root, split: str):
        open_tree(self, root, split, SPLITS, "leftImg8bit/ and gtFine/")
        image_dir = self.root / "leftImg8bit" / split
        if not image_dir.is_dir():
            found = _subdirs(self.root / "leftImg8bit")
            hint = [p.name for p in self.root.iterdir() if (p / "leftImg8bit").is_dir()]
            raise DataError(
                f"{image_dir} is missing; expected root/leftImg8bit/{{split}}/{{city}}/*{IMAGE_SUFFIX} and "
                f"root/gtFine/{{split}}/{{city}}/*{LABEL_SUFFIX}; splits found under {self.root / 'leftImg8bit'}: "
                f"{', '.join(found) or 'none'}"
                + (f" (the tree may be one level down, in {', '.join(hint)})" if hint else ""),
                dataset=self.name)
        images = sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}"), key=lambda p: p.relative_to(image_dir).as_posix())
        if not images:
            raise DataError(f"no images in {image_dir}; expected {{city}}/*{IMAGE_SUFFIX} files", dataset=self.name)
        label_dir = self.root / "gtFine" / split
        if not label_dir.is_dir():
            raise DataError(f"{label_dir} is missing; expected the fine labels as "
                            f"gtFine/{split}/{{city}}/*{LABEL_SUFFIX}", dataset=self.name)
        self.files: list[tuple[Path, Path, np.ndarray]] = []
        for image in images:
            stem = label_dir / image.parent.name / image.name[: -len(IMAGE_SUFFIX)]
            ids, train_ids = Path(f"{stem}{LABEL_SUFFIX}"), Path(f"{stem}{TRAINID_SUFFIX}")
            if ids.is_file():
                self.files.append((image, ids, ID_TO_TRAINID))
            elif train_ids.is_file():
                self.files.append((image, train_ids, TRAINID_TO_TRAINID))
            else:
                raise DataError(f"image {image} has no label: expected {ids}", dataset=self.name)

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> Sample:
        image_path, label_path, lut = self.files[index]
        with Image.open(image_path) as im:
            image = np.array(im.convert("RGB"), dtype=np.uint8)
        with Image.open(label_path) as lab:
            if lab.mode != "L":
                raise DataError(f"label {label_path} has PIL mode {lab.mode!r}; expected 'L' (one 8-bit label id "
                                "per pixel, not a colour image)", dataset=self.name)
            label = np.asarray(lab, dtype=np.uint8)
        if label.shape != image.shape[:2]:
            raise DataError(f"label {label_path} is {label.shape[0]}x{label.shape[1]} but its image {image_path} is "
                            f"{image.shape[0]}x{image.shape[1]}; expected the same height x width", dataset=self.name)
        return Sample(image=image, label=lut[label], name=str(image_path))
