"""Fast-SCNN's blocks: learning to downsample, inverted residual stages, feature fusion.

Poudel, Liwicki and Cipolla, "Fast-SCNN: Fast Semantic Segmentation Network", BMVC 2019
(arXiv 1902.04502), Sec. 3.2 and Table 1. The inverted residual follows MobileNetV2
(Sandler et al., CVPR 2018, Sec. 3.3). Learning to downsample, the inverted residual stages and
the feature fusion compute in channels-last memory format on the CPU
(:func:`archlab.blocks.conv.cpu_channels_last`: faster depthwise convolutions, same values up to rounding).
"""
from __future__ import annotations

from torch import nn

from archlab.blocks.conv import ConvBNAct, DepthwiseSeparableConv, cpu_channels_last, positive
from archlab.blocks.glue import resize


class LearningToDownsample(nn.Sequential):
    """3x3 conv stride 2, then two depthwise-separable convs stride 2: output 1/8.

    Fast-SCNN, Sec. 3.2.1; channels 32, 48, 64 (Table 1).
    """

    paper = "Fast-SCNN (Poudel et al., BMVC 2019), Sec. 3.2.1"
    channel_args = {"channels": 8}

    def __init__(self, in_channels: int, channels=(32, 48, 64)):
        channels = list(channels)
        if len(channels) != 3 or not all(isinstance(c, int) and c > 0 for c in channels):
            raise ValueError(f"channels={channels!r} must be three positive integers (conv, dsconv, dsconv)")
        super().__init__(
            ConvBNAct(in_channels, channels[0], 3, stride=2),
            DepthwiseSeparableConv(channels[0], channels[1], stride=2),
            DepthwiseSeparableConv(channels[1], channels[2], stride=2),
        )
        self.out_channels, self.stride = channels[2], 8

    forward = cpu_channels_last(nn.Sequential.forward)


class InvertedResidual(nn.Module):
    """MobileNetV2's bottleneck: 1x1 expand (×t, BN, ReLU), 3x3 depthwise (stride, BN, ReLU),
    1x1 linear projection (BN); residual when stride 1 and widths equal.

    Sandler et al., MobileNetV2, CVPR 2018, Sec. 3.3; Fast-SCNN, Sec. 3.2.2 (t = 6).
    """

    paper = "MobileNetV2 (Sandler et al., CVPR 2018), Sec. 3.3; Fast-SCNN, Sec. 3.2.2"

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expansion: int = 6):
        super().__init__()
        positive(expansion, "expansion")
        hidden = in_channels * expansion
        self.body = nn.Sequential(
            ConvBNAct(in_channels, hidden, 1),
            ConvBNAct(hidden, hidden, 3, stride=stride, groups=hidden),
            ConvBNAct(hidden, out_channels, 1, act="none"),
        )
        self.residual = stride == 1 and in_channels == out_channels
        self.out_channels, self.stride = out_channels, stride

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class InvertedResidualStage(nn.Sequential):
    """``num_blocks`` inverted residuals to ``out_channels``, the first with ``stride``.

    Fast-SCNN's global feature extractor is three such stages (Table 1: 64, 96, 128 ch, ×3 each).
    """

    paper = "Fast-SCNN (Poudel et al., BMVC 2019), Sec. 3.2.2, Table 1"
    channel_args = {"out_channels": 8}
    depth_args = ("num_blocks",)

    def __init__(self, in_channels: int, out_channels: int = 64, num_blocks: int = 3, stride: int = 2,
                 expansion: int = 6):
        positive(out_channels, "out_channels")
        positive(num_blocks, "num_blocks")
        positive(stride, "stride")
        blocks = [InvertedResidual(in_channels if i == 0 else out_channels, out_channels,
                                   stride if i == 0 else 1, expansion) for i in range(num_blocks)]
        super().__init__(*blocks)
        self.out_channels, self.stride = out_channels, stride

    forward = cpu_channels_last(nn.Sequential.forward)


def _conv1x1_bn(in_channels: int, out_channels: int, bias: bool) -> nn.Sequential:
    """1x1 conv (with or without bias) then BN, as a plain Sequential (BN folding applies)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=bias), nn.BatchNorm2d(out_channels))


class FeatureFusion(nn.Module):
    """Fast-SCNN's feature fusion module (FFM): inputs (high-resolution, low-resolution).

    The low-resolution branch is upsampled to the high branch's size, then a 3x3 depthwise conv
    (dilated in the paper's text, dilation 1 in the widely used public code: ``dilation``) + BN +
    ReLU and a 1x1 conv + BN; the high branch a 1x1 conv + BN; sum; ReLU. Fast-SCNN, Sec. 3.2.3.
    ``bias=True`` gives the two 1x1 convs a bias before their BN, as the public code does
    (github.com/Tramac/Fast-SCNN-pytorch: 2 x ``out_channels`` more parameters; a bias before BN
    changes nothing the BN cannot absorb, and BN folding merges it).
    """

    paper = "Fast-SCNN (Poudel et al., BMVC 2019), Sec. 3.2.3"
    num_inputs = 2
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: tuple[int, int], out_channels: int = 128, dilation: int = 1,
                 bias: bool = False):
        super().__init__()
        positive(out_channels, "out_channels")
        if not isinstance(bias, bool):
            raise ValueError(f"bias={bias!r} must be true or false")
        high, low = in_channels
        if out_channels % low:
            raise ValueError(f"the depthwise conv maps the low branch's {low} channels to out_channels="
                             f"{out_channels}, which must be a multiple of {low}")
        self.low = nn.Sequential(
            ConvBNAct(low, out_channels, 3, dilation=dilation, groups=low),
            _conv1x1_bn(out_channels, out_channels, bias),
        )
        self.high = _conv1x1_bn(high, out_channels, bias)
        self.act = nn.ReLU(inplace=True)
        self.out_channels, self.stride = out_channels, 1

    @cpu_channels_last
    def forward(self, high, low):
        # the low branch first, in the order the public code runs the two
        low = self.low(resize(low, high.shape[-2:], "bilinear", align_corners=True))
        return self.act(self.high(high) + low)


BLOCKS = {"learning_to_downsample": LearningToDownsample, "inverted_residual_stage": InvertedResidualStage,
          "feature_fusion": FeatureFusion}
