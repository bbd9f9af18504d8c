"""FANet-18 and FANet-34: ResNet with fast attention and top-down fusion.

Hu, Perazzi, Caba Heilbron, Wang, Lin, Saenko and Sclaroff, "Real-time Semantic Segmentation
with Fast Attention", IEEE RA-L 2021 (arXiv 2007.03815), Sec. III; wiring, widths
and activations as in the authors' released code (github.com/feinanshan/FANet, ``Testing``).
The first residual stage has an extra stride 2, so the stages sit at 1/8 .. 1/64 and input
sides must divide by 64. The training-only auxiliary heads are not part of the network, nor is
stage 4's "smooth" conv, whose output only the auxiliary head on stage 4 reads (the authors'
inference code computes it and drops it; a traced MAC count drops it too).
"""
from __future__ import annotations

from archlab.spec import Node, Spec
from archlab.zoo import register_model
from archlab.blocks.resnet import RESNET_DEPTHS

#: Stage widths of the ResNet backbone (stage 1 .. 4) and the smooth width of the fusion.
WIDTHS = (64, 128, 256, 512)
SMOOTH = 128
ACT = "leaky_relu"  # the authors' code: leaky ReLU (slope 0.01) after every BN that has an activation


def _published(miou, fps, authors_params_m):
    return {"miou_pct": miou, "miou_split": "cityscapes test", "fps": fps, "fps_input": "1024x2048",
            "fps_device": "Titan X, batch 1", "params_M_authors_code": authors_params_m,
            "note": "the paper publishes no parameter or MAC count; params_M_authors_code sums every module "
                    "the authors' inference model constructs, 0.74M of which its forward never uses "
                    "(stage 4's smooth conv, stage 2's smooth conv, stage 1's up conv); their speed script "
                    "replaces BN by its activation and returns the 1/8 scores without the final upsample"}


def fanet(name: str, depths, num_classes: int = 19) -> Spec:
    """FANet on a BasicBlock ResNet with ``depths`` blocks per stage."""
    nodes = [Node("stem", "resnet_stem", {"out_channels": 64, "act": ACT}, ["input"])]
    prev = "stem"
    for i, (width, depth) in enumerate(zip(WIDTHS, depths), start=1):
        nodes.append(Node(f"stage{i}", "resnet_stage",
                          {"out_channels": width, "num_blocks": depth, "stride": 2, "act": ACT}, [prev],
                          tags={"cascade": "stage"}))
        prev = f"stage{i}"
    # top-down, from the coarsest stage (the authors' order of execution too): fast attention on the
    # stage, then the fusion. Stage 3 gives (up, smooth), stages 4 and 2 only up (stage 4's smooth
    # feeds the training-only auxiliary head), stage 1 only smooth; each "up" goes to the next finer
    # stage's width (written out, so that the width knob keeps the two equal)
    flags = {4: (True, False), 3: (True, True), 2: (True, False), 1: (False, True)}
    for i in (4, 3, 2, 1):
        nodes.append(Node(f"att{i}", "fast_attention", {"key_channels": 32, "act": ACT}, [f"stage{i}"]))
        up, smooth = flags[i]
        args = {"up": up, "smooth": smooth, "smooth_channels": SMOOTH, "act": ACT}
        if up:
            args["up_channels"] = WIDTHS[i - 2]
        if i == 4:
            nodes.append(Node("fuse4", "fanet_fusion", args, ["att4"]))
        else:
            nodes.append(Node(f"fuse{i}", "fanet_fusion_up", args, [f"att{i}", f"fuse{i + 1}:0"]))
    # head: [stage 3's smooth features upsampled, stage 1's] (the authors' order) at 1/8
    nodes += [
        Node("cat", "concat", {"size_from": 1, "align_corners": True}, ["fuse3:1", "fuse1"]),
        Node("cls", "conv_classifier", {"num_classes": num_classes, "channels": 256, "kernel_size": 3,
                                        "act": ACT, "bias": False}, ["cat"]),
        Node("out", "resize_like", {"align_corners": True}, ["cls", "input"]),
    ]
    return Spec(name=name, nodes=tuple(nodes), output="out")


@register_model("fanet18", paper="Hu et al., Real-time Semantic Segmentation with Fast Attention, RA-L 2021",
                published=_published(74.4, 72, 13.82))
def fanet18(num_classes: int = 19) -> Spec:
    return fanet("fanet18", RESNET_DEPTHS[18], num_classes)


@register_model("fanet34", paper="Hu et al., Real-time Semantic Segmentation with Fast Attention, RA-L 2021",
                published=_published(75.5, 58, 23.93))
def fanet34(num_classes: int = 19) -> Spec:
    return fanet("fanet34", RESNET_DEPTHS[34], num_classes)
