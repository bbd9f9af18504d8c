"""Multi-input aggregation with a learned reduction per input.

A variadic block: each input gets its own 1x1 conv-BN-act to a common width, is resized to one
input's size, and the results are summed. This is DFANet's decoder fusion (Li et al., CVPR 2019,
Sec. 3.3: every backbone's enc2 output and every FC-attention output is reduced by a conv,
brought to 1/4 and added) and, with ``act="none"``, an FPN-style lateral sum (Lin et al., CVPR
2017). Because it accepts any number of inputs, :func:`archlab.transforms.cascade` hands it every
backbone copy's output and each copy gets its own reduction.
"""
from __future__ import annotations

from torch import nn

from archlab.blocks.conv import ConvBNAct, positive
from archlab.blocks.glue import RESIZE_MODES, resize


class ReduceSum(nn.Module):
    """Sum of ``conv1x1-BN-act(x_i)`` over the inputs, each resized to input ``size_from``'s size.

    DFANet, Sec. 3.3 (decoder); width 32 as in the public reimplementations (the paper gives no
    decoder width). Input ``i`` is reduced at its own resolution, then upsampled (the cheaper
    order, as in those reimplementations).
    """

    paper = "DFANet decoder (Li et al., CVPR 2019), Sec. 3.3"
    num_inputs = None
    channel_args = {"out_channels": 8}

    def __init__(self, in_channels: tuple[int, ...], out_channels: int = 32, size_from: int = 0,
                 act: str = "relu", mode: str = "bilinear", align_corners: bool = False):
        super().__init__()
        positive(out_channels, "out_channels")
        if mode not in RESIZE_MODES:
            raise ValueError(f"mode={mode!r} is not a resize mode; valid: {', '.join(RESIZE_MODES)}")
        count = len(in_channels)
        if not isinstance(size_from, int) or isinstance(size_from, bool) or not -count <= size_from < count:
            raise ValueError(f"size_from={size_from!r} must index one of the {count} inputs (0 .. {count - 1})")
        self.reduce = nn.ModuleList(ConvBNAct(c, out_channels, 1, act=act) for c in in_channels)
        self.size_from = size_from % count
        self.mode, self.align_corners = mode, align_corners
        self.out_channels, self.stride_ref, self.stride = out_channels, self.size_from, 1

    def forward(self, *xs):
        size = xs[self.size_from].shape[-2:]
        out = None
        for conv, x in zip(self.reduce, xs):
            y = resize(conv(x), size, self.mode, self.align_corners)
            out = y if out is None else out + y
        return out


BLOCKS = {"reduce_sum": ReduceSum}
