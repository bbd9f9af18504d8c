"""Small Cityscapes and CamVid trees on disk, in exactly the layouts the loaders read.

For tests and for smoke-testing a training run before downloading the real data. Labels are
blocks of raw label ids; every id occurs in every label image of at least 34 (Cityscapes) or
12 (CamVid) pixels: all 34 Cityscapes ids, so each of the 19 train ids and the ignored ones;
CamVid's 0..10 and void 11. Each raw id gets a random colour and the image is that colour plus
noise, so a model can learn the trees.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

CITYSCAPES_IDS = tuple(range(34))  # every id an 8-bit labelIds image can hold
CITYSCAPES_CITIES = {"train": ("aachen", "bochum", "zurich"), "val": ("frankfurt", "lindau", "munster"),
                     "test": ("berlin", "bielefeld", "bonn")}
CAMVID_IDS = tuple(range(12))        # 0..10 classes, 11 void
CAMVID_SEQUENCES = ("0001TP", "0006R0", "0016E5", "Seq05VD")


def _check(splits: Mapping[str, int], size) -> tuple[int, int]:
    for split, count in splits.items():
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"splits[{split!r}] = {count!r}; expected a positive number of images")
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise ValueError(f"size = {size!r}; expected (height, width), two positive ints")
    return int(size[0]), int(size[1])


def _blocks(ids, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """H x W uint8 label of rectangular blocks (up to 8 px) holding every id of ``ids`` when there are enough pixels."""
    h, w = size
    cell = 8
    while cell > 1 and (h // cell) * (w // cell) < len(ids):
        cell -= 1
    gh, gw = max(1, h // cell), max(1, w // cell)
    cells = rng.permutation(np.resize(np.asarray(ids, np.uint8), gh * gw)).reshape(gh, gw)
    rows, cols = np.arange(h) * gh // h, np.arange(w) * gw // w
    return cells[rows[:, None], cols[None, :]]


def _image(label: np.ndarray, colours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = rng.integers(-20, 21, (*label.shape, 3))
    return np.clip(colours[label].astype(np.int16) + noise, 0, 255).astype(np.uint8)


def write_cityscapes_tree(root, splits: Mapping[str, int] | None = None, size: tuple[int, int] = (64, 128),
                          seed: int = 0) -> Path:
    """Write ``root/leftImg8bit/{split}/{city}/..._leftImg8bit.png`` and ``root/gtFine/.../..._gtFine_labelIds.png``.

    ``splits`` maps split name to image count (default ``{"train": 3, "val": 2}``); images are
    spread over several cities per split; ``size`` is ``(H, W)``. Returns ``root``.
    """
    splits = {"train": 3, "val": 2} if splits is None else dict(splits)
    size = _check(splits, size)
    root = Path(root)
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (256, 3))
    for split, count in splits.items():
        cities = CITYSCAPES_CITIES.get(split, ("cityA", "cityB"))
        for i in range(count):
            city = cities[i % len(cities)]
            stem = f"{city}_{i // len(cities):06d}_{19 + i:06d}"
            label = _blocks(CITYSCAPES_IDS, size, rng)
            for folder, suffix, array in (("leftImg8bit", "_leftImg8bit.png", _image(label, colours, rng)),
                                          ("gtFine", "_gtFine_labelIds.png", label)):
                path = root / folder / split / city / f"{stem}{suffix}"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(path)
    return root


def write_camvid_tree(root, splits: Mapping[str, int] | None = None, size: tuple[int, int] = (60, 80),
                      seed: int = 0) -> Path:
    """Write the SegNet CamVid layout: ``root/{split}/*.png`` images and ``root/{split}annot/*.png`` labels 0..11.

    ``splits`` maps split name to image count (default ``{"train": 3, "val": 2, "test": 2}``);
    ``size`` is ``(H, W)``. Returns ``root``.
    """
    splits = {"train": 3, "val": 2, "test": 2} if splits is None else dict(splits)
    size = _check(splits, size)
    root = Path(root)
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (256, 3))
    for split, count in splits.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
        for i in range(count):
            name = f"{CAMVID_SEQUENCES[i % len(CAMVID_SEQUENCES)]}_{30 * (i + 1):06d}.png"
            label = _blocks(CAMVID_IDS, size, rng)
            Image.fromarray(_image(label, colours, rng)).save(root / split / name)
            Image.fromarray(label).save(root / f"{split}annot" / name)
    return root
