"""FASSD-Net and FC-HarDNet-70 against the paper's Table I and the authors' code."""
import functools

import pytest
import torch

import archlab
from archlab.graph import infer_shapes
from archlab.profile.counters import count_params, fvcore_macs
from archlab.zoo.fassd import ABLATION, ABLATION_PUBLISHED, fassd_ablation

ROWS = ["fc_hardnet70"] + list(ABLATION)
SIZE_1024 = (1, 3, 1024, 2048)

# The authors' models, from their code: FASSDNet(19, alpha=2) of github.com/GibranBenitez/FASSD-Net,
# ptsemseg/models/FASSDNet.py, FASSDNetL1.py and FASSDNetL2.py; FC-HarDNet-70 as hardnet(n_classes=19)
# of github.com/PingoLH/FCHarDNet, ptsemseg/models/hardnet.py. Counted in eval mode on a zero
# 1x3x1024x2048 input: parameters summed over model.parameters(); MACs from fvcore's
# FlopCountAnalysis(...).total() (fvcore 0.1.5, what archlab.profile.counters.fvcore_macs runs).
# Their torch FlopCounterMode figures and ptflops' aten-backend MACs equal archlab's too.
AUTHORS_PARAMS = {"fassd_net": 2_845_351, "fassd_net_l1": 2_845_351, "fassd_net_l2": 2_289_454,
                  "fc_hardnet70": 4_119_257}
AUTHORS_FVCORE_MACS = {"fassd_net": 45_187_883_008, "fassd_net_l1": 20_079_776_423,
                       "fassd_net_l2": 8_807_241_728, "fc_hardnet70": 35_627_520_000}
# Table I's last row is FASSD-Net itself (the identity transform): one count serves both tests.
SAME_AS_ZOO = {"dapf_mda": "fassd_net"}


def row_spec(row):
    return archlab.get_spec(row) if row in AUTHORS_PARAMS else fassd_ablation(row)


@functools.lru_cache(maxsize=None)
def macs_at_1024x2048(row):
    """fvcore MACs at 1x3x1024x2048 (a real forward: fvcore cannot trace on meta), once per row."""
    return fvcore_macs(archlab.build(row_spec(row)), SIZE_1024)


@pytest.mark.parametrize("name", sorted(AUTHORS_PARAMS))
def test_parameters_equal_the_authors_code(name):
    assert count_params(archlab.create_model(name)) == AUTHORS_PARAMS[name]


@pytest.mark.parametrize("name", sorted(AUTHORS_FVCORE_MACS))
def test_fvcore_macs_at_1024x2048_equal_the_authors_code(name):
    assert macs_at_1024x2048(name) == AUTHORS_FVCORE_MACS[name]


@pytest.mark.parametrize("row", ROWS)
def test_ablation_params_within_1pct(row):
    params = count_params(archlab.build(row_spec(row)))
    assert params == pytest.approx(ABLATION_PUBLISHED[row]["params_M"] * 1e6, rel=0.01)


@pytest.mark.parametrize("row", ROWS)
def test_ablation_macs_at_1024x2048_within_2pct(row):
    macs = macs_at_1024x2048(SAME_AS_ZOO.get(row, row))
    assert macs == pytest.approx(ABLATION_PUBLISHED[row]["gmacs"] * 1e9, rel=0.02)


def test_ablation_rows_are_transforms_of_fassd_net():
    base = archlab.get_spec("fassd_net")
    blocks = lambda s: sorted(n.block for n in s.nodes)  # noqa: E731
    for variant, spec in ((v, fassd_ablation(v)) for v in ABLATION):
        has_mda = variant.endswith("mda")
        context = {"baseline": None, "mda": None}.get(variant, variant.split("_")[0])
        assert len(spec.find(block="mda")) == (3 if has_mda else 0)
        assert ("context" in spec) == (context is not None)
        if context:
            assert spec.node("context").block == context
        # every other node is untouched (only its inputs may be rewired)
        for node in base.nodes:
            if node.block not in ("mda", "dapf"):
                assert (spec.node(node.id).block, spec.node(node.id).args) == (node.block, node.args)
        assert set(blocks(spec)) <= set(blocks(base)) | {"aspp"}
    assert fassd_ablation("dapf_mda").nodes == base.nodes


def test_light_variants_follow_the_authors_code():
    # FASSDNetL1.py: first conv stride 3 (stem at 1/6, DAPF at 1/48), decoder unchanged.
    # FASSDNetL2.py: second and third stem convs stride 2 (stem at 1/8, DAPF at 1/64), and every
    # decoder HarD block a 3x3 conv-BN-ReLU to 64 channels.
    base, l1, l2 = (archlab.get_spec(n) for n in ("fassd_net", "fassd_net_l1", "fassd_net_l2"))
    assert l1.node("stem").args["strides"] == [3, 1, 2, 1]
    assert l2.node("stem").args["strides"] == [2, 2, 2, 1]
    for spec, stem, bottom in ((base, 4, 32), (l1, 6, 48), (l2, 8, 64)):
        shapes = infer_shapes(spec)
        assert shapes["stem"].out_strides == (stem,)
        assert shapes["context"].out_strides == (bottom,)
    assert [n.block for n in l1.nodes] == [n.block for n in base.nodes]
    assert not l2.find(block="hard_block")
    decoder = [n for n in l2.nodes if n.id.startswith("dec")]
    assert len(decoder) == 3 and all(n.block == "conv_bn_act" and n.args == {"out_channels": 64, "kernel_size": 3}
                                     for n in decoder)


@pytest.mark.parametrize("name", ["fassd_net_l1", "fassd_net_l2"])
def test_light_variants_run_at_multiples_of_32(name):
    model = archlab.create_model(name).eval()
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 96, 160)).shape == (1, 19, 96, 160)
