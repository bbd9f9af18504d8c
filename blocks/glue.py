"""Graph glue: joining, resizing and pooling tensors between blocks.

These carry no learned parameters; they make the wiring of the papers' decoders explicit in a
spec (FC-HarDNet's upsample-and-concatenate, the final bilinear upsample to the input size that
every paper's FPS includes, DFANet's sums of aggregated features).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archlab.blocks.conv import positive

RESIZE_MODES = ("bilinear", "nearest")


def resize(x: torch.Tensor, size, mode: str = "bilinear", align_corners: bool = False) -> torch.Tensor:
    """Resize ``x`` to spatial ``size``; a no-op when it already has that size."""
    size = tuple(int(s) for s in size)
    if tuple(x.shape[-2:]) == size:
        return x
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    return F.interpolate(x, size=size, mode=mode, align_corners=align_corners)


def _check_mode(mode: str):
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode={mode!r} is not a resize mode; valid: {', '.join(RESIZE_MODES)}")


def _check_index(index, count: int, name: str) -> int:
    if not isinstance(index, int) or not -count <= index < count:
        raise ValueError(f"{name}={index!r} must index one of the {count} inputs (0 .. {count - 1})")
    return index % count


class Concat(nn.Module):
    """Concatenate inputs along channels after resizing each to input ``size_from``'s size.

    FC-HarDNet's TransitionUp (Chao et al., HarDNet, ICCV 2019, Sec. 4.3) is ``concat`` of
    [deeper, skip] with ``size_from=1`` and ``align_corners=True``.
    """

    paper = "FC-HarDNet decoder (Chao et al., ICCV 2019), Sec. 4.3"
    num_inputs = None

    def __init__(self, in_channels: tuple[int, ...], size_from: int = 0, mode: str = "bilinear",
                 align_corners: bool = False):
        super().__init__()
        _check_mode(mode)
        self.size_from = _check_index(size_from, len(in_channels), "size_from")
        self.mode, self.align_corners = mode, align_corners
        self.out_channels = sum(in_channels)
        self.stride_ref, self.stride = self.size_from, 1

    def forward(self, *xs):
        size = xs[self.size_from].shape[-2:]
        return torch.cat([resize(x, size, self.mode, self.align_corners) for x in xs], dim=1)


class Add(nn.Module):
    """Element-wise sum of inputs with equal channels and resolution (a residual join)."""

    paper = "residual addition (He et al., ResNet, CVPR 2016)"
    num_inputs = None
    same_size_inputs = True

    def __init__(self, in_channels: tuple[int, ...]):
        super().__init__()
        if len(set(in_channels)) > 1:
            raise ValueError(f"'add' needs equal channel counts, got {list(in_channels)}; insert a 1x1 "
                             f"'conv_bn_act' to match them, or use 'concat'")
        self.out_channels, self.stride = in_channels[0], 1

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class ResizedSum(nn.Module):
    """Sum of inputs with equal channels, each first resized to input ``size_from``'s size.

    DFANet's decoder sums aggregated features from several resolutions (Li et al., CVPR 2019, Sec. 3.3).
    """

    paper = "DFANet decoder (Li et al., CVPR 2019), Sec. 3.3"
    num_inputs = None

    def __init__(self, in_channels: tuple[int, ...], size_from: int = 0, mode: str = "bilinear",
                 align_corners: bool = False):
        super().__init__()
        _check_mode(mode)
        if len(set(in_channels)) > 1:
            raise ValueError(f"'resized_sum' needs equal channel counts, got {list(in_channels)}")
        self.size_from = _check_index(size_from, len(in_channels), "size_from")
        self.mode, self.align_corners = mode, align_corners
        self.out_channels, self.stride_ref, self.stride = in_channels[0], self.size_from, 1

    def forward(self, *xs):
        size = xs[self.size_from].shape[-2:]
        out = resize(xs[0], size, self.mode, self.align_corners)
        for x in xs[1:]:
            out = out + resize(x, size, self.mode, self.align_corners)
        return out


class ResizeLike(nn.Module):
    """Resize input 0 to the spatial size of input 1 (the final upsample to the image size)."""

    paper = "bilinear upsampling to the input size, as in every seed paper's forward and FPS figure"
    num_inputs = 2

    def __init__(self, in_channels: tuple[int, int], mode: str = "bilinear", align_corners: bool = False):
        super().__init__()
        _check_mode(mode)
        self.mode, self.align_corners = mode, align_corners
        self.out_channels, self.stride_ref, self.stride = in_channels[0], 1, 1

    def forward(self, x, like):
        return resize(x, like.shape[-2:], self.mode, self.align_corners)


class Pool(nn.Module):
    """Average or max pooling (HarDNet's 2x2 transitions, NDNet's stem max pool)."""

    paper = "pooling (HarDNet, Chao et al., ICCV 2019, Sec. 3)"

    def __init__(self, in_channels: int, kind: str = "avg", kernel_size: int = 2, stride: int | None = None,
                 padding: int = 0):
        super().__init__()
        if kind not in ("avg", "max"):
            raise ValueError(f"kind={kind!r}; valid: 'avg', 'max'")
        stride = kernel_size if stride is None else stride
        positive(kernel_size, "kernel_size")
        positive(stride, "stride")
        cls = nn.AvgPool2d if kind == "avg" else nn.MaxPool2d
        self.pool = cls(kernel_size, stride, padding)
        self.out_channels, self.stride = in_channels, stride

    def forward(self, x):
        return self.pool(x)


class Identity(nn.Module):
    """Passes its input through (a placeholder a study can swap for a real block)."""

    paper = "—"

    def __init__(self, in_channels: int):
        super().__init__()
        self.out_channels, self.stride = in_channels, 1

    def forward(self, x):
        return x


BLOCKS = {"concat": Concat, "add": Add, "resized_sum": ResizedSum, "resize_like": ResizeLike, "pool": Pool,
          "identity": Identity}
