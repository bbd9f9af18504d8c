"""DFANet (Li, Xiong, Fan and Sun, "DFANet: Deep Feature Aggregation for Real-Time Semantic
Segmentation", CVPR 2019): a modified-Xception backbone with FC attention (Sec. 3.1, Table 1),
cascaded three times by sub-network and sub-stage aggregation (Sec. 3.2), and the dual-path
decoder (Sec. 3.3).

The spec is written as ONE backbone (stem, enc2, enc3, enc4, FC attention) plus a decoder whose
fusion nodes take any number of inputs; :func:`archlab.transforms.cascade` then makes the three
copies and hands every copy's enc2 and attention output to those nodes. Input sides must divide
by 64: the third copy's attention output is at 1/64.
"""
from __future__ import annotations

from archlab.spec import Node, Spec
from archlab.transforms import cascade
from archlab.zoo import register_model

# Table 1 of the paper: (channels, blocks) of enc2, enc3, enc4.
BACKBONES = {
    "a": ((48, 4), (96, 6), (192, 4)),
    "b": ((32, 4), (64, 6), (128, 4)),
}
DECODER_CHANNELS = 32  # no width in the paper; the public reimplementations use 32
COPIES = 3


def dfanet_backbone_spec(variant: str = "a", num_classes: int = 19, decoder_channels: int = DECODER_CHANNELS,
                         name: str | None = None) -> Spec:
    """The single-backbone DFANet spec (before :func:`cascade`), with its decoder.

    Nodes: ``stem`` (3x3 conv s2 → 8), ``enc2``/``enc3``/``enc4`` (``xception_stage``, tagged
    ``{"cascade": "stage"}``), ``fca`` (``fc_attention``, tagged ``{"cascade": "head"}``), then the
    decoder: ``low`` reduces every enc2 output to ``decoder_channels`` at 1/4 and sums them;
    ``fuse`` applies the fusion conv to ``low`` and adds every attention output, each reduced and
    upsampled to 1/4; ``cls`` is the 1x1 classifier and ``out`` the ×4 upsample to the image.
    """
    if variant not in BACKBONES:
        raise ValueError(f"variant={variant!r}; valid: {', '.join(map(repr, BACKBONES))}")
    (c2, n2), (c3, n3), (c4, n4) = BACKBONES[variant]
    stage = {"cascade": "stage"}
    nodes = (
        Node("stem", "conv_bn_act", {"out_channels": 8, "kernel_size": 3, "stride": 2}, ["input"]),
        Node("enc2", "xception_stage", {"out_channels": c2, "num_blocks": n2, "stride": 2}, ["stem"], tags=stage),
        Node("enc3", "xception_stage", {"out_channels": c3, "num_blocks": n3, "stride": 2}, ["enc2"], tags=stage),
        Node("enc4", "xception_stage", {"out_channels": c4, "num_blocks": n4, "stride": 2}, ["enc3"], tags=stage),
        Node("fca", "fc_attention", {"fc_dim": 1000}, ["enc4"], tags={"cascade": "head"}),
        # Decoder (Sec. 3.3). After cascading, `low` takes enc2 of every copy (1/4, 1/8, 1/16) and
        # `fuse` takes `low` and the attention output of every copy (1/16, 1/32, 1/64); the
        # reduction of its first input is the fusion conv applied to the summed low-level features.
        Node("low", "reduce_sum", {"out_channels": decoder_channels, "size_from": 0}, ["enc2"]),
        Node("fuse", "reduce_sum", {"out_channels": decoder_channels, "size_from": 0}, ["low", "fca"]),
        Node("cls", "classifier", {"num_classes": num_classes}, ["fuse"]),
        Node("out", "resize_like", {}, ["cls", "input"]),
    )
    return Spec(name=name or f"dfanet_{variant}_backbone", nodes=nodes, output="out")


def dfanet_spec(variant: str = "a", num_classes: int = 19, copies: int = COPIES) -> Spec:
    """DFANet-A or -B: the single-backbone spec cascaded ``copies`` times (3 in the paper)."""
    spec = dfanet_backbone_spec(variant, num_classes, name=f"dfanet_{variant}")
    return cascade(spec, copies=copies)


_PAPER = "Li et al., DFANet: Deep Feature Aggregation for Real-Time Semantic Segmentation, CVPR 2019"
_NOTE = ("gflops at 1024x1024 as the paper reports them; FPS on one Titan X at 1024x1024. No public "
         "reimplementation reproduces the parameter and FLOP figures; see docs/architecture.md")


@register_model("dfanet_a", paper=_PAPER,
                published={"params_M": 7.8, "gflops": 3.4, "gflops_input": "1024x1024", "miou_pct": 71.3,
                           "miou_split": "cityscapes test", "fps": 100, "fps_input": "1024x1024",
                           "fps_device": "Titan X", "note": _NOTE})
def dfanet_a(num_classes: int = 19) -> Spec:
    return dfanet_spec("a", num_classes)


@register_model("dfanet_b", paper=_PAPER,
                published={"params_M": 4.8, "gflops": 2.1, "gflops_input": "1024x1024", "miou_pct": 67.1,
                           "miou_split": "cityscapes test", "fps": 120, "fps_input": "1024x1024",
                           "fps_device": "Titan X", "note": _NOTE})
def dfanet_b(num_classes: int = 19) -> Spec:
    return dfanet_spec("b", num_classes)
