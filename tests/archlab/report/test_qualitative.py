import numpy as np
from PIL import Image

from archlab.data.base import CITYSCAPES_NAMES, CITYSCAPES_PALETTE
from archlab.report.qualitative import qualitative_figure


def test_figure_has_one_panel_per_column_and_uses_the_palette(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (32, 64, 3), dtype=np.uint8) for _ in range(2)]
    labels = [np.full((32, 64), 13, np.uint8), np.full((32, 64), 0, np.uint8)]   # car, road
    preds = {"a": labels, "b": [np.full((32, 64), 10, np.uint8)] * 2}           # b says sky everywhere
    path = qualitative_figure(images, labels, preds, CITYSCAPES_PALETTE, CITYSCAPES_NAMES, tmp_path / "f.png",
                              title="t")
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    colours = {tuple(c) for c in np.unique(pixels, axis=0)}
    for train_id in (13, 0, 10):          # car, road and sky colours are drawn
        assert tuple(CITYSCAPES_PALETTE[train_id]) in colours
