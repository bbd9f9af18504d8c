"""Context modules at the bottom of an encoder: pyramid pooling, ASPP and DAPF.

PPM: Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017, Sec. 3.2, in Fast-SCNN's form
(Poudel et al., 2019, Sec. 3.2.2). ASPP: Chen et al., "Rethinking Atrous Convolution" (DeepLabv3),
2017, Sec. 3.3. DAPF: Rosas-Arias et al., "FASSD-Net", ICPR 2020, Sec. III-B.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archlab.blocks.conv import AsymmetricConv, ConvBNAct, for_pooled_input, positive


def _int_list(value, name: str) -> list[int]:
    values = list(value) if isinstance(value, (list, tuple)) else None
    if not values or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ValueError(f"{name}={value!r} must be a non-empty list of positive integers")
    return values


class PyramidPooling(nn.Module):
    """Pyramid pooling: average-pool to each bin size, 1x1 conv to C/reduction (BN, ReLU), upsample,
    concatenate with the input and fuse with a 1x1 conv-BN-ReLU.

    PSPNet (Zhao et al., CVPR 2017), Sec. 3.2; Fast-SCNN (Poudel et al., 2019), Sec. 3.2.2, bins 1,2,3,6.
    """

    paper = "PSPNet (Zhao et al., CVPR 2017), Sec. 3.2; Fast-SCNN (Poudel et al., 2019), Sec. 3.2.2"
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: int, out_channels: int | None = None, bins=(1, 2, 3, 6), reduction: int = 4):
        super().__init__()
        out_channels = in_channels if out_channels is None else positive(out_channels, "out_channels")
        self.bins = _int_list(bins, "bins")
        positive(reduction, "reduction")
        inter = max(1, in_channels // reduction)
        self.branches = nn.ModuleList(for_pooled_input(ConvBNAct(in_channels, inter, 1)) for _ in self.bins)
        self.fuse = ConvBNAct(in_channels + inter * len(self.bins), out_channels, 1)
        self.out_channels, self.stride = out_channels, 1

    def forward(self, x):
        size = x.shape[-2:]
        pooled = [F.interpolate(branch(F.adaptive_avg_pool2d(x, b)), size=size, mode="bilinear",
                                align_corners=True) for b, branch in zip(self.bins, self.branches)]
        return self.fuse(torch.cat([x] + pooled, 1))


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1x1 conv, 3x3 convs dilated by ``rates`` and an
    image-pooling branch, ``mid_channels`` each with BN+ReLU; concatenate; 1x1 conv-BN-ReLU.

    DeepLabv3 (Chen et al., 2017), Sec. 3.3. FASSD-Net's ablation (Table I) uses 256 per branch
    and projects back to the input width (224), which its +ASPP parameter count pins down.
    """

    paper = "DeepLabv3 (Chen et al., 2017), Sec. 3.3; FASSD-Net ablation (ICPR 2020), Table I"
    channel_args = {"out_channels": 8, "mid_channels": 8}

    def __init__(self, in_channels: int, out_channels: int | None = None, mid_channels: int = 256,
                 rates=(6, 12, 18), image_pool: bool = True):
        super().__init__()
        out_channels = in_channels if out_channels is None else positive(out_channels, "out_channels")
        positive(mid_channels, "mid_channels")
        rates = _int_list(rates, "rates")
        self.branches = nn.ModuleList([ConvBNAct(in_channels, mid_channels, 1)] +
                                      [ConvBNAct(in_channels, mid_channels, 3, dilation=r) for r in rates])
        self.image_pool = for_pooled_input(ConvBNAct(in_channels, mid_channels, 1)) if image_pool else None
        count = len(self.branches) + (1 if image_pool else 0)
        self.project = ConvBNAct(mid_channels * count, out_channels, 1)
        self.out_channels, self.stride = out_channels, 1

    def forward(self, x):
        outs = [branch(x) for branch in self.branches]
        if self.image_pool is not None:
            pooled = self.image_pool(F.adaptive_avg_pool2d(x, 1))
            outs.append(pooled.expand(-1, -1, x.shape[-2], x.shape[-1]))
        return self.project(torch.cat(outs, 1))


class DAPF(nn.Module):
    """Dilated asymmetric pyramidal fusion.

    Four parallel branches on the input, each to mid = C / ``alpha`` channels: a 1x1 conv, and for
    each dilation d a (3,1) conv dilated (d,1) then a (1,3) conv dilated (1,d), all with BN+ReLU;
    concatenate and fuse with a 1x1 conv-BN-ReLU back to C. No image pooling, no residual.
    FASSD-Net (Rosas-Arias et al., ICPR 2020), Sec. III-B, Fig. 3; alpha = 2 by default.
    """

    paper = "FASSD-Net (Rosas-Arias et al., ICPR 2020), Sec. III-B"
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: int, out_channels: int | None = None, alpha: float = 2,
                 dilations=(12, 24, 36)):
        super().__init__()
        out_channels = in_channels if out_channels is None else positive(out_channels, "out_channels")
        if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or alpha <= 0 or alpha > in_channels:
            raise ValueError(f"alpha={alpha!r} must be a number in (0, in_channels={in_channels}] (mid = C / alpha)")
        dilations = _int_list(dilations, "dilations")
        mid = max(1, int(in_channels / alpha))
        self.mid_channels = mid
        self.branches = nn.ModuleList([ConvBNAct(in_channels, mid, 1)] +
                                      [AsymmetricConv(in_channels, mid, 3, dilation=d) for d in dilations])
        self.fuse = ConvBNAct(mid * len(self.branches), out_channels, 1)
        self.out_channels, self.stride = out_channels, 1

    def forward(self, x):
        return self.fuse(torch.cat([branch(x) for branch in self.branches], 1))


BLOCKS = {"ppm": PyramidPooling, "aspp": ASPP, "dapf": DAPF}
