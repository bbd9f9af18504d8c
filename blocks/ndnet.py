"""NDNet's blocks: the stem, the narrow bottleneck and a stage of them.

Yang, Yu, Fu, Sun, Jia, Sun and Mao, "NDNet: Narrow While Deep Network for Real-Time Semantic
Segmentation", IEEE T-ITS 2020 (arXiv 1903.06922, "Real time backbone for semantic
segmentation"): the narrow-while-deep backbone and its bottleneck. The backbone is a 3x3
stride-2 conv to 8 channels and a 3x3 max pool (1/4), then three stages of narrow bottlenecks
whose first block strides (1/8, 1/16, 1/32); an output stride of 16 replaces the last stage's
stride by dilation 2.

Placement of BN and ReLU follows the authors' public code (github.com/zgyang-hnu/NDNet,
``backbone/conv_module.py``): each depthwise-separable conv is a depthwise 3x3 with neither BN
nor activation, then the pointwise 1x1, then BN (then ReLU where there is one). This differs from
:class:`archlab.blocks.conv.DepthwiseSeparableConv` (Xception/MobileNet style, BN and act after both
convs), so NDNet's separable conv is its own block, :class:`NDNetSepConv`.
"""
from __future__ import annotations

from torch import nn

from archlab.blocks.conv import ConvBNAct, cpu_channels_last, positive

PAPER = "NDNet (Yang et al., IEEE T-ITS 2020; arXiv 1903.06922)"


class NDNetSepConv(nn.Sequential):
    """NDNet's depthwise-separable conv: depthwise kxk (no BN, no act, no bias), pointwise 1x1, BN, act.

    NDNet's separable convolution (used in the narrow bottleneck and in the encoder-decoder
    head); BN and activation only after the pointwise conv, as in the authors'
    code. ``act="none"`` gives the linear form used for the bottleneck's second conv and shortcut.
    """

    paper = f"{PAPER}: separable conv (authors' code, backbone/conv_module.py SepConvBR)"
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 dilation: int = 1, act: str = "relu"):
        positive(out_channels, "out_channels")
        positive(kernel_size, "kernel_size")
        positive(stride, "stride")
        positive(dilation, "dilation")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size={kernel_size} must be odd so that padding keeps the size")
        super().__init__(
            nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride, padding=dilation * (kernel_size - 1) // 2,
                      dilation=dilation, groups=in_channels, bias=False),
            ConvBNAct(in_channels, out_channels, 1, act=act),
        )
        self.out_channels, self.stride = out_channels, stride


class NDNetStem(nn.Sequential):
    """NDNet's stem: 3x3 conv stride 2 to ``out_channels`` (8), BN, ReLU; 3x3 max pool stride 2 (1/4).

    NDNet's backbone structure ("conv1", "maxpool"); pool padding 1, as in the authors' code.
    """

    paper = f"{PAPER}: backbone structure (authors' code, backbone/ndnet.py)"
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: int, out_channels: int = 8):
        positive(out_channels, "out_channels")
        super().__init__(
            ConvBNAct(in_channels, out_channels, 3, stride=2),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        self.out_channels, self.stride = out_channels, 4


class NarrowBottleneck(nn.Module):
    """NDNet's narrow bottleneck: two depthwise-separable 3x3 convs, m then expansion*m wide.

    NDNet's narrow bottleneck: separable conv to the narrow width ``channels`` = m (stride, dilation;
    BN, ReLU), separable conv to ``expansion`` * m (dilation; BN, no ReLU); the shortcut is the
    identity, or a linear separable conv (stride, dilation; BN) when the block strides or changes
    width; ReLU after the sum. BN and ReLU sit after each pointwise conv only (see
    :class:`NDNetSepConv`).
    """

    paper = f"{PAPER}: narrow bottleneck (authors' code, backbone/ndnet.py Narrow_BottleNeck)"
    channel_args = {"channels": 4}

    def __init__(self, in_channels: int, channels: int = 16, stride: int = 1, dilation: int = 1,
                 expansion: int = 4):
        super().__init__()
        positive(channels, "channels")
        positive(stride, "stride")
        positive(dilation, "dilation")
        positive(expansion, "expansion")
        out_channels = channels * expansion
        self.conv1 = NDNetSepConv(in_channels, channels, stride=stride, dilation=dilation, act="relu")
        self.conv2 = NDNetSepConv(channels, out_channels, dilation=dilation, act="none")
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = NDNetSepConv(in_channels, out_channels, stride=stride, dilation=dilation, act="none")
        self.act = nn.ReLU(inplace=True)
        self.out_channels, self.stride = out_channels, stride

    def forward(self, x):
        return self.act(self.conv2(self.conv1(x)) + self.shortcut(x))


class NDNetStage(nn.Sequential):
    """``num_blocks`` narrow bottlenecks of width ``channels`` = m (output ``expansion`` * m).

    NDNet's backbone structure: the first block carries ``stride`` (and a projection shortcut);
    every block carries ``dilation`` (2 with stride 1 for the output-stride-16 variant, as the
    authors' code does for the last stage). NDNet29: m 24/48/96, blocks 3/8/3; NDNet45: 16/32/64,
    4/12/6; NDNet61: 12/24/48, 6/16/8; NDNet29w: 64/128/256, 3/8/3. Computes in channels-last
    memory format on the CPU (:func:`archlab.blocks.conv.cpu_channels_last`: PyTorch's depthwise
    convolutions are several times faster so; same values up to rounding).
    """

    paper = f"{PAPER}: backbone structure (authors' code, backbone/ndnet.py)"
    channel_args = {"channels": 4}
    depth_args = ("num_blocks",)

    def __init__(self, in_channels: int, channels: int = 16, num_blocks: int = 4, stride: int = 2,
                 dilation: int = 1, expansion: int = 4):
        positive(channels, "channels")
        positive(num_blocks, "num_blocks")
        positive(stride, "stride")
        positive(dilation, "dilation")
        positive(expansion, "expansion")
        out_channels = channels * expansion
        blocks = [NarrowBottleneck(in_channels if i == 0 else out_channels, channels, stride if i == 0 else 1,
                                   dilation, expansion) for i in range(num_blocks)]
        super().__init__(*blocks)
        self.out_channels, self.stride = out_channels, stride

    forward = cpu_channels_last(nn.Sequential.forward)


BLOCKS = {"ndnet_stem": NDNetStem, "narrow_bottleneck": NarrowBottleneck, "ndnet_stage": NDNetStage,
          "ndnet_sep_conv": NDNetSepConv}
