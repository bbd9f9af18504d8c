"""DFANet-A and -B: one backbone spec, cascaded three times (archlab/zoo/dfanet.py)."""
import pytest
import torch

import archlab
from archlab import transforms
from archlab.profile.counters import count_params
from archlab.errors import SpecError
from archlab.graph import total_stride
from archlab.spec import Node, Spec
from archlab.zoo.dfanet import dfanet_backbone_spec

# Pinned counts of this build (the paper reports 7.8M and 4.8M; see docs/architecture.md).
PINNED_PARAMS = {"dfanet_a": 1_831_051, "dfanet_b": 1_099_883}


@pytest.mark.parametrize("name", ["dfanet_a", "dfanet_b"])
def test_forward_shape(name):
    model = archlab.create_model(name).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 128, 256)).shape == (1, 19, 128, 256)


@pytest.mark.parametrize("name", ["dfanet_a", "dfanet_b"])
def test_pinned_parameter_counts(name):
    assert count_params(archlab.create_model(name)) == PINNED_PARAMS[name]


def test_dfanet_a_sub_network_and_sub_stage_channels():
    spec = archlab.get_spec("dfanet_a")
    shapes = archlab.infer_shapes(spec)
    for copy in ("c2", "c3"):
        assert shapes[f"enc2_{copy}"].in_channels == (240,)  # 48 (enc2) + 192 (FC attention, x4 up)
        assert shapes[f"enc3_{copy}"].in_channels == (144,)  # 48 (own enc2) + 96 (previous enc3)
        assert shapes[f"enc4_{copy}"].in_channels == (288,)  # 96 (own enc3) + 192 (previous enc4)
    assert [shapes[n].out_strides[0] for n in ("enc2", "enc2_c2", "enc2_c3")] == [4, 8, 16]
    assert [shapes[n].out_strides[0] for n in ("fca", "fca_c2", "fca_c3")] == [16, 32, 64]
    assert total_stride(spec, shapes) == 64
    # the decoder receives every copy: three enc2 outputs, then the low sum and three attention outputs
    assert spec.node("low").inputs == ("enc2", "enc2_c2", "enc2_c3")
    assert spec.node("fuse").inputs == ("low", "fca", "fca_c2", "fca_c3")
    assert shapes["fuse"].in_channels == (32, 192, 192, 192)
    assert shapes["low"].out_strides == (4,) and shapes["out"].out_strides == (1,)


def test_dfanet_b_widths():
    shapes = archlab.infer_shapes(archlab.get_spec("dfanet_b"))
    assert [shapes[f"{n}_c2"].in_channels[0] for n in ("enc2", "enc3", "enc4")] == [32 + 128, 32 + 64, 64 + 128]


def test_spec_is_one_backbone_before_cascade():
    single = dfanet_backbone_spec("a")
    assert [n.id for n in single.find(cascade="stage")] == ["enc2", "enc3", "enc4"]
    assert [n.id for n in single.find(cascade="head")] == ["fca"]
    assert [n.args["num_blocks"] for n in single.find(block="xception_stage")] == [4, 6, 4]
    cascaded = archlab.get_spec("dfanet_a")
    assert len(cascaded.find(block="xception_stage")) == 9 and len(cascaded.find(block="fc_attention")) == 3
    # a single backbone builds too (sub-network aggregation off), at a quarter of the stride
    model = archlab.build(single)
    assert total_stride(single) == 16
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 19, 64, 64)
    with pytest.raises(ValueError, match="variant='c'"):
        dfanet_backbone_spec("c")


def test_input_must_divide_by_64():
    with pytest.raises(SpecError, match="multiples of 64"):
        archlab.validate(archlab.get_spec("dfanet_b"), (96, 128))


def test_width_and_depth_knobs():
    spec = archlab.get_spec("dfanet_a", width=0.5, depth=0.5)
    assert spec.node("enc4_c3").args == {"out_channels": 96, "num_blocks": 2, "stride": 2}
    assert spec.node("fca").args["fc_dim"] == 1000  # the classifier width is not scaled
    model = archlab.build(spec)
    assert model(torch.randn(1, 3, 64, 128)).shape == (1, 19, 64, 128)


def test_cascade_of_a_non_dfanet_backbone_builds():
    toy = Spec(name="toy", nodes=(
        Node("stem", "conv_bn_act", {"out_channels": 8, "stride": 2}),
        Node("s1", "conv_bn_act", {"out_channels": 16, "stride": 2}, ["stem"], tags={"cascade": "stage"}),
        Node("s2", "inverted_residual_stage", {"out_channels": 24, "num_blocks": 1, "stride": 2}, ["s1"],
             tags={"cascade": "stage"}),
        Node("low", "reduce_sum", {"out_channels": 8}, ["s1"]),
        Node("fuse", "reduce_sum", {"out_channels": 8}, ["low", "s2"]),
        Node("cls", "classifier", {"num_classes": 3}, ["fuse"]),
        Node("out", "resize_like", {}, ["cls", "input"]),
    ), output="out")
    spec = transforms.cascade(toy, copies=3)
    shapes = archlab.infer_shapes(spec)
    assert shapes["s1_c2"].in_channels == (16 + 24,) and shapes["s2_c3"].in_channels == (16 + 24,)
    assert spec.node("fuse").inputs == ("low", "s2", "s2_c2", "s2_c3")
    assert total_stride(spec, shapes) == 32
    assert archlab.build(spec)(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)
