"""MDA: FASSD-Net's multi-resolution dilated asymmetric module.

Rosas-Arias et al., "FASSD-Net: Fast and Accurate Real-Time Semantic Segmentation for Embedded
Systems", ICPR 2020, Sec. III-C, Fig. 4. Derived from DABNet's depth-wise asymmetric bottleneck
(Li et al., BMVC 2019) with full convolutions; the "multi-resolution" part is the concatenation
of upsampled and skip features that feeds it in the decoder.
"""
from __future__ import annotations

from torch import nn

from archlab.blocks.conv import AsymmetricConv, ConvBNAct, positive


class MDA(nn.Module):
    """BN+PReLU → 3x3 conv n→n/2 (BN, PReLU) → [3x3 conv ‖ (3,1)/(1,3) convs dilated d] summed →
    BN+PReLU → 1x1 conv n/2→n (no BN, no act) → + input.

    FASSD-Net (ICPR 2020), Sec. III-C; dilation 8, 4, 2 at the 1/16, 1/8, 1/4 decoder stages.
    Every BN has eps 1e-3, as the authors' code (its BNPReLU, after DABNet's), so that their
    weights give their outputs.
    """

    paper = "FASSD-Net (Rosas-Arias et al., ICPR 2020), Sec. III-C"
    bn_eps = 1e-3

    def __init__(self, in_channels: int, dilation: int = 2):
        super().__init__()
        positive(dilation, "dilation")
        if in_channels < 2:
            raise ValueError(f"MDA needs at least 2 input channels (it halves them), got {in_channels}")
        half = in_channels // 2
        self.pre = nn.Sequential(nn.BatchNorm2d(in_channels), nn.PReLU(in_channels))
        self.reduce = ConvBNAct(in_channels, half, 3, act="prelu")
        self.local = ConvBNAct(half, half, 3, act="prelu")
        self.dilated = AsymmetricConv(half, half, 3, dilation=dilation, act="prelu")
        self.post = nn.Sequential(nn.BatchNorm2d(half), nn.PReLU(half))
        self.expand = nn.Conv2d(half, in_channels, 1, bias=False)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eps = self.bn_eps
        self.out_channels, self.stride = in_channels, 1

    def forward(self, x):
        y = self.reduce(self.pre(x))
        y = self.post(self.local(y) + self.dilated(y))
        return self.expand(y) + x


BLOCKS = {"mda": MDA}
