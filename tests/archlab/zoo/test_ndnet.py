import pytest
import torch

import archlab
from archlab import transforms
from archlab.graph import infer_shapes
from archlab.profile.counters import fvcore_macs
from archlab.zoo import model_entry
from archlab.zoo.ndnet import CONFIGS

# Pinned: exact parameter counts (BN affine included) of each spec at 19 classes. ndnet45_ende's
# equals the authors' NDNet_ende(19) (Seg_NDNet/NDNet_ende.py; 502,622 summed over its parameters)
# less its training-only auxiliary head (aux_seg, 20,243): see test_ende_forward_shape_and_structure.
PINNED = {"ndnet29": 492_016, "ndnet45": 379_896, "ndnet61": 292_096, "ndnet29w": 3_308_216,
          "ndnet45_ende": 482_379}


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def sep_head(c_in, mid, classes=19):
    """The authors' DensePrediction head: depthwise 3x3, pointwise to mid, BN, then 1x1 with bias."""
    return 9 * c_in + c_in * mid + 2 * mid + mid * classes + classes


@pytest.mark.parametrize("name", list(CONFIGS))
def test_backbone_builds_runs_and_has_last_stage_width_at_stride_32(name):
    assert model_entry(name).kind == "backbone"
    spec = archlab.get_spec(name)
    m_last = CONFIGS[name][0][2]
    shapes = infer_shapes(spec)
    assert shapes[spec.output].out_channels == (4 * m_last,)
    assert shapes[spec.output].out_strides == (32,)
    assert [shapes[f"stage{i}"].out_strides[0] for i in (1, 2, 3)] == [8, 16, 32]
    model = archlab.build(spec).eval()
    with torch.inference_mode():
        y = model(torch.randn(1, 3, 128, 256))
    assert y.shape == (1, 4 * m_last, 4, 8)
    assert nparams(model) == PINNED[name]
    assert [n.id for n in spec.nodes if n.tags.get("cascade") == "stage"] == ["stage1", "stage2", "stage3"]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_backbone_plus_fcn32_heads_matches_the_authors_parameter_figure(name):
    # The authors' FCN-32 model = backbone + main head (4*m3 -> 64) + auxiliary head (4*m2 -> 128),
    # reported by their ptflops run in thousands of parameters (3.46 M for ndnet29w).
    widths = CONFIGS[name][0]
    total = PINNED[name] + sep_head(4 * widths[2], 64) + sep_head(4 * widths[1], 128)
    published_k = model_entry(name).published["fcn32_params_k_authors"]
    if name == "ndnet29w":  # reported as 3.46 M
        assert round(total / 1e6, 2) == published_k / 1000
    else:
        assert round(total / 1000, 2) == published_k


def test_ende_forward_shape_and_structure():
    spec = archlab.get_spec("ndnet45_ende")
    assert model_entry("ndnet45_ende").kind == "segmentation"
    shapes = infer_shapes(spec)
    assert spec.node("stage3").args["stride"] == 1 and spec.node("stage3").args["dilation"] == 2
    assert shapes["stage3"].out_strides == (16,) and shapes["stage1"].out_strides == (8,)
    assert shapes["fusion"].in_channels == (64 + 256,)
    assert shapes["cls"].out_strides == (8,)
    model = archlab.build(spec).eval()
    with torch.inference_mode():
        y = model(torch.randn(1, 3, 128, 256))
    assert y.shape == (1, 19, 128, 256)
    assert nparams(model) == PINNED["ndnet45_ende"]
    # The head = fusion 1x1 (320 -> 256, BN) + separable 3x3 to 64 + classifier; no auxiliary head.
    assert nparams(model) - PINNED["ndnet45"] == 320 * 256 + 512 + sep_head(256, 64)
    assert not [n for n in spec.nodes if "stage2" in n.inputs and n.id != "stage3"]
    # The authors' 502.62 k includes their 20,243-parameter training-only auxiliary head (128 -> 128 -> 19).
    assert sep_head(128, 128) == 20_243
    assert nparams(model) + sep_head(128, 128) == 502_622
    assert model_entry("ndnet45_ende").published["params_M_authors_code"] == round(502_622 / 1e6, 3)


def test_ende_macs_equal_the_authors_code():
    """The authors' NDNet_ende (github.com/zgyang-hnu/NDNet, Seg_NDNet/NDNet_ende.py with backbone/,
    NDNet_ende(19), eval, without the log_softmax its inference forward ends in) counted with fvcore's
    FlopCountAnalysis(...).total() at 1x3x1024x2048: 7,053,246,464, the same as ours; their own
    counter (flops/flops_counter.py) gives 6,921,748,480 for both networks (their "6.92 GMac").
    Every operator is linear in the pixel count, so 128x256 is 1/64 of it."""
    model = archlab.create_model("ndnet45_ende").eval()
    assert 64 * fvcore_macs(model, (1, 3, 128, 256)) == 7_053_246_464
    assert model_entry("ndnet45_ende").published["gmacs"] == round(6_921_748_480 / 1e9, 2)


def test_cascade_of_ndnet45_builds_and_runs():
    spec = transforms.cascade(archlab.get_spec("ndnet45"), 2)
    shapes = infer_shapes(spec)
    # copy 2's first stage takes concat(stage1, stage3 upsampled): 64 + 256
    assert shapes["stage1_c2"].in_channels == (320,)
    assert shapes["stage3_c2"].in_channels == (128 + 256,)
    # the output is the last copy's features, one stride lower
    assert spec.node(spec.output).inputs == ("stage3_c2",)
    assert shapes[spec.output].out_strides == (64,)
    model = archlab.build(spec)
    y = model(torch.randn(1, 3, 128, 256))
    assert y.shape == (1, 256, 2, 4)
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_cascade_of_ende_feeds_every_copy_to_the_decoder():
    spec = transforms.cascade(archlab.get_spec("ndnet45_ende"), 2)
    assert spec.node("fuse").inputs == ("stage3", "stage3_c2", "stage1", "stage1_c2")
    assert spec.node("fuse").args["size_from"] == 2  # still stage1's resolution
    y = archlab.build(spec).eval()(torch.randn(1, 3, 128, 256))
    assert y.shape == (1, 19, 128, 256)


def test_width_knob_rounds_narrow_widths_to_multiples_of_4():
    spec = archlab.get_spec("ndnet61", width=0.5)
    assert [spec.node(f"stage{i}").args["channels"] for i in (1, 2, 3)] == [8, 12, 24]
    assert infer_shapes(spec)[spec.output].out_channels == (96,)
