"""FASSD-Net and FC-HarDNet-70, and the FASSD-Net ablation as graph transforms.

Rosas-Arias, Benitez-Garcia et al., "FASSD-Net: Fast and Accurate Real-Time Semantic
Segmentation for Embedded Systems", ICPR 2020 (Table I: the ablation; Sec. IV-D: -L1, -L2).
Chao et al., "HarDNet: A Low Memory Traffic Network", ICCV 2019 (FC-HarDNet-70).
"""
from __future__ import annotations

from archlab import transforms
from archlab.spec import Node, Spec
from archlab.zoo import get_spec, register_model

#: FC-HarDNet-70 encoder stages: (growth rate, layers, transition width). FASSD-Net drops the last.
HARDNET70_STAGES = ((10, 4, 64), (16, 4, 96), (18, 8, 160), (24, 8, 224), (32, 8, 320))
#: MDA dilation at the 1/16, 1/8, 1/4 decoder stages (FASSD-Net, Sec. III-C).
MDA_DILATIONS = (8, 4, 2)

_PTFLOPS_NOTE = "GFLOPs in the paper are MACs counted by ptflops at 1024x2048"


def _published(gmacs, params_m, fps, miou, split="cityscapes val"):
    return {"gmacs": gmacs, "gmacs_counter": "ptflops", "gmacs_input": "1024x2048", "params_M": params_m,
            "fps": fps, "fps_device": "GTX 1080Ti, fp32, batch 1", "fps_input": "1024x2048",
            "miou_pct": miou, "miou_split": split}


def hardnet_segmenter(name: str, num_classes: int, *, encoder_stages, stem_strides=(2, 1, 2, 1),
                      context: str | None = "dapf", mda: bool = True, decoder: str = "hard_block",
                      input_multiple: int | None = None) -> Spec:
    """An FC-HarDNet-style encoder-decoder as a spec.

    Encoder: stem and one ``hardnet_stage`` per entry of ``encoder_stages`` (each pooled but the
    last); an optional context module at the bottom; then, per skip from the deepest up:
    upsample-and-concatenate, a 1x1 conv halving the channels, an optional MDA, and a HarD block
    with the matching encoder stage's growth rate and layers (or, with ``decoder="conv"``, a 3x3
    conv-BN-ReLU to 64 as in FASSD-Net-L2); a 1x1 classifier and a bilinear upsample to the input.
    """
    nodes = [Node("stem", "hardnet_stem", {"strides": list(stem_strides)}, ["input"])]
    prev = "stem"
    for i, (gr, layers, width) in enumerate(encoder_stages, start=1):
        last = i == len(encoder_stages)
        nodes.append(Node(f"enc{i}", "hardnet_stage",
                          {"growth_rate": gr, "n_layers": layers, "out_channels": width, "pool": not last},
                          [prev], tags={"cascade": "stage"}))
        prev = f"enc{i}"
    if context:
        nodes.append(Node("context", context, {}, [prev]))
        prev = "context"
    skips = list(range(len(encoder_stages) - 1, 0, -1))  # encoder stages with a skip, deepest first
    for j, skip in enumerate(skips, start=1):
        gr, layers, _ = encoder_stages[skip - 1]
        nodes.append(Node(f"up{j}", "concat", {"size_from": 1, "align_corners": True}, [prev, f"enc{skip}:1"]))
        nodes.append(Node(f"reduce{j}", "conv_bn_act", {"kernel_size": 1, "out_ratio": 0.5}, [f"up{j}"]))
        prev = f"reduce{j}"
        if mda:
            nodes.append(Node(f"mda{j}", "mda", {"dilation": MDA_DILATIONS[j - 1] if j <= 3 else 1}, [prev]))
            prev = f"mda{j}"
        if decoder == "hard_block":
            nodes.append(Node(f"dec{j}", "hard_block", {"growth_rate": gr, "n_layers": layers}, [prev]))
        else:
            nodes.append(Node(f"dec{j}", "conv_bn_act", {"out_channels": 64, "kernel_size": 3}, [prev]))
        prev = f"dec{j}"
    nodes.append(Node("cls", "classifier", {"num_classes": num_classes}, [prev]))
    nodes.append(Node("out", "resize_like", {"align_corners": True}, ["cls", "input"]))
    return Spec(name=name, nodes=tuple(nodes), output="out", input_multiple=input_multiple)


@register_model("fassd_net", paper="Rosas-Arias et al., FASSD-Net, ICPR 2020",
                published={**_published(45.1, 2.85, 41.1, 78.2), "params_M_authors_code": 2.845,
                           "note": _PTFLOPS_NOTE + "; 78.8% val in the final paper"})
def fassd_net(num_classes: int = 19) -> Spec:
    return hardnet_segmenter("fassd_net", num_classes, encoder_stages=HARDNET70_STAGES[:4])


@register_model("fassd_net_l1", paper="Rosas-Arias et al., FASSD-Net, ICPR 2020, Sec. IV-D",
                published={"params_M": 2.85, "note": "same parameters as FASSD-Net; first conv stride 3"})
def fassd_net_l1(num_classes: int = 19) -> Spec:
    """FASSD-Net with the first stem conv at stride 3 (stem at 1/6), as the authors' FASSDNetL1.py.

    Declares ``input_multiple=32``: the strict stride (48) does not divide 1024x2048, but the
    decoder resizes to each skip's exact size, so any side that is a multiple of 32 runs.
    """
    return hardnet_segmenter("fassd_net_l1", num_classes, encoder_stages=HARDNET70_STAGES[:4],
                             stem_strides=(3, 1, 2, 1), input_multiple=32)


@register_model("fassd_net_l2", paper="Rosas-Arias et al., FASSD-Net, ICPR 2020, Sec. IV-D",
                published={"fps": 133.1, "miou_pct": 74.1, "miou_split": "cityscapes val",
                           "fps_input": "1024x2048", "fps_device": "GTX 1080Ti, fp32, batch 1"})
def fassd_net_l2(num_classes: int = 19) -> Spec:
    """FASSD-Net with stem strides 2, 2, 2, 1 (stem at 1/8, DAPF at 1/64) and every decoder HarD
    block replaced by a 3x3 conv-BN-ReLU to 64 channels, as the authors' FASSDNetL2.py.

    Declares ``input_multiple=32`` (as L1): the decoder resizes to each skip's exact size, so
    sides that are multiples of 32 run although the strict stride is 64.
    """
    return hardnet_segmenter("fassd_net_l2", num_classes, encoder_stages=HARDNET70_STAGES[:4],
                             stem_strides=(2, 2, 2, 1), decoder="conv", input_multiple=32)


@register_model("fc_hardnet70", paper="Chao et al., HarDNet, ICCV 2019 (FC-HarDNet-70)",
                published={**_published(35.4, 4.10, 52.3, 76.4), "params_M_authors_code": 4.119,
                           "note": _PTFLOPS_NOTE})
def fc_hardnet70(num_classes: int = 19) -> Spec:
    return hardnet_segmenter("fc_hardnet70", num_classes, encoder_stages=HARDNET70_STAGES, context=None, mda=False)


def _without_mda(spec: Spec) -> Spec:
    for node in spec.find(block="mda"):
        spec = transforms.remove(spec, node.id)
    return spec


#: FASSD-Net's ablation (Table I), each row as transforms of ``fassd_net``.
ABLATION = {
    "baseline": lambda s: _without_mda(transforms.remove(s, "context")),
    "aspp": lambda s: _without_mda(transforms.replace(s, "context", block="aspp")),
    "dapf": _without_mda,
    "mda": lambda s: transforms.remove(s, "context"),
    "aspp_mda": lambda s: transforms.replace(s, "context", block="aspp"),
    "dapf_mda": lambda s: s,
}

#: Table I of the paper (Cityscapes val, 1024x2048, GTX 1080Ti): ptflops GMACs, params (M), FPS, mIoU (%).
ABLATION_PUBLISHED = {
    "fc_hardnet70": _published(35.4, 4.10, 52.3, 76.4),
    "baseline": _published(32.9, 1.90, 56.3, 75.2),
    "aspp": _published(36.8, 3.85, 50.2, 75.8),
    "dapf": _published(33.9, 2.36, 53.9, 77.7),
    "mda": _published(44.2, 2.38, 42.2, 77.4),
    "aspp_mda": _published(48.0, 4.33, 39.1, 76.8),
    "dapf_mda": _published(45.1, 2.85, 41.1, 78.2),
}


def fassd_ablation(variant: str, num_classes: int = 19, **knobs) -> Spec:
    """One row of FASSD-Net's Table I as a transform of ``fassd_net`` (knobs applied first)."""
    if variant not in ABLATION:
        from archlab.errors import SpecError

        raise SpecError(f"unknown FASSD-Net ablation variant {variant!r}; valid: {', '.join(ABLATION)}")
    spec = ABLATION[variant](get_spec("fassd_net", num_classes=num_classes, **knobs))
    return spec.with_(name=f"fassd_net[{variant}]")
