"""The three counters and the reconciled figure on hand-computable cases, and on zoo models:
per-node sums, the reconciliation rule, and the disagreement sentences."""
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archlab
from archlab.errors import SpecError
from archlab.profile import counters
from archlab.profile.counters import OUTSIDE, RECONCILE_RULE, count
from blocks.attention import FastAttention
from blocks.conv import AsymmetricConv


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


def assert_counts(c, *, fvcore, thop, torch_macs, reconciled, params=None):
    """Every counter's total, in its own unit (torch in FLOPs = 2 per multiply-add)."""
    assert c.macs_fvcore == fvcore
    assert c.macs_thop == thop
    assert c.flops_torch == 2 * torch_macs
    assert c.macs_reconciled == reconciled
    if params is not None:
        assert c.params == params
    record = c.as_record()
    assert record["macs_reconciled"] == reconciled and record["counters_disagree"] == len(c.disagreements)


def explanation(c, node, pair):
    found = [d for d in c.disagreements if d["node"] == node and d["counters"] == pair]
    assert len(found) == 1, c.disagreements
    return found[0]["explanation"]


# ---------------------------------------------------------------------------------------------
# Hand-computable cases


def test_conv3x3():
    # MACs = N*Cout*H*W*Cin*k*k = 1*8*16*16*3*3*3 = 55,296 (bias not counted by any counter)
    c = count(net(conv=nn.Conv2d(3, 8, 3, padding=1)), torch.zeros(1, 3, 16, 16))
    macs = 1 * 8 * 16 * 16 * 3 * 3 * 3
    assert_counts(c, fvcore=macs, thop=macs, torch_macs=macs, reconciled=macs, params=8 * 3 * 9 + 8)
    assert c.ops["conv"]["fvcore"] == {"conv": macs}
    assert c.ops["conv"]["torch"] == {"conv": 2 * macs}
    assert c.ops["conv"]["thop"] == {"nn.Conv2d": macs}
    assert c.disagreements == []


def test_depthwise_conv():
    # groups = C: each output channel sees one input channel: N*C*H*W*1*k*k = 8*16*16*9 = 18,432
    c = count(net(dw=nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)), torch.zeros(1, 8, 16, 16))
    macs = 8 * 16 * 16 * 9
    assert_counts(c, fvcore=macs, thop=macs, torch_macs=macs, reconciled=macs, params=8 * 9)


def test_dilated_asymmetric_conv_with_bn():
    # (3,1) dilated (2,1) then (1,3) dilated (1,2), 8->8 channels, size kept at 16x16:
    # each conv N*Cout*H*W*Cin*3 = 8*256*8*3 = 49,152, two of them = 98,304.
    # BN (archlab's BatchNorm2d, eval, affine): fvcore 2 per element, 2 BNs * 8*256 = 8,192;
    # thop 0 (a subclass of nn.BatchNorm2d: thop's table matches exact types); torch 0.
    block = AsymmetricConv(8, 8, dilation=2)
    c = count(net(asym=block), torch.zeros(1, 8, 16, 16))
    conv = 2 * (8 * 256 * 8 * 3)
    bn = 2 * 2 * (8 * 256)
    assert_counts(c, fvcore=conv + bn, thop=conv, torch_macs=conv, reconciled=conv,
                  params=2 * (8 * 8 * 3) + 2 * 16)
    assert c.ops["asym"]["fvcore"] == {"conv": conv, "batch_norm": bn}
    thop_says = explanation(c, "asym", ("fvcore", "thop"))
    assert "thop counts 0 of fvcore's 8.19k batch_norm" in thop_says and "subclass of nn.BatchNorm2d" in thop_says
    assert "torch counts 0 of fvcore's 8.19k batch_norm" in explanation(c, "asym", ("fvcore", "torch"))


class Up(nn.Module):
    """Bilinear x2 upsampling through the functional API (what archlab's blocks do)."""

    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def test_bilinear_upsample_functional_and_module():
    # output 1x4x16x16 = 1,024 elements. fvcore: 4 per output element = 4,096; torch: 0 (no formula).
    # thop: 0 for F.interpolate (no module to hook); 11 per output element for nn.Upsample = 11,264.
    x = torch.zeros(1, 4, 8, 8)
    out = 4 * 16 * 16
    c = count(net(up=Up()), x)
    assert_counts(c, fvcore=4 * out, thop=0, torch_macs=0, reconciled=0, params=0)
    assert c.ops["up"]["fvcore"] == {"upsample_bilinear2d": 4 * out}
    assert explanation(c, "up", ("fvcore", "thop")) == (
        "thop counts 0 of fvcore's 4.1k upsample_bilinear2d (functional F.interpolate in Up.forward)")

    m = count(net(up=nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)), x)
    assert_counts(m, fvcore=4 * out, thop=11 * out, torch_macs=0, reconciled=0)
    assert explanation(m, "up", ("fvcore", "thop")) == (
        "thop counts 11.3k in nn.Upsample modules (per output element: nearest 1, linear 5, bilinear 11, "
        "bicubic 259) where fvcore counts 4.1k upsample_bilinear2d")


def test_fast_attention_matmuls():
    # C = 16 channels, k = 8 key channels, n = 8*8 = 64 pixels.
    # 1x1 convs: Q and K n*C*k = 8,192 each, V and the output conv n*C*C = 16,384 each -> 49,152.
    # kv_first: Kᵀ V and Q̂ (Kᵀ V) are two bmm's of n*k*C = 8,192 each -> 16,384.
    # BN (2 per element in fvcore): Q, K 8*64 elements, V, out 16*64 -> 2*(512+512+1024+1024) = 6,144.
    # thop sees the convs only (bmm is functional, BN a subclass); torch sees convs and bmm's.
    n, k, ch = 64, 8, 16
    convs = 2 * n * ch * k + 2 * n * ch * ch
    bmm = 2 * n * k * ch
    bn = 2 * (2 * k * n + 2 * ch * n)
    c = count(net(att=FastAttention(ch, key_channels=k)), torch.zeros(1, ch, 8, 8))
    assert_counts(c, fvcore=convs + bmm + bn, thop=convs, torch_macs=convs + bmm, reconciled=convs + bmm)
    assert c.ops["att"]["fvcore"]["bmm"] == bmm
    assert c.ops["att"]["torch"]["bmm"] == 2 * bmm
    said = explanation(c, "att", ("fvcore", "thop"))
    assert said.startswith("thop counts 0 of fvcore's 16.4k bmm (functional torch.bmm in FastAttention.forward)")
    assert "6.14k batch_norm" in said
    assert explanation(c, "att", ("thop", "torch")) == (
        "thop counts 0 of torch's 16.4k bmm (functional torch.bmm in FastAttention.forward)")

    # qk_first forms the n x n affinity: bmm's of n*n*k + n*n*C = 32,768 + 65,536
    q = count(net(att=FastAttention(ch, key_channels=k, order="qk_first")), torch.zeros(1, ch, 8, 8))
    assert q.macs_reconciled == convs + n * n * k + n * n * ch


def test_linear():
    # batch 4, 32 -> 10: 4*32*10 = 1,280 MACs (bias not counted); torch sees aten.addmm.
    c = count(net(fc=nn.Linear(32, 10)), torch.zeros(4, 32))
    assert_counts(c, fvcore=1280, thop=1280, torch_macs=1280, reconciled=1280, params=330)
    assert c.ops["fc"]["fvcore"] == {"linear": 1280}
    assert c.ops["fc"]["torch"] == {"addmm": 2560}


class SDPA(nn.Module):
    def forward(self, x):
        return F.scaled_dot_product_attention(x, x, x)


@pytest.mark.parametrize("meta", [True, False])
def test_scaled_dot_product_attention_is_reconciled_but_unseen_by_fvcore(meta):
    # Q Kᵀ and A V on 16 tokens of width 8: 16*16*8 each = 4,096 MACs; fvcore has no handle for sdpa.
    c = count(net(a=SDPA()), torch.zeros(1, 1, 16, 8), meta=meta)
    assert_counts(c, fvcore=0, thop=0, torch_macs=4096, reconciled=4096)
    assert "fvcore has no handle for aten::scaled_dot_product_attention" in explanation(c, "a", ("fvcore", "torch"))


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
    for column in ("params", "macs_fvcore", "macs_thop", "flops_torch", "macs_reconciled"):
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


def test_meta_copy_counts_equal_a_real_forward(zoo_counts):
    model, c = zoo_counts["fast_scnn"]
    real = count(model, torch.zeros(1, 3, *ZOO["fast_scnn"]), meta=False)
    assert c.on_meta and not real.on_meta
    assert real.per_node.equals(c.per_node)
    assert real.ops == c.ops
