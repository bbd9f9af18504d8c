"""The four counters and the reconciled figure on hand-computable cases, and on zoo models:
per-node sums, the reconciliation rule, and the disagreement sentences."""
import io
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archlab
from archlab.errors import SpecError
from archlab.profile import counters
from archlab.profile.counters import OUTSIDE, RECONCILE_RULE, count
from archlab.blocks.attention import FastAttention
from archlab.blocks.conv import AsymmetricConv


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small inputs count fastest on one thread (and are not slowed by a busy second core)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def net(**children) -> nn.Sequential:
    """A plain module whose top-level children are the rows of the table."""
    return nn.Sequential(OrderedDict(children))


def assert_counts(c, *, fvcore, thop, torch_macs, reconciled, ptflops=None, params=None):
    """Every counter's total, in its own unit (torch in FLOPs = 2 per multiply-add)."""
    assert c.macs_fvcore == fvcore
    assert c.macs_thop == thop
    assert c.flops_torch == 2 * torch_macs
    assert c.macs_reconciled == reconciled
    if ptflops is not None:
        assert c.macs_ptflops == ptflops
    if params is not None:
        assert c.params == params
    record = c.as_record()
    assert record["macs_reconciled"] == reconciled and record["counters_disagree"] == len(c.disagreements)
    assert record["macs_ptflops"] == c.macs_ptflops


def explanation(c, node, pair):
    found = [d for d in c.disagreements if d["node"] == node and d["counters"] == pair]
    assert len(found) == 1, c.disagreements
    return found[0]["explanation"]


# ---------------------------------------------------------------------------------------------
# Hand-computable cases


def test_conv3x3():
    # MACs = N*Cout*H*W*Cin*k*k = 1*8*16*16*3*3*3 = 55,296; the bias is not counted by fvcore, thop
    # or torch; ptflops adds 1 per output element for it: 8*16*16 = 2,048 -> 57,344 (3.6% more).
    c = count(net(conv=nn.Conv2d(3, 8, 3, padding=1)), torch.zeros(1, 3, 16, 16))
    macs = 1 * 8 * 16 * 16 * 3 * 3 * 3
    bias = 8 * 16 * 16
    assert_counts(c, fvcore=macs, thop=macs, torch_macs=macs, reconciled=macs, ptflops=macs + bias,
                  params=8 * 3 * 9 + 8)
    assert c.ops["conv"]["fvcore"] == {"conv": macs}
    assert c.ops["conv"]["torch"] == {"conv": 2 * macs}
    assert c.ops["conv"]["thop"] == {"nn.Conv2d": macs}
    assert c.ops["conv"]["ptflops"] == {"nn.Conv2d": macs + bias}
    assert {d["counters"] for d in c.disagreements} == {("fvcore", "ptflops"), ("thop", "ptflops"),
                                                        ("torch", "ptflops")}
    assert explanation(c, "conv", ("fvcore", "ptflops")) == (
        "ptflops counts 57.3k in nn.Conv2d modules (kernel MACs, plus 1 per output element for a bias) "
        "where fvcore counts 55.3k conv")


def test_depthwise_conv():
    # groups = C: each output channel sees one input channel: N*C*H*W*1*k*k = 8*16*16*9 = 18,432
    c = count(net(dw=nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)), torch.zeros(1, 8, 16, 16))
    macs = 8 * 16 * 16 * 9
    assert_counts(c, fvcore=macs, thop=macs, torch_macs=macs, reconciled=macs, ptflops=macs, params=8 * 9)
    assert c.disagreements == []  # no bias: all four agree


def test_dilated_asymmetric_conv_with_bn():
    # (3,1) dilated (2,1) then (1,3) dilated (1,2), 8->8 channels, size kept at 16x16:
    # each conv N*Cout*H*W*Cin*3 = 8*256*8*3 = 49,152, two of them = 98,304.
    # BN (nn.BatchNorm2d, eval, affine), 2 BNs of 8*256 elements: fvcore 2 per element = 8,192;
    # thop 4 per element = 16,384; ptflops 2 per element = 8,192; torch 0.
    # ReLU: ptflops 1 per element from its nn.ReLU hook + 1 from the F.relu it calls: 2 * 2 * 8*256.
    block = AsymmetricConv(8, 8, dilation=2)
    c = count(net(asym=block), torch.zeros(1, 8, 16, 16))
    conv = 2 * (8 * 256 * 8 * 3)
    bn = 2 * 2 * (8 * 256)
    relu = 2 * (8 * 256)
    assert_counts(c, fvcore=conv + bn, thop=conv + 2 * bn, torch_macs=conv, reconciled=conv,
                  ptflops=conv + bn + 2 * relu, params=2 * (8 * 8 * 3) + 2 * 16)
    assert c.ops["asym"]["fvcore"] == {"conv": conv, "batch_norm": bn}
    assert c.ops["asym"]["thop"] == {"nn.Conv2d": conv, "nn.BatchNorm2d": 2 * bn}
    assert c.ops["asym"]["ptflops"] == {"nn.Conv2d": conv, "nn.BatchNorm2d": bn, "nn.ReLU": relu, "F.relu": relu}
    assert explanation(c, "asym", ("fvcore", "thop")) == (
        "thop counts 16.4k in nn.BatchNorm2d modules (4 per element with affine, 2 without) where fvcore counts "
        "8.19k batch_norm")
    assert "torch counts 0 of fvcore's 8.19k batch_norm" in explanation(c, "asym", ("fvcore", "torch"))
    assert explanation(c, "asym", ("fvcore", "ptflops")) == (
        "ptflops counts 8.19k in nn.ReLU modules (1 per element, plus 4.1k from the wrapped F.relu they call) "
        "where fvcore counts 0")


def test_the_pooled_branch_batch_norm_is_a_subclass_that_exact_type_counters_miss():
    # Only branches that pool to 1x1 (ASPP's image pooling, PPM's bins) use PooledBatchNorm2d, which
    # trains at batch 1; thop and ptflops match exact types, so they skip it, and the note says so.
    from archlab.blocks.conv import ConvBNAct, PooledBatchNorm2d, for_pooled_input

    branch = for_pooled_input(ConvBNAct(8, 8, 1))
    assert type(branch[1]) is PooledBatchNorm2d
    c = count(net(pool=branch), torch.zeros(1, 8, 16, 16))
    assert c.ops["pool"]["thop"] == {"nn.Conv2d": 8 * 8 * 256}
    assert "subclass of nn.BatchNorm2d" in explanation(c, "pool", ("fvcore", "thop"))


class Up(nn.Module):
    """Bilinear x2 upsampling through the functional API (what archlab's blocks do)."""

    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def test_bilinear_upsample_functional_and_module():
    # output 1x4x16x16 = 1,024 elements. fvcore: 4 per output element = 4,096; torch: 0 (no formula).
    # thop: 0 for F.interpolate (no module to hook); 11 per output element for nn.Upsample = 11,264.
    # ptflops: 1 per output element for the wrapped F.interpolate = 1,024; nn.Upsample: 1 from its
    # hook + 1 from the F.interpolate its forward calls = 2,048.
    x = torch.zeros(1, 4, 8, 8)
    out = 4 * 16 * 16
    c = count(net(up=Up()), x)
    assert_counts(c, fvcore=4 * out, thop=0, torch_macs=0, reconciled=0, ptflops=out, params=0)
    assert c.ops["up"]["fvcore"] == {"upsample_bilinear2d": 4 * out}
    assert c.ops["up"]["ptflops"] == {"F.interpolate": out}
    assert explanation(c, "up", ("fvcore", "thop")) == (
        "thop counts 0 of fvcore's 4.1k upsample_bilinear2d (functional F.interpolate in Up.forward)")
    assert explanation(c, "up", ("fvcore", "ptflops")) == (
        "ptflops counts 1.02k F.interpolate (1 per output element, any mode) where fvcore counts 4.1k "
        "upsample_bilinear2d (in Up.forward)")
    assert explanation(c, "up", ("thop", "ptflops")) == (
        "thop counts 0 of ptflops' 1.02k F.interpolate (functional F.interpolate in Up.forward)")

    m = count(net(up=nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)), x)
    assert_counts(m, fvcore=4 * out, thop=11 * out, torch_macs=0, reconciled=0, ptflops=2 * out)
    assert m.ops["up"]["ptflops"] == {"nn.Upsample": out, "F.interpolate": out}
    assert explanation(m, "up", ("fvcore", "thop")) == (
        "thop counts 11.3k in nn.Upsample modules (per output element: nearest 1, linear 5, bilinear 11, "
        "bicubic 259) where fvcore counts 4.1k upsample_bilinear2d")
    assert explanation(m, "up", ("fvcore", "ptflops")) == (
        "ptflops counts 2.05k in nn.Upsample modules (1 per output element, any mode, plus 1.02k from the wrapped "
        "F.interpolate they call) where fvcore counts 4.1k upsample_bilinear2d")


def test_fast_attention_matmuls():
    # C = 16 channels, k = 8 key channels, n = 8*8 = 64 pixels.
    # 1x1 convs: Q and K n*C*k = 8,192 each, V and the output conv n*C*C = 16,384 each -> 49,152.
    # kv_first: Kᵀ V and Q̂ (Kᵀ V) are two bmm's of n*k*C = 8,192 each -> 16,384.
    # BN (2 per element in fvcore): Q, K 8*64 elements, V, out 16*64 -> 2*(512+512+1024+1024) = 6,144.
    # thop sees the convs and BN (4 per element), not the bmm's (functional); torch sees convs and bmm's.
    # ptflops: the convs, the bmm's (torch.bmm is wrapped: 1 per multiply-add), BN 2 per element and
    # the two nn.LeakyReLU of V and the output conv, 1 per element (F.leaky_relu is not wrapped):
    # 2*16*64 = 2,048; F.normalize and the residual "+" 0.
    n, k, ch = 64, 8, 16
    convs = 2 * n * ch * k + 2 * n * ch * ch
    bmm = 2 * n * k * ch
    bn = 2 * (2 * k * n + 2 * ch * n)
    leaky = 2 * ch * n
    c = count(net(att=FastAttention(ch, key_channels=k)), torch.zeros(1, ch, 8, 8))
    assert_counts(c, fvcore=convs + bmm + bn, thop=convs + 2 * bn, torch_macs=convs + bmm, reconciled=convs + bmm,
                  ptflops=convs + bmm + bn + leaky)
    assert c.ops["att"]["fvcore"]["bmm"] == bmm
    assert c.ops["att"]["torch"]["bmm"] == 2 * bmm
    assert c.ops["att"]["ptflops"] == {"nn.Conv2d": convs, "torch.bmm": bmm, "nn.BatchNorm2d": bn,
                                       "nn.LeakyReLU": leaky}
    said = explanation(c, "att", ("fvcore", "thop"))
    assert "thop counts 0 of fvcore's 16.4k bmm (functional torch.bmm in FastAttention.forward)" in said
    assert explanation(c, "att", ("thop", "torch")).startswith(
        "thop counts 0 of torch's 16.4k bmm (functional torch.bmm in FastAttention.forward)")
    assert explanation(c, "att", ("thop", "ptflops")).startswith(
        "thop counts 0 of ptflops' 16.4k torch.bmm (functional torch.bmm in FastAttention.forward)")

    # qk_first forms the n x n affinity: bmm's of n*n*k + n*n*C = 32,768 + 65,536
    q = count(net(att=FastAttention(ch, key_channels=k, order="qk_first")), torch.zeros(1, ch, 8, 8))
    assert q.macs_reconciled == convs + n * n * k + n * n * ch
    assert q.ops["att"]["ptflops"]["torch.bmm"] == n * n * k + n * n * ch


def test_linear():
    # batch 4, 32 -> 10: 4*32*10 = 1,280 MACs (bias not counted); torch sees aten.addmm.
    # ptflops adds 1 per output element for the bias: 4*10 -> 1,320, for the whole batch (ptflops'
    # own figure divides its hook counts by the batch: 330 per image).
    c = count(net(fc=nn.Linear(32, 10)), torch.zeros(4, 32))
    assert_counts(c, fvcore=1280, thop=1280, torch_macs=1280, reconciled=1280, ptflops=1320, params=330)
    assert c.ops["fc"]["fvcore"] == {"linear": 1280}
    assert c.ops["fc"]["torch"] == {"addmm": 2560}
    assert c.ops["fc"]["ptflops"] == {"nn.Linear": 1320}
    assert "plus 1 for a bias" in explanation(c, "fc", ("fvcore", "ptflops"))


def test_ptflops_counts_activations_norms_and_pools_twice_through_their_functionals():
    # 1x4x8x8 = 256 elements. nn.BatchNorm2d (the exact type, affine): ptflops 2 per element = 512,
    # as fvcore; thop 4 per element. nn.ReLU: ptflops' hook 1 + the wrapped F.relu 1 per element =
    # 512; fvcore, thop, torch 0. nn.MaxPool2d(2): hook 1 + F.max_pool2d 1 per *input* element =
    # 512. nn.ReLU6 on the pooled 4x4x4 = 64: 1 per element (it calls F.hardtanh, not wrapped).
    c = count(net(bn=nn.BatchNorm2d(4), relu=nn.ReLU(), pool=nn.MaxPool2d(2), relu6=nn.ReLU6()),
              torch.zeros(1, 4, 8, 8))
    assert_counts(c, fvcore=512, thop=1024, torch_macs=0, reconciled=0, ptflops=512 + 512 + 512 + 64)
    assert c.ops["bn"]["ptflops"] == {"nn.BatchNorm2d": 512}
    assert c.ops["relu"]["ptflops"] == {"nn.ReLU": 256, "F.relu": 256}
    assert c.ops["pool"]["ptflops"] == {"nn.MaxPool2d": 256, "F.max_pool2d": 256}
    assert c.ops["relu6"]["ptflops"] == {"nn.ReLU6": 64}
    assert list(c.per_node["macs_ptflops"]) == [512, 512, 512, 64]
    assert not [d for d in c.disagreements if d["node"] == "bn" and d["counters"] == ("fvcore", "ptflops")]
    assert explanation(c, "relu", ("fvcore", "ptflops")) == (
        "ptflops counts 512 in nn.ReLU modules (1 per element, plus 256 from the wrapped F.relu they call) "
        "where fvcore counts 0")
    assert explanation(c, "pool", ("torch", "ptflops")).startswith(
        "ptflops counts 512 in nn.MaxPool2d modules (1 per input element, plus 256 from the wrapped F.max_pool2d")


def ptflops_own(model, input_res) -> int:
    """ptflops' own figure, as a user gets it; on a copy (ptflops leaves methods and a batch counter
    on the module it counts), and with the Tensor methods it leaves set on torch.Tensor removed."""
    import copy

    from ptflops import get_model_complexity_info, pytorch_engine

    saved = {space: dict(vars(space)) for space in (torch, torch.Tensor, F)}
    try:
        return get_model_complexity_info(copy.deepcopy(model), input_res, print_per_layer_stat=False,
                                         as_strings=False, backend="pytorch", ost=io.StringIO())[0]
    finally:
        counters._restore(saved, pytorch_engine.torch_function_wrapper)


def test_ptflops_figure_is_get_model_complexity_info():
    # archlab attributes ptflops' counts to nodes; their sum is what ptflops itself reports.
    model = net(conv=nn.Conv2d(3, 8, 3, padding=1), bn=nn.BatchNorm2d(8), relu=nn.ReLU(), up=Up(),
                fc=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)))
    c = count(model, torch.zeros(1, 3, 16, 16))
    macs = ptflops_own(model, (3, 16, 16))
    assert c.macs_ptflops == macs
    assert int(c.per_node["macs_ptflops"].sum()) == macs


def test_ptflops_leaves_torch_and_the_model_as_they_were(capsys):
    functionals = {name: getattr(F, name) for name in ("relu", "interpolate", "max_pool2d", "softmax")}
    tensor_ops = {name: getattr(torch, name) for name in ("matmul", "bmm", "mul", "add")}
    tensor_methods = set(vars(torch.Tensor))
    model = net(conv=nn.Conv2d(3, 4, 3), relu=nn.ReLU(), up=Up(), att=FastAttention(4, key_channels=2)).eval()
    x = torch.randn(1, 3, 10, 10)
    before = model(x)
    first, second = count(model, x), count(model, x)
    assert first.per_node.equals(second.per_node) and first.ops == second.ops
    assert torch.equal(model(x), before)
    assert {name: getattr(F, name) for name in functionals} == functionals
    assert {name: getattr(torch, name) for name in tensor_ops} == tensor_ops
    assert set(vars(torch.Tensor)) == tensor_methods
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    assert not any(hasattr(m, attr) for m in model.modules() for attr in ("__flops__", "__batch_counter__",
                                                                         "start_flops_count"))
    assert capsys.readouterr().out == ""  # ptflops printed nothing


def test_ptflops_failure_is_a_clear_error_and_unpatches():
    relu = F.relu
    with pytest.raises(ValueError, match=r"ptflops could not run the model on an input of shape \(1, 5, 8, 8\)"):
        counters._run_ptflops(net(conv=nn.Conv2d(3, 4, 1), relu=nn.ReLU()), torch.zeros(1, 5, 8, 8))
    assert F.relu is relu


class SDPA(nn.Module):
    def forward(self, x):
        return F.scaled_dot_product_attention(x, x, x)


@pytest.mark.parametrize("meta", [True, False])
def test_scaled_dot_product_attention_is_reconciled_but_unseen_by_fvcore(meta):
    # Q Kᵀ and A V on 16 tokens of width 8: 16*16*8 each = 4,096 MACs; fvcore has no handle for sdpa,
    # ptflops does not wrap F.scaled_dot_product_attention.
    c = count(net(a=SDPA()), torch.zeros(1, 1, 16, 8), meta=meta)
    assert_counts(c, fvcore=0, thop=0, torch_macs=4096, reconciled=4096, ptflops=0)
    assert "fvcore has no handle for aten::scaled_dot_product_attention" in explanation(c, "a", ("fvcore", "torch"))
    said = explanation(c, "a", ("torch", "ptflops"))  # on meta torch sees sdpa's decomposition: bmm
    assert said.startswith("ptflops counts 0 of torch's 4.1k") and "in SDPA.forward)" in said


class RootWork(nn.Module):
    """A conv child plus work in the root's own forward and a parameter on the root."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 1, bias=False)
        self.gain = nn.Parameter(torch.ones(4, 1, 1))

    def forward(self, x):
        return F.interpolate(self.conv(x) * self.gain, scale_factor=2, mode="nearest")


def test_outside_row_keeps_the_sums():
    # conv 4*8*8*2 = 512 MACs in the child; nearest upsampling 1 per output element
    # (4*16*16 = 1,024) and the 4-element gain in the root's own forward.
    c = count(RootWork(), torch.zeros(1, 2, 8, 8))
    t = c.per_node
    assert list(t.index) == ["conv", OUTSIDE]
    assert t.loc["conv", "macs_fvcore"] == 512 and t.loc[OUTSIDE, "macs_fvcore"] == 1024
    assert t.loc[OUTSIDE, "params"] == 4 and c.params == 12
    assert c.ops[OUTSIDE]["fvcore"] == {"upsample_nearest2d": 1024}
    assert c.ops[OUTSIDE]["ptflops"] == {"F.interpolate": 1024}  # the gain's "*" is not seen
    for column in t.columns:
        assert t[column].sum() == getattr(c, column)
    assert "functional F.interpolate in RootWork.forward" in explanation(c, OUTSIDE, ("fvcore", "thop"))


# ---------------------------------------------------------------------------------------------
# The model is left alone; bad input is a clear error


def test_model_is_untouched():
    model = net(conv=nn.Conv2d(3, 4, 3), bn=nn.BatchNorm2d(4), act=nn.PReLU(4)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count(model, torch.randn(1, 3, 8, 8))
    assert model.training and all(m.training for m in model.modules())
    assert set(model.state_dict()) == set(before)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(hasattr(m, "total_ops") for m in model.modules())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_bad_input_errors_are_clear():
    with pytest.raises(ValueError, match="torch.nn.Module"):
        count("fast_scnn", torch.zeros(1, 3, 64, 128))
    with pytest.raises(ValueError, match="torch.Tensor"):
        count(nn.Conv2d(3, 4, 1), [1, 3, 8, 8])
    with pytest.raises(ValueError, match=r"input of shape \(1, 5, 8, 8\)"):
        count(net(conv=nn.Conv2d(3, 4, 1)), torch.zeros(1, 5, 8, 8))
    with pytest.raises(SpecError, match="multiples of"):
        count(archlab.create_model("fast_scnn"), torch.zeros(1, 3, 50, 100))


def test_rule_and_thin_helpers():
    assert "FlopCounterMode" in RECONCILE_RULE and "divided by two" in RECONCILE_RULE
    model = net(conv=nn.Conv2d(3, 8, 3, padding=1))
    assert counters.count_params(model) == 224
    assert counters.fvcore_macs(model, (1, 3, 16, 16)) == 55296
    total, by_module = counters.fvcore_macs(model, (1, 3, 16, 16), by_module=True)
    assert total == 55296 and by_module["conv"] == 55296


# ---------------------------------------------------------------------------------------------
# The table of counters


def test_counters_are_one_table_of_named_units():
    assert list(counters.COUNTERS) == ["fvcore", "thop", "torch", "ptflops"]
    assert {name: (c.unit, c.column, c.per_multiply_add, c.hooks_modules) for name, c in counters.COUNTERS.items()} == {
        "fvcore": ("MACs", "macs_fvcore", 1, False), "thop": ("MACs", "macs_thop", 1, True),
        "torch": ("FLOPs", "flops_torch", 2, False), "ptflops": ("MACs", "macs_ptflops", 1, True)}
    assert counters.COUNT_COLUMNS == ("macs_fvcore", "macs_thop", "macs_ptflops", "flops_torch")  # MACs, then FLOPs
    assert counters.PAIRS == (("fvcore", "thop"), ("fvcore", "torch"), ("thop", "torch"),
                              ("fvcore", "ptflops"), ("thop", "ptflops"), ("torch", "ptflops"))
    assert counters.RECONCILE_RULE_NAME == "flops_torch/2"
    with pytest.raises(ValueError, match=r"Counter 'x': unit='GMACs' is not one of 'MACs', 'FLOPs'"):
        counters.Counter("x", "GMACs", hooks_modules=False, tally=lambda forwards: None)


def test_each_counter_runs_alone_to_the_figures_count_reports():
    model = net(conv=nn.Conv2d(3, 8, 3, padding=1), up=Up())
    x = torch.zeros(1, 3, 8, 8)
    c = count(model, x)
    for name, counter in counters.COUNTERS.items():
        tally = counter.run(model, x)
        assert tally.total == getattr(c, counter.column) == c.totals[counter.column], name
        for node in ("conv", "up"):
            assert tally.ops_under(node) == c.ops[node][name], (name, node)
            assert tally.total_under(node) == c.per_node.loc[node, counter.column], (name, node)
    conv = 8 * 8 * 8 * 3 * 9
    assert counters.COUNTERS["torch"].run(model, x).by_module["conv"] == {"conv": 2 * conv}
    assert counters.COUNTERS["thop"].run(model, x).hooked == {"conv"}  # Up is no type thop knows
    assert counters.COUNTERS["ptflops"].run(model, x).exclusive["up"] == {"F.interpolate": 8 * 16 * 16}
    with pytest.raises(ValueError, match="torch.Tensor"):
        counters.COUNTERS["fvcore"].run(model, [1, 3, 8, 8])


def test_counts_totals_are_attributes_in_the_record_order():
    c = count(net(conv=nn.Conv2d(3, 8, 1)), torch.zeros(1, 3, 4, 4))
    assert list(c.totals) == list(counters.COUNT_COLUMNS)
    assert list(c.as_record()) == ["params", "macs_fvcore", "macs_thop", "macs_ptflops", "flops_torch",
                                   "macs_reconciled", "macs_rule", "counters_disagree"]
    assert c.flops_torch == 2 * c.macs_fvcore == 2 * 8 * 16 * 3
    with pytest.raises(AttributeError, match="'macs_nobody'; the counters' totals are macs_fvcore, macs_thop"):
        c.macs_nobody


# ---------------------------------------------------------------------------------------------
# Zoo models: sums, reconciliation, explanations

ZOO = {"fast_scnn": (64, 128), "fassd_net": (64, 128), "fanet18": (64, 128), "dfanet_b": (64, 128)}


@pytest.fixture(scope="module")
def zoo_counts():
    out = {}
    for name, (h, w) in ZOO.items():
        model = archlab.create_model(name)
        out[name] = (model, count(model, torch.zeros(1, 3, h, w)))
    return out


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_node_rows_sum_exactly(zoo_counts, name):
    model, c = zoo_counts[name]
    t = c.per_node
    assert list(t.index) == list(model.nodes.keys())  # everything happens inside the nodes
    for column in ("params", "macs_fvcore", "macs_thop", "macs_ptflops", "flops_torch", "macs_reconciled"):
        assert int(t[column].sum()) == getattr(c, column), column
    assert c.params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_reconciled_equals_fvcore_multiply_accumulate_operators(zoo_counts, name):
    _, c = zoo_counts[name]
    for node in c.per_node.index:
        fvcore_macs = sum(v for op, v in c.ops[node]["fvcore"].items() if op in counters.FVCORE_MAC_OPS)
        assert c.per_node.loc[node, "macs_reconciled"] == fvcore_macs, node


def test_zoo_disagreements_name_the_operators(zoo_counts):
    _, c = zoo_counts["fanet18"]
    said = explanation(c, "att1", ("fvcore", "thop"))
    assert "thop counts 0 of fvcore's" in said and "bmm (functional torch.bmm in FastAttention.forward)" in said
    said = explanation(c, "out", ("fvcore", "thop"))
    assert said.startswith("thop counts 0 of fvcore's") and "upsample_bilinear2d (functional F.interpolate" in said
    _, f = zoo_counts["fast_scnn"]
    said = explanation(f, "ffm", ("fvcore", "torch"))
    assert "torch counts 0 of fvcore's" in said and "upsample_bilinear2d" in said and "batch_norm" in said
    for d in c.disagreements + f.disagreements:
        assert d["rel_diff"] > counters.DISAGREE_REL and d["explanation"]


def test_zoo_ptflops_rows_are_ptflops_own_figure(zoo_counts):
    # Every count ptflops made is attributed to a node: the rows sum to get_model_complexity_info's figure.
    model, c = zoo_counts["fassd_net"]
    macs = ptflops_own(model, (3, *ZOO["fassd_net"]))
    assert int(c.per_node["macs_ptflops"].sum()) == c.macs_ptflops == macs
    assert all(counters.NOT_ATTRIBUTED not in ops["ptflops"] for ops in c.ops.values())


def test_zoo_ptflops_disagreements_name_the_operators(zoo_counts):
    _, c = zoo_counts["fassd_net"]
    # FASSD-Net's classifier holds a plain nn.Conv2d (as the authors' code): ptflops sees it, plus its bias.
    assert c.per_node.loc["cls", "macs_ptflops"] > c.per_node.loc["cls", "macs_fvcore"] > 0
    assert "plus 1 per output element for a bias" in explanation(c, "cls", ("fvcore", "ptflops"))
    # The final bilinear resize: ptflops 1 per output element where fvcore counts 4.
    said = explanation(c, "out", ("fvcore", "ptflops"))
    assert said.startswith("ptflops counts")
    assert "F.interpolate (1 per output element, any mode) where fvcore counts" in said
    assert c.per_node.loc["out", "macs_fvcore"] == 4 * c.per_node.loc["out", "macs_ptflops"]
    _, f = zoo_counts["fanet18"]
    said = explanation(f, "att1", ("thop", "ptflops"))
    assert "thop counts 0 of ptflops'" in said and "torch.bmm (functional torch.bmm in FastAttention.forward)" in said


def test_meta_copy_counts_equal_a_real_forward(zoo_counts):
    model, c = zoo_counts["fast_scnn"]
    real = count(model, torch.zeros(1, 3, *ZOO["fast_scnn"]), meta=False)
    assert c.on_meta and not real.on_meta
    assert real.per_node.equals(c.per_node)
    assert real.ops == c.ops
