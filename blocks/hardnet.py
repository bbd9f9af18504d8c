"""HarDNet: harmonic densely connected blocks and the FC-HarDNet encoder stages.

Chao et al., "HarDNet: A Low Memory Traffic Network", ICCV 2019, Sec. 3.2 (the harmonic wiring)
and Sec. 4.3 (FC-HarDNet for segmentation); FASSD-Net (Rosas-Arias et al., ICPR 2020, Sec. III-A)
keeps FC-HarDNet-70's encoder without its last block.
"""
from __future__ import annotations

import torch
from torch import nn

from archlab.blocks.conv import ConvBNAct, positive


def hard_links(layer: int) -> list[int]:
    """Layers that layer ``layer`` (1-based; 0 is the block input) takes: k − 2^i for every 2^i dividing k."""
    links, i = [], 0
    while 2 ** i <= layer:
        if layer % 2 ** i == 0:
            links.append(layer - 2 ** i)
        i += 1
    return links


def hard_layer_width(layer: int, growth_rate: int, grmul: float) -> int:
    """Growth rate × grmul^(number of 2^i, i > 0, dividing the layer), rounded to an even count."""
    width = growth_rate * grmul ** (len(hard_links(layer)) - 1)
    return int(int(width + 1) / 2) * 2


class HarDBlock(nn.Module):
    """A harmonic dense block (HarDNet, Chao et al., ICCV 2019, Sec. 3.2).

    Layer k is a 3x3 conv-BN-ReLU on the concatenation of layers k − 2^i; the output concatenates
    the odd-numbered layers and the last one.
    """

    paper = "HarDNet (Chao et al., ICCV 2019), Sec. 3.2"
    channel_args = {"growth_rate": 2}
    depth_args = ("n_layers",)

    def __init__(self, in_channels: int, growth_rate: int = 16, n_layers: int = 4, grmul: float = 1.7,
                 act: str = "relu"):
        super().__init__()
        positive(growth_rate, "growth_rate")
        positive(n_layers, "n_layers")
        if not grmul > 0:
            raise ValueError(f"grmul={grmul!r} must be positive")
        widths = [in_channels]
        self.links: list[list[int]] = []
        self.layers = nn.ModuleList()
        for k in range(1, n_layers + 1):
            links = hard_links(k)
            self.links.append(links)
            widths.append(hard_layer_width(k, growth_rate, grmul))
            self.layers.append(ConvBNAct(sum(widths[j] for j in links), widths[k], 3, act=act))
        self.kept = [k for k in range(1, n_layers + 1) if k % 2 == 1 or k == n_layers]
        self.out_channels = sum(widths[k] for k in self.kept)
        self.stride = 1

    def forward(self, x):
        outs = [x]
        for links, layer in zip(self.links, self.layers):
            inp = outs[links[0]] if len(links) == 1 else torch.cat([outs[j] for j in links], 1)
            outs.append(layer(inp))
        return torch.cat([outs[k] for k in self.kept], 1)


class HarDNetStem(nn.Sequential):
    """FC-HarDNet's stem: four 3x3 conv-BN-ReLU, 3→16→24→32→48, strides 2,1,2,1 (output 1/4).

    FASSD-Net-L1 gives the first conv stride 3 (3,1,2,1: 1/6), L2 the second and third convs
    stride 2 (2,2,2,1: 1/8) (Rosas-Arias et al., ICPR 2020, Sec. IV-D; the authors' FASSDNetL1.py
    and FASSDNetL2.py).
    """

    paper = "FC-HarDNet (Chao et al., ICCV 2019), Sec. 4.3; FASSD-Net lite variants, Sec. IV-D"
    channel_args = {"channels": 8}

    def __init__(self, in_channels: int, channels=(16, 24, 32, 48), strides=(2, 1, 2, 1), act: str = "relu"):
        channels, strides = list(channels), list(strides)
        if len(channels) != len(strides) or not channels:
            raise ValueError(f"channels {channels} and strides {strides} must be non-empty lists of one length")
        layers, ch = [], in_channels
        for out, s in zip(channels, strides):
            layers.append(ConvBNAct(ch, out, 3, stride=s, act=act))
            ch = out
        super().__init__(*layers)
        self.out_channels = ch
        self.stride = 1
        for s in strides:
            self.stride *= s


class HarDNetStage(nn.Module):
    """One FC-HarDNet encoder stage: HarD block, 1x1 transition conv, optional 2x2 average pool.

    Two outputs: (transition output, pooled if ``pool``; the HarD block's output, the decoder's
    skip connection). FC-HarDNet (Chao et al., ICCV 2019), Sec. 4.3.
    """

    paper = "FC-HarDNet (Chao et al., ICCV 2019), Sec. 4.3"
    channel_args = {"growth_rate": 2, "out_channels": 2}
    depth_args = ("n_layers",)

    def __init__(self, in_channels: int, growth_rate: int = 16, n_layers: int = 4, out_channels: int = 64,
                 pool: bool = True, grmul: float = 1.7, act: str = "relu"):
        super().__init__()
        positive(out_channels, "out_channels")
        self.block = HarDBlock(in_channels, growth_rate, n_layers, grmul, act)
        self.transition = ConvBNAct(self.block.out_channels, out_channels, 1, act=act)
        self.pool = nn.AvgPool2d(2, 2) if pool else nn.Identity()
        self.out_channels = (out_channels, self.block.out_channels)
        self.stride = (2 if pool else 1, 1)

    def forward(self, x):
        skip = self.block(x)
        return self.pool(self.transition(skip)), skip


BLOCKS = {"hard_block": HarDBlock, "hardnet_stem": HarDNetStem, "hardnet_stage": HarDNetStage}
