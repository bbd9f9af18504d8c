"""Segmentation heads: the last convolutions that map features to class scores."""
from __future__ import annotations

from torch import nn

from archlab.blocks.conv import ConvBNAct, DepthwiseSeparableConv, positive


class Classifier(nn.Sequential):
    """A 1x1 convolution to the class scores (with bias unless ``bias=False``, as FANet's head).

    A container around a plain ``nn.Conv2d`` (not a subclass of it), so counters that match
    modules by exact type (thop, ptflops) see the convolution as they do in the authors' code.
    """

    paper = "per-pixel linear classifier (Long et al., FCN, CVPR 2015)"

    def __init__(self, in_channels: int, num_classes: int = 19, bias: bool = True):
        positive(num_classes, "num_classes")
        super().__init__(nn.Conv2d(in_channels, num_classes, 1, bias=bias))
        self.out_channels, self.stride = num_classes, 1


class FastSCNNClassifier(nn.Sequential):
    """Fast-SCNN's classifier: two depthwise-separable convs, dropout, 1x1 conv to the classes.

    Poudel et al., "Fast-SCNN", 2019, Sec. 3.2.4 (Table 1, last rows).
    """

    paper = "Fast-SCNN (Poudel et al., 2019), Sec. 3.2.4"
    channel_args = {"channels": 8}

    def __init__(self, in_channels: int, num_classes: int = 19, channels: int | None = None, dropout: float = 0.1):
        channels = in_channels if channels is None else channels
        positive(num_classes, "num_classes")
        super().__init__(
            DepthwiseSeparableConv(in_channels, channels),
            DepthwiseSeparableConv(channels, channels),
            nn.Dropout(dropout),
            nn.Conv2d(channels, num_classes, 1),
        )
        self.out_channels, self.stride = num_classes, 1


class ConvClassifier(nn.Sequential):
    """A kxk conv-BN-act followed by a 1x1 conv to the classes (FANet's and NDNet's heads).

    FANet (Hu et al., IEEE SPL 2020), Sec. III: 3x3 conv-BN-act to 256 then 1x1 without bias.
    """

    paper = "FANet (Hu et al., 2020), Sec. III; NDNet (Yang et al.), head"
    channel_args = {"channels": 8}

    def __init__(self, in_channels: int, num_classes: int = 19, channels: int = 256, kernel_size: int = 3,
                 act: str = "relu", bias: bool = True, separable: bool = False):
        positive(num_classes, "num_classes")
        first = (DepthwiseSeparableConv(in_channels, channels, kernel_size=kernel_size, act=act) if separable
                 else ConvBNAct(in_channels, channels, kernel_size, act=act))
        super().__init__(first, nn.Conv2d(channels, num_classes, 1, bias=bias))
        self.out_channels, self.stride = num_classes, 1


BLOCKS = {"classifier": Classifier, "fast_scnn_classifier": FastSCNNClassifier, "conv_classifier": ConvClassifier}
