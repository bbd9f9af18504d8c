import pytest
import torch

import archlab
from archlab import Node, Spec, SpecError, transforms
from archlab.profile.counters import count_params
from archlab.graph import infer_shapes
from archlab.transforms import make_divisible


@pytest.mark.parametrize("block", ["dapf", "aspp", "ppm", "identity"])
def test_swapping_the_context_module_needs_no_other_edit(block):
    spec = transforms.replace(archlab.get_spec("fassd_net"), "context", block=block)
    y = archlab.build(spec)(torch.randn(1, 3, 64, 128))
    assert y.shape == (1, 19, 64, 128)


def test_swap_to_a_wider_module_reinfers_downstream_channels():
    spec = transforms.replace(archlab.get_spec("fassd_net"), "context", block="aspp", out_channels=256)
    shapes = infer_shapes(spec)
    assert shapes["up1"].out_channels == (256 + 160,)
    assert shapes["reduce1"].out_channels == (208,)  # the 1x1 conv still halves


def test_replace_merges_args_and_rejects_unknown_ones():
    spec = transforms.replace(archlab.get_spec("fassd_net"), "context", alpha=4)
    assert spec.node("context").args == {"alpha": 4}
    with pytest.raises(SpecError, match=r"node 'context'.*no argument\(s\) \['rates'\]"):
        transforms.replace(spec, "context", rates=[1])
    with pytest.raises(SpecError, match="no node 'nope'"):
        transforms.replace(spec, "nope", alpha=1)


def test_remove_rewires_consumers_and_output():
    spec = archlab.get_spec("fassd_net")
    no_ctx = transforms.remove(spec, "context")
    assert "context" not in no_ctx
    assert no_ctx.node("up1").inputs[0] == "enc4"
    no_mda = transforms.remove(spec, "mda1")
    assert no_mda.node("dec1").inputs == ("reduce1",)
    toy = Spec("toy", (Node("a", "identity"), Node("b", "identity", inputs=["a"])), output="b")
    assert transforms.remove(toy, "b").output == "a"
    with pytest.raises(SpecError, match="cannot remove the only node"):
        transforms.remove(transforms.remove(toy, "b"), "a")
    with pytest.raises(SpecError, match="only a node with one input can be removed"):
        transforms.remove(spec, "up1")
    with pytest.raises(SpecError, match="uses its output 1"):
        transforms.remove(spec, "enc1")


def test_make_divisible():
    assert make_divisible(64 * 0.5, 8) == 32
    assert make_divisible(20, 8) == 24
    assert make_divisible(3, 8) == 8
    assert make_divisible(17, 2) == 18


def test_width_scales_every_channel_count_and_rounds_to_eight():
    spec = archlab.get_spec("fast_scnn")
    half = transforms.scale_width(spec, 0.5)
    assert half.node("ltd").args["channels"] == [16, 24, 32]
    assert half.node("gfe3").args["out_channels"] == 64
    assert half.node("ffm").args["out_channels"] == 64
    assert half.node("cls").args["num_classes"] == 19  # never scaled
    for node in half.nodes:
        for key, value in node.args.items():
            if key in ("out_channels", "channels"):
                assert all(v % 8 == 0 for v in (value if isinstance(value, list) else [value]))
    small, big = (count_params(archlab.create_model("fast_scnn", width=w)) for w in (0.5, 1.5))
    assert small < count_params(archlab.create_model("fast_scnn")) < big


def test_width_on_hardnet_rounds_growth_rates_to_even():
    spec = archlab.get_spec("fassd_net", width=0.75)
    for node in spec.find(block="hardnet_stage") + spec.find(block="hard_block"):
        assert node.args["growth_rate"] % 2 == 0
    assert archlab.build(spec)(torch.randn(1, 3, 64, 64)).shape == (1, 19, 64, 64)


def test_depth_scales_repeat_counts():
    spec = archlab.get_spec("fast_scnn", depth=2)
    assert [spec.node(f"gfe{i}").args["num_blocks"] for i in (1, 2, 3)] == [6, 6, 6]
    spec = archlab.get_spec("fast_scnn", depth=0.1)
    assert [spec.node(f"gfe{i}").args["num_blocks"] for i in (1, 2, 3)] == [1, 1, 1]


def test_alpha_knob():
    spec = archlab.get_spec("fassd_net", alpha=4)
    assert spec.node("context").args["alpha"] == 4
    assert archlab.build(spec).nodes["context"].mid_channels == 56
    with pytest.raises(SpecError, match="has no 'alpha' knob; its knobs are: width, depth"):
        archlab.get_spec("fast_scnn", alpha=2)
    with pytest.raises(SpecError, match="width=-1 must be a positive number"):
        archlab.get_spec("fast_scnn", width=-1)
    with pytest.raises(SpecError, match=r"unknown knob\(s\) \['widht'\]"):
        archlab.create_model("fast_scnn", widht=2)


def _toy_backbone():
    return Spec("toy", (
        Node("stem", "conv_bn_act", {"out_channels": 8, "stride": 2}),
        Node("s1", "conv_bn_act", {"out_channels": 16, "stride": 2}, ["stem"], tags={"cascade": "stage"}),
        Node("s2", "conv_bn_act", {"out_channels": 24, "stride": 2}, ["s1"], tags={"cascade": "stage"}),
        Node("head", "identity", {}, ["s2"], tags={"cascade": "head"}),
        Node("agg", "concat", {"size_from": 0}, ["s1", "head"]),
        Node("cls", "classifier", {"num_classes": 5}, ["agg"]),
        Node("out", "resize_like", {}, ["cls", "input"]),
    ), output="out")


def test_cascade_wires_sub_network_and_sub_stage_aggregation():
    spec = transforms.cascade(_toy_backbone(), copies=3)
    shapes = infer_shapes(spec)
    # copy 2's first stage takes concat(copy 1's first stage, copy 1's head): 16 + 24
    assert shapes["s1_c2"].in_channels == (40,)
    # copy 2's second stage takes concat(its first stage, copy 1's second stage): 16 + 24
    assert shapes["s2_c2"].in_channels == (40,)
    # each copy runs one stride lower: 1/8, 1/16, 1/32 at the head
    assert [shapes[h].out_strides[0] for h in ("head", "head_c2", "head_c3")] == [8, 16, 32]
    # a variadic consumer gets every copy
    assert spec.node("agg").inputs == ("s1", "s1_c2", "s1_c3", "head", "head_c2", "head_c3")
    y = archlab.build(spec)(torch.randn(1, 3, 64, 64))
    assert y.shape == (1, 5, 64, 64)


def test_cascade_errors():
    with pytest.raises(SpecError, match="no node is tagged"):
        transforms.cascade(archlab.get_spec("fassd_net").with_nodes(
            n.with_(tags={}) for n in archlab.get_spec("fassd_net").nodes))
    with pytest.raises(SpecError, match="copies=0 must be a positive integer"):
        transforms.cascade(_toy_backbone(), copies=0)


def test_cascade_on_hardnet_stages_builds():
    spec = transforms.cascade(archlab.get_spec("fassd_net"), copies=2)
    assert archlab.build(spec)(torch.randn(1, 3, 128, 128)).shape == (1, 19, 128, 128)


def test_cascade_of_a_bare_backbone_moves_the_output_to_the_last_copy():
    spec = Spec("bb", (
        Node("s1", "conv_bn_act", {"out_channels": 8, "stride": 2}, tags={"cascade": "stage"}),
        Node("s2", "conv_bn_act", {"out_channels": 16, "stride": 2}, ["s1"], tags={"cascade": "stage"}),
    ), output="s2")
    out = transforms.cascade(spec, copies=2)
    assert out.output == "s2_c2"
    assert archlab.build(out)(torch.randn(1, 3, 64, 64)).shape == (1, 16, 8, 8)


def test_substitute_replaces_a_node_by_a_chain_that_keeps_its_id():
    import torch

    spec = archlab.get_spec("fast_scnn")
    mda = transforms.substitute(spec, "ffm", [
        ("ffm_cat", "concat", {"size_from": 1}, ["context", "ltd"]),
        ("ffm_reduce", "conv_bn_act", {"out_channels": 128, "kernel_size": 1}, ["ffm_cat"]),
        ("ffm", "mda", {"dilation": 2}, ["ffm_reduce"]),
    ])
    assert [n.id for n in mda.nodes].count("ffm") == 1 and mda.node("ffm").block == "mda"
    assert mda.node("cls").inputs == spec.node("cls").inputs            # consumers untouched
    assert archlab.build(mda)(torch.zeros(1, 3, 64, 128)).shape == (1, 19, 64, 128)


def test_substitute_errors_name_the_problem():
    spec = archlab.get_spec("fast_scnn")
    with pytest.raises(SpecError, match="last new node must have the replaced id 'ffm'"):
        transforms.substitute(spec, "ffm", [("other", "identity", {}, ["ltd"])])
    with pytest.raises(SpecError, match=r"new node id\(s\) \['gfe1'\] already exist"):
        transforms.substitute(spec, "ffm", [("gfe1", "identity", {}, ["ltd"]), ("ffm", "identity", {}, ["gfe1"])])
    with pytest.raises(SpecError, match="unknown block 'mdaa'"):
        transforms.substitute(spec, "ffm", [("ffm", "mdaa", {}, ["ltd"])])
