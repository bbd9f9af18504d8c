"""Samples -> tensors, the same way for every dataset.

Training: random scale in ``[0.5, 2]`` of the working size, random crop of the working size
(padding the image with the mean colour and the label with the ignore index), random
horizontal flip, ImageNet normalisation — the standard recipe of real-time segmentation
papers (e.g. BiSeNet, Yu et al., ECCV 2018, Sec. 4; DFANet, Li et al., CVPR 2019, Sec. 4.1).
Evaluation: resize to the working size and normalise.

Images are resized bilinearly (``align_corners=False``), labels by nearest neighbour with
``nearest-exact`` (pixel centres, so label and image stay aligned; ``nearest`` would shift the
label by up to half a source pixel). Both run with ``torch.nn.functional.interpolate`` on the
CPU, which is deterministic; all randomness comes from the caller's ``rng``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from archlab.data.base import IGNORE_INDEX, Sample

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
_MEAN = torch.tensor(MEAN).view(3, 1, 1)
_STD = torch.tensor(STD).view(3, 1, 1)


def _check_size(size) -> tuple[int, int]:
    ok = (isinstance(size, (tuple, list)) and len(size) == 2
          and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in size))
    if not ok:
        raise ValueError(f"size = {size!r}; expected (height, width), two positive ints")
    return int(size[0]), int(size[1])


def _check_scale(scale) -> tuple[float, float]:
    ok = (isinstance(scale, (tuple, list)) and len(scale) == 2
          and all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in scale)
          and 0 < scale[0] <= scale[1])
    if not ok:
        raise ValueError(f"scale = {scale!r}; expected (lo, hi) with 0 < lo <= hi")
    return float(scale[0]), float(scale[1])


def _tensors(sample: Sample) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised float32 (3, H, W) image and int64 (H, W) label."""
    image, label = np.asarray(sample.image), np.asarray(sample.label)
    if image.ndim != 3 or image.shape[2] != 3 or label.shape != image.shape[:2]:
        raise ValueError(f"sample {sample.name!r}: image {image.shape} and label {label.shape}; "
                         "expected H x W x 3 and H x W")
    x = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1).div_(255)
    return (x - _MEAN) / _STD, torch.from_numpy(label.astype(np.int64))


def _resize(image: torch.Tensor, label: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    if tuple(label.shape) == size:
        return image, label
    image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    label = F.interpolate(label[None, None].to(torch.float32), size=size, mode="nearest-exact")[0, 0]
    return image, label.to(torch.int64)


def train_pair(sample: Sample, size: tuple[int, int], rng: np.random.Generator, scale=(0.5, 2.0),
               flip: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Random scale, crop and flip of ``sample``; ``size`` = ``(H, W)`` is the working size and the crop.

    The sample is resized to ``size`` times ``s ~ U(scale)``, a ``size`` crop is taken at a
    random place (padding with 0 = the mean colour after normalisation, and 255 in the label,
    where the resized sample is smaller), flipped left-right with probability 0.5 if ``flip``,
    and returned as a float32 ``(3, H, W)`` image and an int64 ``(H, W)`` label.
    """
    h, w = _check_size(size)
    lo, hi = _check_scale(scale)
    image, label = _tensors(sample)
    s = rng.uniform(lo, hi)
    image, label = _resize(image, label, (max(1, round(h * s)), max(1, round(w * s))))
    pad_h, pad_w = max(0, h - label.shape[0]), max(0, w - label.shape[1])
    if pad_h or pad_w:
        image = F.pad(image, (0, pad_w, 0, pad_h), value=0.0)
        label = F.pad(label, (0, pad_w, 0, pad_h), value=IGNORE_INDEX)
    y0 = int(rng.integers(0, label.shape[0] - h + 1))
    x0 = int(rng.integers(0, label.shape[1] - w + 1))
    image, label = image[:, y0:y0 + h, x0:x0 + w], label[y0:y0 + h, x0:x0 + w]
    if flip and rng.random() < 0.5:
        image, label = image.flip(-1), label.flip(-1)
    return image.contiguous(), label.contiguous()


def eval_pair(sample: Sample, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``sample`` resized to ``size`` = ``(H, W)`` (bilinear image, nearest label) and normalised."""
    image, label = _resize(*_tensors(sample), _check_size(size))
    return image.contiguous(), label.contiguous()


def denormalize(image: torch.Tensor) -> np.ndarray:
    """Normalised ``(3, H, W)`` image -> ``H x W x 3`` uint8 RGB, for figures."""
    x = image.detach().to("cpu", torch.float32) * _STD + _MEAN
    return (x.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()).copy()
