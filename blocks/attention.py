"""FANet's fast attention and its top-down fusion.

Hu, Perazzi, Caba Heilbron, Wang, Lin, Saenko and Sclaroff, "Real-time Semantic Segmentation
with Fast Attention", IEEE RA-L 2021 (arXiv 2007.03815), Sec. III. Fast attention replaces
self-attention's softmax with L2-normalised (cosine) similarities, which makes the product
associative: y = Q (Kᵀ V) costs O(n·c²) where softmax((Q Kᵀ)) V costs O(n²·c). The fusion
follows the authors' released code (``LAFeatureFusionModule``): each stage's attention output
plus the upsampled "up" features of the coarser stage feeds an "up" 1x1 conv and/or a
"smooth" 3x3 conv.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archlab.blocks.conv import ConvBNAct, positive
from archlab.blocks.glue import resize

ORDERS = ("kv_first", "qk_first")


class FastAttention(nn.Module):
    """Fast attention with a residual: x + conv-BN-act(Q̂ (K̂ᵀ V)), no softmax.

    FANet (Hu et al., 2020), Sec. III-A, Eq. 3-4. Q and K are 1x1 convs to ``key_channels``
    (32) with BN and no activation, L2-normalised over channels at every pixel; V is a 1x1
    conv C→C with BN and ``act``: the paper writes V as a plain 1x1 conv, the authors' code
    gives it a BN followed by the activation of its ``ConvBNReLU`` default (leaky ReLU), which
    is followed here. ``order="kv_first"`` forms Kᵀ V (key_channels × C) first, so the cost is
    linear in the number of pixels n; ``"qk_first"`` computes (Q Kᵀ) V, the same values in
    O(n²) (for cost ablations only). ``scale=True`` divides by n as the paper's Eq. 4 does; the
    authors' code omits it (the default). Then a 1x1 conv-BN-act and a residual add of x.
    """

    paper = "FANet (Hu et al., RA-L 2021, arXiv 2007.03815), Sec. III-A"
    channel_args = {"key_channels": 8}

    def __init__(self, in_channels: int, key_channels: int = 32, scale: bool = False, act: str = "leaky_relu",
                 order: str = "kv_first"):
        super().__init__()
        positive(key_channels, "key_channels")
        if order not in ORDERS:
            raise ValueError(f"order={order!r}; valid: {', '.join(map(repr, ORDERS))}")
        if not isinstance(scale, bool):
            raise ValueError(f"scale={scale!r} must be true or false")
        self.query = ConvBNAct(in_channels, key_channels, 1, act="none")
        self.key = ConvBNAct(in_channels, key_channels, 1, act="none")
        self.value = ConvBNAct(in_channels, in_channels, 1, act=act)
        self.proj = ConvBNAct(in_channels, in_channels, 1, act=act)
        self.key_channels, self.scale, self.order = key_channels, scale, order
        self.out_channels, self.stride = in_channels, 1

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        """The attention term Q̂ (K̂ᵀ V) as an (N, C, H, W) map, before the output conv."""
        n, c, h, w = x.shape
        q = F.normalize(self.query(x).flatten(2), p=2, dim=1)  # (N, k, n)
        k = F.normalize(self.key(x).flatten(2), p=2, dim=1)  # (N, k, n)
        v = self.value(x).flatten(2)  # (N, C, n)
        if self.order == "kv_first":
            kv = torch.bmm(v, k.transpose(1, 2))  # (N, C, k): n·k·C MACs
            y = torch.bmm(kv, q)  # (N, C, n): n·k·C MACs
        else:
            affinity = torch.bmm(q.transpose(1, 2), k)  # (N, n, n): n²·k MACs
            y = torch.bmm(v, affinity.transpose(1, 2))  # (N, C, n): n²·C MACs
        if self.scale:
            y = y / (h * w)
        return y.reshape(n, c, h, w)

    def forward(self, x):
        return x + self.proj(self.attend(x))


class FANetFusion(nn.Module):
    """FANet's fusion step on one stage: an "up" 1x1 conv-BN-act and/or a "smooth" 3x3 conv-BN-act.

    Hu et al. (2020), Sec. III-B, Fig. 2, as in the authors' code: the stage's attention output
    (input 0), plus the bilinearly upsampled "up" features of the coarser stage when there are
    some (``fanet_fusion_up``, input 1), feeds ``up`` (1x1 to ``up_channels``, by default C/2,
    the next finer stage's width) and/or ``smooth`` (3x3 to ``smooth_channels``, 128). With
    both, the outputs are (up, smooth). Outputs are at input 0's resolution.
    """

    paper = "FANet (Hu et al., RA-L 2021, arXiv 2007.03815), Sec. III-B and the authors' code"
    channel_args = {"up_channels": 8, "smooth_channels": 8}

    def __init__(self, in_channels: int, up: bool = True, smooth: bool = True, up_channels: int | None = None,
                 smooth_channels: int = 128, act: str = "leaky_relu", align_corners: bool = True):
        super().__init__()
        channels = self._attention_channels(in_channels)
        if not (isinstance(up, bool) and isinstance(smooth, bool)):
            raise ValueError(f"up={up!r} and smooth={smooth!r} must be true or false")
        if not (up or smooth):
            raise ValueError("at least one of up=true and smooth=true is needed (the block has no output otherwise)")
        if up_channels is None:
            if channels < 2:
                raise ValueError(f"up_channels defaults to half the input's {channels} channels; give it explicitly")
            up_channels = channels // 2
        positive(up_channels, "up_channels")
        positive(smooth_channels, "smooth_channels")
        self.up = ConvBNAct(channels, up_channels, 1, act=act) if up else None
        self.smooth = ConvBNAct(channels, smooth_channels, 3, act=act) if smooth else None
        self.align_corners = align_corners
        outs = ([up_channels] if up else []) + ([smooth_channels] if smooth else [])
        self.out_channels = tuple(outs) if len(outs) > 1 else outs[0]
        self.stride = 1

    @staticmethod
    def _attention_channels(in_channels) -> int:
        return in_channels

    def _outputs(self, feat):
        outs = [m(feat) for m in (self.up, self.smooth) if m is not None]
        return tuple(outs) if len(outs) > 1 else outs[0]

    def forward(self, x):
        return self._outputs(x)


class FANetFusionUp(FANetFusion):
    """:class:`FANetFusion` with a second input: the coarser stage's "up" features, which are
    upsampled bilinearly to input 0's size and added to it first (their channels must match).

    Hu et al. (2020), Sec. III-B and the authors' code (``_upsample_add``).
    """

    num_inputs = 2

    @staticmethod
    def _attention_channels(in_channels) -> int:
        if not isinstance(in_channels, (tuple, list)) or len(in_channels) != 2:
            raise ValueError(f"'fanet_fusion_up' takes two inputs [attention output, coarser up features], "
                             f"got in_channels={in_channels!r}")
        channels, up_in = in_channels
        if channels != up_in:
            raise ValueError(f"the coarser stage's up features have {up_in} channels but this stage's attention "
                             f"output has {channels}; set the coarser fusion's up_channels to {channels}")
        return channels

    def forward(self, x, up_features):
        x = x + resize(up_features, x.shape[-2:], "bilinear", self.align_corners)
        return self._outputs(x)


BLOCKS = {"fast_attention": FastAttention, "fanet_fusion": FANetFusion, "fanet_fusion_up": FANetFusionUp}
