"""NDNet (Yang, Yu, Fu, Sun, Jia, Sun and Mao, "NDNet: Narrow While Deep Network for Real-Time
Semantic Segmentation", IEEE T-ITS 2020; arXiv 1903.06922 "Real time backbone for semantic
segmentation"): the four narrow-while-deep backbones and the NDNet45 encoder-decoder.

Backbones (``kind="backbone"``, output stride 32, last-stage features out): a stem (3x3 conv
stride 2 to 8 ch, 3x3 max pool stride 2) and three stages of narrow bottlenecks, each starting
with a stride-2 block (1/8, 1/16, 1/32). Each stage node is tagged ``{"cascade": "stage"}`` so
:func:`archlab.transforms.cascade` can cascade NDNet's stages; the spec ends in an ``identity``
node ``features`` so that, after a cascade, the output is the last copy's features (the
cascade re-routes consumers of the stages, not a spec whose output is a stage itself).

``ndnet45_ende``: NDNet45 at output stride 16 (last stage dilation 2, stride 1); the last stage
is upsampled (bilinear, align_corners as in the authors' code) to the first stage's size (1/8)
and concatenated with it (64 + 256 = 320), then a 1x1 conv-BN-ReLU to 256, NDNet's separable
3x3 conv to 64 (BN, ReLU), a 1x1 classifier with bias, and a x8 bilinear upsample to the input.
The authors' auxiliary head on the middle stage (separable conv to 128 + 1x1, loss weight 0.4)
is used only for the training loss and is left out of the spec.

Structure, widths and BN/ReLU placement follow the authors' public code
(github.com/zgyang-hnu/NDNet: backbone/ndnet.py, Seg_NDNet/NDNet_ende.py).
"""
from __future__ import annotations

from archlab.spec import Node, Spec
from archlab.zoo import register_model

PAPER = ("Yang et al., NDNet: Narrow While Deep Network for Real-Time Semantic Segmentation, IEEE T-ITS 2020 "
         "(arXiv 1903.06922)")

# name -> (narrow widths m per stage, blocks per stage); a stage outputs 4m channels.
CONFIGS = {
    "ndnet29": ((24, 48, 96), (3, 8, 3)),
    "ndnet45": ((16, 32, 64), (4, 12, 6)),
    "ndnet61": ((12, 24, 48), (6, 16, 8)),
    "ndnet29w": ((64, 128, 256), (3, 8, 3)),
}

# Authors' own figures (ptflops, 1024x2048, comments in flops/flops_compute.py of their repository)
# for the FCN-32 model on each backbone: the backbone plus a separable-conv head to 64 and an
# auxiliary head to 128 (both counted in the parameters).
_FCN32_AUTHORS = {
    "ndnet29": {"fcn32_params_k_authors": 550.42, "fcn32_gmacs_authors": 2.84},
    "ndnet45": {"fcn32_params_k_authors": 420.19, "fcn32_gmacs_authors": 2.09, "fcn32_gflops_paper": 4.2,
                "fcn32_miou_pct": 61.5, "fcn32_miou_split": "cityscapes val"},
    "ndnet61": {"fcn32_params_k_authors": 323.33, "fcn32_gmacs_authors": 1.72},
    "ndnet29w": {"fcn32_params_k_authors": 3460.0, "fcn32_gmacs_authors": 17.41},
}


def backbone_nodes(name: str, out_stride: int = 32) -> list[Node]:
    """Stem and three stage nodes of NDNet ``name``; ``out_stride`` 16 dilates the last stage instead."""
    if name not in CONFIGS:
        raise ValueError(f"unknown NDNet {name!r}; valid: {', '.join(CONFIGS)}")
    if out_stride not in (16, 32):
        raise ValueError(f"out_stride={out_stride!r}; valid: 16, 32")
    widths, depths = CONFIGS[name]
    last = {"stride": 2, "dilation": 1} if out_stride == 32 else {"stride": 1, "dilation": 2}
    stage_args = ({"stride": 2, "dilation": 1}, {"stride": 2, "dilation": 1}, last)
    nodes = [Node("stem", "ndnet_stem", {"out_channels": 8}, ["input"])]
    prev = "stem"
    for i, (m, n, extra) in enumerate(zip(widths, depths, stage_args), start=1):
        nodes.append(Node(f"stage{i}", "ndnet_stage", {"channels": m, "num_blocks": n, **extra}, [prev],
                          tags={"cascade": "stage"}))
        prev = f"stage{i}"
    return nodes


def _backbone(name: str) -> Spec:
    nodes = backbone_nodes(name) + [Node("features", "identity", {}, ["stage3"])]
    return Spec(name=name, nodes=tuple(nodes), output="features")


def _register_backbone(name: str):
    published = {"out_stride": 32, "out_channels": 4 * CONFIGS[name][0][2], **_FCN32_AUTHORS[name],
                 "note": "fcn32_*: the authors' FCN-32 model on this backbone (backbone + 64-ch separable head "
                         "+ training-only auxiliary head), ptflops MACs at 1024x2048 from the authors' repository"}

    @register_model(name, paper=PAPER, published=published, kind="backbone")
    def fn(num_classes: int = 19) -> Spec:  # noqa: ARG001 - a backbone has no classifier
        return _backbone(name)

    fn.__name__ = name
    fn.__doc__ = f"{name}: NDNet backbone, m = {CONFIGS[name][0]}, blocks = {CONFIGS[name][1]}, output stride 32."
    return fn


ndnet29 = _register_backbone("ndnet29")
ndnet45 = _register_backbone("ndnet45")
ndnet61 = _register_backbone("ndnet61")
ndnet29w = _register_backbone("ndnet29w")


@register_model("ndnet45_ende", paper=PAPER,
                published={"miou_pct": 60.6, "miou_split": "cityscapes val", "fps": 54, "fps_input": "1024x2048",
                           "gmacs": 6.92, "gmacs_input": "1024x2048", "params_M_authors_code": 0.503,
                           "gflops_tits": 14.0, "miou_test_pct_tits": 65.3, "fps_tits": 39.9,
                           "fps_device_tits": "Titan X",
                           "note": "60.6% val / 54 FPS: arXiv 1903.06922 abstract. gmacs and params_M_authors_code: "
                                   "the authors' ptflops run at 1024x2048 (flops/flops_compute.py in their "
                                   "repository: 6.92 GMac, 502.62 k parameters, the latter including the 20,243-"
                                   "parameter training-only auxiliary head left out here). *_tits: the IEEE T-ITS "
                                   "abstract (65.3% Cityscapes test, 14.0 GFLOPs = 2 x MACs, 39.9 FPS on a Titan X)."})
def ndnet45_ende(num_classes: int = 19) -> Spec:
    nodes = backbone_nodes("ndnet45", out_stride=16) + [
        # [stage3, stage1] as the authors concatenate them: the 1x1 fusion conv's input channels are in
        # their order, so their weights load unchanged (the parity check's output comparison).
        Node("fuse", "concat", {"size_from": 1, "align_corners": True}, ["stage3", "stage1"]),
        Node("fusion", "conv_bn_act", {"out_channels": 256, "kernel_size": 1}, ["fuse"]),
        Node("head", "ndnet_sep_conv", {"out_channels": 64}, ["fusion"]),
        Node("cls", "classifier", {"num_classes": num_classes}, ["head"]),
        Node("out", "resize_like", {"align_corners": True}, ["cls", "input"]),
    ]
    return Spec(name="ndnet45_ende", nodes=tuple(nodes), output="out")
