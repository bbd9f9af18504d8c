"""DFANet's modified Xception backbone: Xception blocks, encoder stages and the FC attention.

Li, Xiong, Fan and Sun, "DFANet: Deep Feature Aggregation for Real-Time Semantic Segmentation",
CVPR 2019 (arXiv 1904.02216), Sec. 3.1 and Table 1; the block is Xception's depthwise-separable
residual unit (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017,
Sec. 3 and Fig. 5) slimmed to widths out/4, out/4, out.
"""
from __future__ import annotations

import torch
from torch import nn

from archlab.blocks.conv import ACTIVATIONS, ConvBNAct, DepthwiseSeparableConv, for_pooled_input, make_act, positive


class XceptionBlock(nn.Module):
    """Three 3x3 depthwise-separable convs of widths out/4, out/4, out plus a residual shortcut.

    DFANet, Sec. 3.1 / Table 1 (each encoder row is ``[3x3 sep, out/4; 3x3 sep, out/4; 3x3 sep, out]``),
    after Xception (Chollet, CVPR 2017, Fig. 5). With ``stride`` > 1 the LAST separable conv strides,
    as in DFANet's Table 1 and the public reimplementations. The shortcut is the identity when
    ``stride == 1`` and the widths are equal, otherwise a 1x1 conv (with ``stride``) + BN projection.

    Each separable conv is depthwise-BN-act then pointwise-BN-act (``archlab.blocks.conv``); the third
    one's pointwise output is linear so that the activation comes after the residual sum, the
    post-activation form of Xception's ReLU-SepConv-BN units (same parameters either way).

    The residual branch's last batch norm starts with zero scale, so every block is its shortcut at
    initialisation (Goyal et al., "Accurate, Large Minibatch SGD", 2017, Sec. 5.1). DFANet starts
    from ImageNet weights; from scratch, its three cascaded backbones (42 blocks) otherwise reach
    gradient norms of about 1e10 at the first step and training diverges.
    """

    paper = "DFANet (Li et al., CVPR 2019), Sec. 3.1, Table 1; Xception (Chollet, CVPR 2017), Fig. 5"
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, act: str = "relu"):
        super().__init__()
        positive(out_channels, "out_channels")
        positive(stride, "stride")
        if act not in ACTIVATIONS:
            raise ValueError(f"act={act!r} is not an activation; valid: {', '.join(ACTIVATIONS)}")
        if out_channels % 4:
            raise ValueError(f"out_channels={out_channels} must be a multiple of 4 (the first two separable "
                             f"convs have out_channels/4 channels)")
        mid = out_channels // 4
        self.body = nn.Sequential(
            DepthwiseSeparableConv(in_channels, mid, act=act),
            DepthwiseSeparableConv(mid, mid, act=act),
            DepthwiseSeparableConv(mid, out_channels, stride=stride, act=act, pointwise_act="none"),
        )
        last_norm = [m for m in self.body.modules() if isinstance(m, nn.BatchNorm2d)][-1]
        nn.init.zeros_(last_norm.weight)
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = ConvBNAct(in_channels, out_channels, 1, stride=stride, act="none")
        self.act = make_act(act, out_channels)
        self.out_channels, self.stride = out_channels, stride

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))


class XceptionStage(nn.Sequential):
    """One DFANet encoder stage (enc2, enc3 or enc4): ``num_blocks`` Xception blocks to
    ``out_channels``, the first with ``stride`` (2 in every stage of the paper).

    DFANet, Sec. 3.1, Table 1: backbone A 48 ×4, 96 ×6, 192 ×4; backbone B 32 ×4, 64 ×6, 128 ×4.
    """

    paper = "DFANet (Li et al., CVPR 2019), Sec. 3.1, Table 1"
    channel_args = {"out_channels": 8}
    depth_args = ("num_blocks",)

    def __init__(self, in_channels: int, out_channels: int = 48, num_blocks: int = 4, stride: int = 2,
                 act: str = "relu"):
        positive(out_channels, "out_channels")
        positive(num_blocks, "num_blocks")
        positive(stride, "stride")
        blocks = [XceptionBlock(in_channels if i == 0 else out_channels, out_channels, stride if i == 0 else 1, act)
                  for i in range(num_blocks)]
        super().__init__(*blocks)
        self.out_channels, self.stride = out_channels, stride


class FCAttention(nn.Module):
    """DFANet's fully-connected attention at the tail of the backbone.

    Global average pool → fully connected layer ``C → fc_dim`` (1000: the ImageNet classifier of
    the pretrained backbone, kept) → 1x1 conv ``fc_dim → C`` + BN + activation → multiply every
    channel of the input by its factor. DFANet, Sec. 3.1 ("FC attention").

    The paper says the 1x1 conv "matches the channel number" and that the vector multiplies the
    features; it names no gate. No sigmoid is used by default, following the public
    reimplementations (conv-BN-ReLU, e.g. the widely used awesome-semantic-segmentation-pytorch
    port); ``sigmoid=True`` gives the SE-style gated variant (Hu et al., CVPR 2018) for ablation. ``fc_dim`` is the classifier
    width, not a feature width, so the width knob leaves it alone.
    """

    paper = "DFANet (Li et al., CVPR 2019), Sec. 3.1 (FC attention)"

    def __init__(self, in_channels: int, fc_dim: int = 1000, act: str = "relu", sigmoid: bool = False):
        super().__init__()
        positive(fc_dim, "fc_dim")
        if not isinstance(sigmoid, bool):
            raise ValueError(f"sigmoid={sigmoid!r} must be true or false")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, fc_dim)
        self.conv = for_pooled_input(ConvBNAct(fc_dim, in_channels, 1, act=act))
        self.gate = nn.Sigmoid() if sigmoid else nn.Identity()
        self.out_channels, self.stride = in_channels, 1

    def factors(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel factors, shape (N, C, 1, 1), that multiply ``x``."""
        v = self.fc(torch.flatten(self.pool(x), 1))
        return self.gate(self.conv(v[:, :, None, None]))

    def forward(self, x):
        return x * self.factors(x)


BLOCKS = {"xception_block": XceptionBlock, "xception_stage": XceptionStage, "fc_attention": FCAttention}
