"""ResNet's stem, basic residual block and stages of basic blocks.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016, Sec. 3-4
and Table 1: a 7x7 stride-2 convolution and a 3x3 stride-2 max pool (1/4), then stages of
"basic" blocks (two 3x3 convolutions and an identity shortcut; a 1x1 projection shortcut with
BN when the block strides or changes width, option B of Sec. 3.3). ResNet-18 has [2, 2, 2, 2]
blocks per stage, ResNet-34 [3, 4, 6, 3]. FANet (Hu et al., 2020) uses this backbone with an
extra stride in the first stage and leaky ReLU inside the blocks (``act``).
"""
from __future__ import annotations

from torch import nn

from archlab.blocks.conv import ConvBNAct, cpu_channels_last, make_act, positive

#: Blocks per stage of the two BasicBlock ResNets (He et al., CVPR 2016, Table 1).
RESNET_DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


class ResNetStem(nn.Sequential):
    """7x7 stride-2 conv to ``out_channels`` (BN, act), then a 3x3 stride-2 max pool: 1/4.

    ResNet (He et al., CVPR 2016), Table 1, rows conv1 and the pool opening conv2_x.

    On the CPU the stem computes in channels-last memory format (:func:`archlab.blocks.conv.cpu_channels_last`):
    the same values, but PyTorch's NCHW max pool kernel is several times slower than its
    channels-last one on this 64-channel map at 1/2 resolution (the whole stem about 0.55x its
    NCHW time at 512x1024 on a 2-core EPYC).
    """

    paper = "ResNet (He et al., CVPR 2016), Table 1 (conv1 and max pool)"
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: int, out_channels: int = 64, act: str = "relu"):
        positive(out_channels, "out_channels")
        super().__init__(ConvBNAct(in_channels, out_channels, 7, stride=2, act=act),
                         nn.MaxPool2d(3, stride=2, padding=1))
        self.out_channels, self.stride = out_channels, 4

    forward = cpu_channels_last(nn.Sequential.forward)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN (act after the first) plus a shortcut, then ReLU.

    ResNet (He et al., CVPR 2016), Sec. 3.3 and Fig. 2 left. The shortcut is the identity, or a
    1x1 conv + BN with the block's stride when the stride or the width changes (option B).
    ``act`` is the activation between the two convolutions (leaky ReLU in FANet's code); the
    activation after the addition is ReLU, as in both.
    """

    paper = "ResNet (He et al., CVPR 2016), Sec. 3.3, Fig. 2 (basic block)"
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: int, out_channels: int | None = None, stride: int = 1, act: str = "relu"):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        positive(out_channels, "out_channels")
        positive(stride, "stride")
        self.conv1 = ConvBNAct(in_channels, out_channels, 3, stride=stride, act=act)
        self.conv2 = ConvBNAct(out_channels, out_channels, 3, act="none")
        if stride != 1 or in_channels != out_channels:
            self.shortcut = ConvBNAct(in_channels, out_channels, 1, stride=stride, act="none")
        else:
            self.shortcut = nn.Identity()
        self.relu = make_act("relu", out_channels)
        self.out_channels, self.stride = out_channels, stride

    def forward(self, x):
        return self.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class ResNetStage(nn.Sequential):
    """``num_blocks`` basic blocks to ``out_channels``; the first one carries the ``stride``.

    ResNet (He et al., CVPR 2016), Table 1 (conv2_x .. conv5_x): ResNet-18 stages have 2 blocks,
    ResNet-34's 3, 4, 6, 3 (``RESNET_DEPTHS``). Unlike the stem, stages stay NCHW on the CPU:
    channels-last gains little on their dense 3x3 convs, and at the low resolutions of the deep
    stages copying the weights to channels-last on every call costs more than it saves.
    """

    paper = "ResNet (He et al., CVPR 2016), Table 1 (residual stages)"
    channel_args = {"out_channels": 8}
    depth_args = ("num_blocks",)

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int = 2, stride: int = 1,
                 act: str = "relu"):
        positive(out_channels, "out_channels")
        positive(num_blocks, "num_blocks")
        positive(stride, "stride")
        blocks = [BasicBlock(in_channels, out_channels, stride=stride, act=act)]
        blocks += [BasicBlock(out_channels, out_channels, act=act) for _ in range(num_blocks - 1)]
        super().__init__(*blocks)
        self.out_channels, self.stride = out_channels, stride


BLOCKS = {"resnet_stem": ResNetStem, "basic_block": BasicBlock, "resnet_stage": ResNetStage}
