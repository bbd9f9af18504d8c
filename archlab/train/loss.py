"""Segmentation losses: cross-entropy with the ignore index, and its online hard-example variant."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from archlab.data.base import IGNORE_INDEX


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Mean pixel cross-entropy over the pixels that are not ``ignore_index``."""
    return F.cross_entropy(logits.float(), target, ignore_index=ignore_index)


def ohem_cross_entropy(logits: torch.Tensor, target: torch.Tensor, thresh: float = 0.7, min_kept: float = 1 / 16,
                       ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Online hard example mining (Shrivastava et al., CVPR 2016) as segmentation uses it.

    Keeps the pixels whose predicted probability of their true class is below ``thresh``, and
    always at least the ``min_kept`` fraction of valid pixels with the highest losses (BiSeNet,
    FASSD-Net and most real-time Cityscapes recipes train this way).
    """
    losses = F.cross_entropy(logits.float(), target, ignore_index=ignore_index, reduction="none").reshape(-1)
    valid = target.reshape(-1) != ignore_index
    losses = losses[valid]
    if losses.numel() == 0:
        return logits.sum() * 0.0
    keep_at_least = max(1, int(min_kept * losses.numel()))
    hard = losses > -torch.log(torch.tensor(thresh, device=losses.device))
    if int(hard.sum()) >= keep_at_least:
        return losses[hard].mean()
    return torch.topk(losses, keep_at_least).values.mean()
