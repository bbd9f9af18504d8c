"""What every dataset gives: raw samples, class names, palette and the classes that count in mIoU.

A dataset returns samples at its own resolution as ``uint8`` arrays (image ``H x W x 3`` RGB,
label ``H x W`` of train ids, :data:`IGNORE_INDEX` where a pixel does not count). Resizing,
augmentation and normalisation happen afterwards in :mod:`archlab.data.augment`, the same for
every dataset, so a model trained on the synthetic default and one trained on Cityscapes see
their data through the same pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = 255

# Cityscapes' 19 train ids: (name, colour). Cordts et al., "The Cityscapes Dataset", CVPR 2016;
# colours as in the official cityscapesScripts labels table.
CITYSCAPES_CLASSES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("road", (128, 64, 128)), ("sidewalk", (244, 35, 232)), ("building", (70, 70, 70)),
    ("wall", (102, 102, 156)), ("fence", (190, 153, 153)), ("pole", (153, 153, 153)),
    ("traffic light", (250, 170, 30)), ("traffic sign", (220, 220, 0)), ("vegetation", (107, 142, 35)),
    ("terrain", (152, 251, 152)), ("sky", (70, 130, 180)), ("person", (220, 20, 60)),
    ("rider", (255, 0, 0)), ("car", (0, 0, 142)), ("truck", (0, 0, 70)), ("bus", (0, 60, 100)),
    ("train", (0, 80, 100)), ("motorcycle", (0, 0, 230)), ("bicycle", (119, 11, 32)),
)
CITYSCAPES_NAMES = tuple(name for name, _ in CITYSCAPES_CLASSES)
CITYSCAPES_PALETTE = np.array([colour for _, colour in CITYSCAPES_CLASSES], dtype=np.uint8)


@dataclass
class Sample:
    """One image and its label at the dataset's own resolution."""

    image: np.ndarray  # H x W x 3, uint8, RGB
    label: np.ndarray  # H x W, uint8 train ids, IGNORE_INDEX = not evaluated
    name: str          # where it came from (a file path, or "synthstreets/seed0/val/17")


class SegmentationDataset:
    """Base class of the datasets. Subclasses set the attributes and implement ``__len__`` and ``load``.

    ``num_classes`` is the number of class scores a model must output; ``class_names`` and
    ``palette`` have that length; ``eval_classes`` are the train ids whose IoU enters the mIoU
    (all of them for real datasets; the classes the generator draws for synthstreets).
    """

    name: str = ""
    split: str = ""
    num_classes: int = 0
    class_names: tuple[str, ...] = ()
    palette: np.ndarray = np.zeros((0, 3), np.uint8)
    eval_classes: tuple[int, ...] = ()
    ignore_index: int = IGNORE_INDEX

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int) -> Sample:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"{self.name} {self.split}: index {index} out of range 0..{len(self) - 1}")
        return self.load(index)

    def describe(self) -> str:
        return f"{self.name} {self.split} ({len(self)} images, {len(self.eval_classes)} evaluated classes)"

    def memo_key(self):
        """A hashable identity of everything this dataset's samples depend on, or None (the default).

        Datasets that return one share loaded samples across trainings in a process
        (:mod:`archlab.data.memo`); return None where samples may change while the process runs.
        """
        return None


def open_tree(dataset: SegmentationDataset, root, split: str, splits, expected: str):
    """Common start of a file-tree dataset: check ``split`` and ``root``, set ``dataset.root/.split``.

    ``expected`` says what the root folder should hold (it goes into the error message).
    """
    from pathlib import Path

    from archlab.errors import DataError

    if split not in splits:
        raise DataError(f"unknown split {split!r}; valid: {', '.join(splits)}", dataset=dataset.name)
    dataset.root = Path(root).expanduser()
    dataset.split = split
    if not dataset.root.is_dir():
        raise DataError(f"root {dataset.root} does not exist or is not a directory; expected the folder "
                        f"holding {expected}", dataset=dataset.name)


def colorize(label: np.ndarray, palette: np.ndarray, ignore_color=(0, 0, 0)) -> np.ndarray:
    """Label map (train ids) -> RGB image with ``palette``; ignored and unknown ids get ``ignore_color``."""
    lut = np.zeros((256, 3), np.uint8)
    lut[:] = ignore_color
    lut[: len(palette)] = palette
    return lut[np.asarray(label, dtype=np.uint8)]
