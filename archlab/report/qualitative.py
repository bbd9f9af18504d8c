"""The qualitative figure: input, ground truth and each model's prediction side by side.

Labels are coloured with the dataset's palette (the Cityscapes palette for Cityscapes and
synthstreets); ignored pixels are black. A legend names the classes that appear.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from archlab.data.augment import denormalize, eval_pair
from archlab.data.base import colorize


@torch.inference_mode()
def predict(model: torch.nn.Module, dataset, indices, size, device="cpu") -> list[dict]:
    """For each index: the resized input (uint8 RGB), its label and ``model``'s prediction at ``size``."""
    model.eval()
    rows = []
    for index in indices:
        image, label = eval_pair(dataset[index], size)
        logits = model(image[None].to(device))
        if logits.shape[-2:] != label.shape:
            logits = torch.nn.functional.interpolate(logits, size=label.shape, mode="bilinear", align_corners=False)
        rows.append({"image": denormalize(image), "label": label.numpy().astype(np.uint8),
                     "prediction": logits.argmax(1)[0].cpu().numpy().astype(np.uint8), "index": index})
    return rows


def qualitative_figure(images, labels, predictions: dict[str, list], palette, class_names, path, title: str = ""):
    """Write a grid (one row per image; columns input, ground truth, one per model) to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    columns = ["input", "ground truth", *predictions]
    rows = len(images)
    height, width = images[0].shape[:2]
    fig, axes = plt.subplots(rows, len(columns), squeeze=False,
                             figsize=(2.6 * len(columns) * width / max(width, height) + 0.5,
                                      2.6 * rows * height / max(width, height) + 1.2))
    present = set()
    for r in range(rows):
        panels = [images[r], colorize(labels[r], palette)]
        present.update(int(v) for v in np.unique(labels[r]) if v < len(palette))
        for name in predictions:
            panels.append(colorize(predictions[name][r], palette))
        for c, panel in enumerate(panels):
            ax = axes[r][c]
            ax.imshow(panel, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=9)
    handles = [Patch(color=np.asarray(palette[c]) / 255, label=class_names[c]) for c in sorted(present)]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.07 if rows > 1 else 0.12, 1, 0.95 if title else 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
