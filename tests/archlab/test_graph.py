"""Validation errors: each names the node and what would be valid; none is a raw PyTorch error."""
import pytest
import torch

import archlab
from archlab import Node, Spec, SpecError
from archlab.graph import infer_shapes, total_stride


def spec_of(*nodes, output=None, **kw):
    return Spec("t", tuple(nodes), output=output or nodes[-1].id, **kw)


def test_infers_channels_and_strides_through_a_multi_input_graph():
    spec = spec_of(
        Node("a", "conv_bn_act", {"out_channels": 16, "stride": 2}, ["input"]),
        Node("b", "conv_bn_act", {"out_channels": 24, "stride": 2}, ["a"]),
        Node("cat", "concat", {"size_from": 0}, ["a", "b"]),
        Node("enc", "hardnet_stage", {"growth_rate": 10, "n_layers": 4, "out_channels": 32}, ["cat"]),
        Node("skip", "conv_bn_act", {"kernel_size": 1}, ["enc:1"]),
    )
    shapes = infer_shapes(spec)
    assert shapes["cat"].in_channels == (16, 24) and shapes["cat"].in_strides == (2, 4)
    assert shapes["cat"].out_channels == (40,) and shapes["cat"].out_strides == (2,)
    assert shapes["enc"].out_channels == (32, 48) and shapes["enc"].out_strides == (4, 2)
    assert shapes["skip"].in_channels == (48,)
    assert total_stride(spec) == 4
    y = archlab.build(spec)(torch.randn(1, 3, 32, 64))
    assert y.shape == (1, 48, 16, 32)


def test_unknown_block_suggests_close_names():
    with pytest.raises(SpecError, match=r"node 'x'.*unknown block 'dapff'.*Did you mean 'dapf'"):
        archlab.build(spec_of(Node("x", "dapff")))


def test_unknown_and_missing_arguments():
    with pytest.raises(SpecError, match=r"node 'x'.*no argument\(s\) \['alfa'\]; valid: out_channels, alpha"):
        archlab.build(spec_of(Node("x", "dapf", {"alfa": 2})))
    with pytest.raises(SpecError, match=r"node 'x'.*alpha=0 must be"):
        archlab.build(spec_of(Node("x", "dapf", {"alpha": 0})))


def test_missing_input_lists_valid_ones():
    with pytest.raises(SpecError, match=r"node 'b'.*input 'nope' does not exist; valid inputs are 'input' or one of: a"):
        archlab.build(spec_of(Node("a", "identity"), Node("b", "identity", inputs=["nope"])))


def test_cycle_is_reported_with_its_path():
    with pytest.raises(SpecError, match=r"cycle in the graph: .*a -> b -> a|b -> a -> b"):
        archlab.build(spec_of(Node("a", "identity", inputs=["b"]), Node("b", "identity", inputs=["a"])))


def test_channel_mismatch_where_a_block_needs_equal_channels():
    with pytest.raises(SpecError, match=r"node 'sum'.*'add' needs equal channel counts, got \[8, 16\]"):
        archlab.build(spec_of(Node("a", "conv_bn_act", {"out_channels": 8}),
                              Node("b", "conv_bn_act", {"out_channels": 16}),
                              Node("sum", "add", {}, ["a", "b"])))


def test_stride_mismatch_where_a_block_needs_equal_sizes():
    with pytest.raises(SpecError, match=r"node 'sum'.*one resolution, got a at 1/1, b at 1/2"):
        archlab.build(spec_of(Node("a", "conv_bn_act", {"out_channels": 8}),
                              Node("b", "conv_bn_act", {"out_channels": 8, "stride": 2}),
                              Node("sum", "add", {}, ["a", "b"])))


def test_wrong_input_count_and_bad_output_index():
    with pytest.raises(SpecError, match=r"node 'f'.*takes 2 input\(s\), got 1"):
        archlab.build(spec_of(Node("f", "feature_fusion")))
    with pytest.raises(SpecError, match=r"node 'b'.*'a' has 1 output\(s\)"):
        archlab.build(spec_of(Node("a", "identity"), Node("b", "identity", inputs=["a:1"])))


def test_output_must_be_a_node():
    with pytest.raises(SpecError, match="output 'zz' is not a node"):
        archlab.build(spec_of(Node("a", "identity"), output="zz"))


def test_input_size_the_total_stride_does_not_divide():
    spec = archlab.get_spec("fassd_net")
    with pytest.raises(SpecError, match=r"input 1000x2000: .*multiples of 32.*nearest valid size is 992x1984"):
        archlab.build(spec, input_size=(1, 3, 1000, 2000))
    with pytest.raises(SpecError, match="has 1 channels; the spec takes 3"):
        archlab.build(spec, input_size=(1, 1, 64, 64))
    archlab.build(spec, input_size=(64, 128))  # valid


def test_a_shape_problem_only_visible_at_run_time_names_the_node():
    # Both inputs are at stride 1, but an unpadded 3x3 pool shrinks one: only a forward pass sees it.
    spec = spec_of(Node("a", "pool", {"kind": "max", "kernel_size": 3, "stride": 1}),
                   Node("b", "identity"), Node("sum", "add", {}, ["a", "b"]))
    with pytest.raises(SpecError, match=r"node 'a': block 'pool' is 30x62 on a 32x64 input, but its stride says "
                                        r"1/1 of it \(32x64\)"):
        archlab.build(spec)


def test_graph_model_children_are_named_by_node():
    model = archlab.create_model("fast_scnn")
    assert list(model.nodes) == [n.id for n in archlab.get_spec("fast_scnn").nodes]


def test_forward_on_a_size_the_network_cannot_take_is_a_spec_error():
    model = archlab.create_model("fassd_net_l2").eval()
    with pytest.raises(SpecError, match=r"node 'enc3'.*fails on inputs of shape"):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(SpecError, match="multiples of 32"):
        model(torch.randn(1, 3, 200, 200))
    with pytest.raises(SpecError, match=r"takes one \(N, C, H, W\) tensor"):
        model(torch.randn(3, 64, 64))
    with pytest.raises(SpecError, match="has 1 channels; the spec takes 3"):
        model(torch.randn(1, 1, 64, 64))
    assert model(torch.randn(1, 3, 192, 192)).shape == (1, 19, 192, 192)


def test_a_flop_counter_around_the_first_forward_sees_only_the_forward():
    # A size check that ran model code inside forward doubled what any tool wrapped around the
    # first call at a new size counted (0.839 vs 0.420 GMACs for fast_scnn at 256x512).
    from torch.utils.flop_counter import FlopCounterMode

    model = archlab.create_model("fast_scnn").eval()
    counts = []
    for size in ((128, 256), (128, 256), (192, 256), (192, 256)):  # first and second call at each size
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.randn(1, 3, *size))
        counts.append(counter.get_total_flops())
    assert counts[0] == counts[1] > 0
    assert counts[2] == counts[3] > counts[0]


def test_a_profiler_around_the_first_forward_records_no_meta_tensor():
    model = archlab.create_model("fast_scnn").eval()
    with torch.no_grad(), torch.profiler.profile(record_shapes=True) as prof:
        model(torch.randn(1, 3, 64, 128))
    convs = [e for e in prof.events() if e.name == "aten::conv2d"]
    assert len(convs) == sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def test_outputs_are_released_after_their_last_reader():
    import weakref

    spec = spec_of(Node("a", "conv_bn_act", {"out_channels": 4}), Node("b", "conv_bn_act", {"out_channels": 4}, ["a"]),
                   Node("c", "conv_bn_act", {"out_channels": 4}, ["b"]))
    model = archlab.build(spec).eval()
    seen = {}
    model.nodes["b"].register_forward_pre_hook(lambda m, args: seen.update(a=weakref.ref(args[0])))
    model.nodes["c"].register_forward_pre_hook(lambda m, args: seen.update(a_alive_at_c=seen["a"]() is not None))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 16, 16))
    assert seen["a_alive_at_c"] is False and out.shape == (1, 4, 16, 16)   # b was a's last reader
    assert set(model.run(torch.randn(1, 3, 16, 16), keep=True)) == {"input", "a", "b", "c"}
