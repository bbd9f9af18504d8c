"""Fast-SCNN (Poudel, Liwicki and Cipolla, BMVC 2019): learning to downsample, global feature
extractor, pyramid pooling, feature fusion, classifier (Table 1 of the paper)."""
from __future__ import annotations

from archlab.spec import Node, Spec
from archlab.zoo import register_model


@register_model("fast_scnn", paper="Poudel et al., Fast-SCNN, BMVC 2019",
                published={"params_M": 1.11, "miou_pct": 68.0, "miou_split": "cityscapes test", "fps": 123.5,
                           "fps_input": "1024x2048", "fps_device": "Titan Xp",
                           "gmacs_expected": 6.7, "note": "gmacs_expected: convs and matmuls at 1024x2048, "
                                                          "from public reimplementations"})
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
        Node("ffm", "feature_fusion", {"out_channels": 128}, ["ltd", "context"]),
        Node("cls", "fast_scnn_classifier", {"num_classes": num_classes}, ["ffm"]),
        Node("out", "resize_like", {}, ["cls", "input"]),
    )
    return Spec(name="fast_scnn", nodes=nodes, output="out")
