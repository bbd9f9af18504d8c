"""Fast-SCNN (Poudel, Liwicki and Cipolla, BMVC 2019): learning to downsample, global feature
extractor, pyramid pooling, feature fusion, classifier (Table 1 of the paper).

Parameters equal those of the widely used public implementation
(github.com/Tramac/Fast-SCNN-pytorch, ``models/fast_scnn.py``: 1,138,051 at 19 classes): its
feature fusion's two 1x1 convs carry a bias before their BN (``"bias": True`` below), and every
bilinear resize, the final one included, has align_corners=True as there. One difference is
kept on purpose: that code's first 3x3 stride-2 conv has no padding (a 511x1023 map from
1024x2048) where Table 1 of the paper has 512x1024; ours pads by 1 (1.33 M more conv MACs at
1024x2048, no parameter changes).
"""
from __future__ import annotations

from archlab.spec import Node, Spec
from archlab.zoo import register_model


@register_model("fast_scnn", paper="Poudel et al., Fast-SCNN, BMVC 2019",
                published={"params_M": 1.11, "miou_pct": 68.0, "miou_split": "cityscapes test", "fps": 123.5,
                           "fps_input": "1024x2048", "fps_device": "Titan Xp",
                           "gmacs_expected": 6.7, "params_public_code": 1_138_051,
                           "note": "gmacs_expected: convs and matmuls at 1024x2048, from public reimplementations; "
                                   "params_M: the paper's figure, which is the count without BN's affine "
                                   "parameters (1,114,371); params_public_code: github.com/Tramac/Fast-SCNN-pytorch "
                                   "FastSCNN(19), equal to ours"})
def fast_scnn(num_classes: int = 19) -> Spec:
    nodes = (
        Node("ltd", "learning_to_downsample", {"channels": [32, 48, 64]}, ["input"]),
        Node("gfe1", "inverted_residual_stage", {"out_channels": 64, "num_blocks": 3, "stride": 2}, ["ltd"],
             tags={"cascade": "stage"}),
        Node("gfe2", "inverted_residual_stage", {"out_channels": 96, "num_blocks": 3, "stride": 2}, ["gfe1"],
             tags={"cascade": "stage"}),
        Node("gfe3", "inverted_residual_stage", {"out_channels": 128, "num_blocks": 3, "stride": 1}, ["gfe2"],
             tags={"cascade": "stage"}),
        Node("context", "ppm", {}, ["gfe3"]),
        Node("ffm", "feature_fusion", {"out_channels": 128, "bias": True}, ["ltd", "context"]),
        Node("cls", "fast_scnn_classifier", {"num_classes": num_classes}, ["ffm"]),
        Node("out", "resize_like", {"align_corners": True}, ["cls", "input"]),
    )
    return Spec(name="fast_scnn", nodes=nodes, output="out")
