"""Accuracy floors: two deliberately weak models that show what a dataset gives away for free.

A benchmark on which these score close to a real segmentation network does not test
architecture. ``color_mlp`` classifies every pixel from its own colour alone (a per-pixel MLP,
receptive field 1 px), so it cannot tell apart classes that share a palette; ``small_rf_cnn``
sees at most a 13x13 px window (three 3x3 convolutions, the first with stride 2, and the
bilinear upsampling of the scores), enough for local texture and edges but not for where a
pixel sits in the scene. The synthstreets baselines
report (``python -m archlab.train.baselines``) trains both beside Fast-SCNN.
"""
from __future__ import annotations

from archlab.spec import Node, Spec
from archlab.zoo import register_model

_FLOOR = "accuracy floor (archlab); per-pixel classification as in FCN (Long et al., CVPR 2015)"


@register_model("color_mlp", paper=_FLOOR, kind="floor")
def color_mlp(num_classes: int = 19) -> Spec:
    nodes = (
        Node("mlp1", "conv_bn_act", {"out_channels": 32, "kernel_size": 1}, ["input"]),
        Node("mlp2", "conv_bn_act", {"out_channels": 32, "kernel_size": 1}, ["mlp1"]),
        Node("cls", "classifier", {"num_classes": num_classes}, ["mlp2"]),
    )
    return Spec(name="color_mlp", nodes=nodes, output="cls", meta={"receptive_field_px": 1})


@register_model("small_rf_cnn", paper=_FLOOR, kind="floor")
def small_rf_cnn(num_classes: int = 19) -> Spec:
    nodes = (
        Node("conv1", "conv_bn_act", {"out_channels": 32, "stride": 2}, ["input"]),
        Node("conv2", "conv_bn_act", {"out_channels": 32}, ["conv1"]),
        Node("conv3", "conv_bn_act", {"out_channels": 32}, ["conv2"]),
        Node("cls", "classifier", {"num_classes": num_classes}, ["conv3"]),
        Node("out", "resize_like", {}, ["cls", "input"]),
    )
    return Spec(name="small_rf_cnn", nodes=nodes, output="out", meta={"receptive_field_px": 13})
