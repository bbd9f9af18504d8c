"""Convolution primitives shared by every architecture.

conv-BN-act (the basic unit of all five founding papers), depthwise-separable convolution
(Chollet, "Xception", CVPR 2017, Sec. 2; as used by Fast-SCNN's learning-to-downsample and
DFANet's backbone) and the dilated asymmetric pair (3,1)+(1,3) of FASSD-Net's DAPF and MDA
(Rosas-Arias et al., ICPR 2020, Sec. III).
"""
from __future__ import annotations

import functools

import torch
from torch import nn

ACTIVATIONS = ("relu", "relu6", "prelu", "leaky_relu", "none")


def make_act(act: str, channels: int) -> nn.Module:
    """An activation by name; PReLU gets one slope per channel."""
    if act == "relu":
        return nn.ReLU(inplace=True)
    if act == "relu6":
        return nn.ReLU6(inplace=True)
    if act == "prelu":
        return nn.PReLU(channels)
    if act == "leaky_relu":
        return nn.LeakyReLU(0.01, inplace=True)
    if act == "none":
        return nn.Identity()
    raise ValueError(f"act={act!r} is not an activation; valid: {', '.join(ACTIVATIONS)}")


class PooledBatchNorm2d(nn.BatchNorm2d):
    """Batch norm that falls back to its running statistics when a training batch has a single
    value per channel (batch 1 after global pooling, as in ASPP's and PPM's pooled branches),
    where batch statistics do not exist and ``nn.BatchNorm2d`` raises.

    Only the branches that pool to 1x1 use it (:func:`for_pooled_input`); everywhere else archlab
    uses ``nn.BatchNorm2d`` itself, so counters that match modules by exact type (thop, ptflops)
    count archlab's networks as they count the authors'.
    """

    def forward(self, x):
        if self.training and x.shape[0] * x.shape[2] * x.shape[3] == 1:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                            False, 0.0, self.eps)
        return super().forward(x)


def for_pooled_input(module: nn.Module) -> nn.Module:
    """Make every ``nn.BatchNorm2d`` inside ``module`` a :class:`PooledBatchNorm2d` (same state,
    no new parameters), for a branch that sees globally pooled 1x1 maps; returns ``module``."""
    for child in module.modules():
        if type(child) is nn.BatchNorm2d:
            child.__class__ = PooledBatchNorm2d
    return module


#: Plain batch norm, the authors' choice everywhere; kept as a name for the blocks that import it.
BatchNorm2d = nn.BatchNorm2d


def pair(value, name: str) -> tuple[int, int]:
    """``3`` → ``(3, 3)``; ``[3, 1]`` stays; anything else is a ValueError naming ``name``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{name}={value!r} must be a positive int or a pair of positive ints")


def positive(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return value


def _nchw_on_cpu(x) -> bool:
    return (isinstance(x, torch.Tensor) and x.device.type == "cpu" and x.dim() == 4 and x.is_contiguous()
            and not x.is_contiguous(memory_format=torch.channels_last))


def cpu_channels_last(forward):
    """Decorate a block's ``forward`` to compute in channels-last memory format on the CPU.

    NCHW inputs on the CPU are copied to channels-last, the block runs, and its output(s) come
    back NCHW: the same values up to float rounding (order of accumulation), but PyTorch's CPU
    convolutions (oneDNN; depthwise ones above all) and max pooling are much faster on
    channels-last tensors than on NCHW ones. Inputs already channels-last (a channels-last
    deploy), on another device or on ``meta`` pass through untouched.
    """

    @functools.wraps(forward)
    def wrapper(self, *xs, **kwargs):
        if not xs or not all(_nchw_on_cpu(x) for x in xs):
            return forward(self, *xs, **kwargs)
        out = forward(self, *(x.contiguous(memory_format=torch.channels_last) for x in xs), **kwargs)
        if isinstance(out, tuple):
            return tuple(o.contiguous() for o in out)
        return out.contiguous()

    return wrapper


class ConvBNAct(nn.Sequential):
    """Convolution, batch norm and activation: the unit every paper here builds from.

    ``out_channels`` may instead be given as ``out_ratio`` of the input (FC-HarDNet's decoder
    halves the concatenated channels with a 1x1 conv: Chao et al., HarDNet, ICCV 2019, Sec. 4.3).
    ``norm=False`` drops the BN and gives the conv a bias.
    """

    paper = "common conv-BN-activation unit (Ioffe & Szegedy, ICML 2015, for BN)"
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: int, out_channels: int | None = None, kernel_size=3, stride: int = 1,
                 dilation=1, groups: int = 1, act: str = "relu", norm: bool = True, out_ratio: float | None = None):
        if out_channels is None:
            if out_ratio is None:
                out_channels = in_channels
            elif not (isinstance(out_ratio, (int, float)) and out_ratio > 0):
                raise ValueError(f"out_ratio={out_ratio!r} must be a positive number")
            else:
                out_channels = max(1, int(in_channels * out_ratio))
        elif out_ratio is not None:
            raise ValueError("give out_channels or out_ratio, not both")
        positive(out_channels, "out_channels")
        kh, kw = pair(kernel_size, "kernel_size")
        dh, dw = pair(dilation, "dilation")
        positive(stride, "stride")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
        conv = nn.Conv2d(in_channels, out_channels, (kh, kw), stride=stride,
                         padding=(dh * (kh - 1) // 2, dw * (kw - 1) // 2), dilation=(dh, dw), groups=groups,
                         bias=not norm)
        layers = [conv] + ([nn.BatchNorm2d(out_channels)] if norm else []) + [make_act(act, out_channels)]
        super().__init__(*layers)
        self.out_channels = out_channels
        self.stride = stride


class DepthwiseSeparableConv(nn.Sequential):
    """Depthwise kxk conv (BN, act) then pointwise 1x1 conv (BN, act).

    Xception (Chollet, CVPR 2017, Sec. 2); Fast-SCNN (Poudel et al., 2019, Sec. 3.2.1) uses it in
    learning to downsample and the classifier. ``pointwise_act="none"`` gives a linear output.
    """

    paper = "Xception (Chollet, CVPR 2017), Sec. 2; Fast-SCNN (Poudel et al., 2019), Sec. 3.2"
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: int, out_channels: int | None = None, stride: int = 1, kernel_size: int = 3,
                 dilation: int = 1, act: str = "relu", pointwise_act: str | None = None):
        out_channels = in_channels if out_channels is None else out_channels
        positive(out_channels, "out_channels")
        super().__init__(
            ConvBNAct(in_channels, in_channels, kernel_size, stride=stride, dilation=dilation, groups=in_channels,
                      act=act),
            ConvBNAct(in_channels, out_channels, 1, act=act if pointwise_act is None else pointwise_act),
        )
        self.out_channels = out_channels
        self.stride = stride


class AsymmetricConv(nn.Sequential):
    """A factorised kxk conv: (k,1) dilated (d,1), then (1,k) dilated (1,d); each with BN and act.

    The branch of FASSD-Net's DAPF and MDA modules (Rosas-Arias et al., ICPR 2020, Sec. III-B/C),
    after ERFNet's non-bottleneck-1D factorisation (Romera et al., T-ITS 2018).
    """

    paper = "FASSD-Net (Rosas-Arias et al., ICPR 2020), Sec. III-B"
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: int, out_channels: int | None = None, kernel_size: int = 3, dilation: int = 1,
                 act: str = "relu"):
        out_channels = in_channels if out_channels is None else out_channels
        positive(out_channels, "out_channels")
        positive(dilation, "dilation")
        super().__init__(
            ConvBNAct(in_channels, out_channels, (kernel_size, 1), dilation=(dilation, 1), act=act),
            ConvBNAct(out_channels, out_channels, (1, kernel_size), dilation=(1, dilation), act=act),
        )
        self.out_channels = out_channels
        self.stride = 1


BLOCKS = {"conv_bn_act": ConvBNAct, "dw_separable": DepthwiseSeparableConv, "asymmetric_conv": AsymmetricConv}
