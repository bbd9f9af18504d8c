"""FASSD-Net and FC-HarDNet-70 against the paper's Table I and the authors' code."""
import pytest

import archlab
from archlab.profile.counters import count_params, fvcore_macs
from archlab.zoo.fassd import ABLATION, ABLATION_PUBLISHED, fassd_ablation

ROWS = ["fc_hardnet70"] + list(ABLATION)


def row_spec(row):
    return archlab.get_spec(row) if row == "fc_hardnet70" else fassd_ablation(row)


def test_headline_parameter_counts():
    assert count_params(archlab.create_model("fassd_net")) == pytest.approx(2.845e6, rel=0.01)
    assert count_params(archlab.create_model("fc_hardnet70")) == pytest.approx(4.119e6, rel=0.01)
    # L1 changes only a stride: same parameters as FASSD-Net
    assert count_params(archlab.create_model("fassd_net_l1")) == count_params(archlab.create_model("fassd_net"))


@pytest.mark.parametrize("row", ROWS)
def test_ablation_params_within_1pct(row):
    params = count_params(archlab.build(row_spec(row)))
    assert params == pytest.approx(ABLATION_PUBLISHED[row]["params_M"] * 1e6, rel=0.01)


@pytest.mark.parametrize("row", ROWS)
def test_ablation_macs_at_1024x2048_within_2pct(row):
    macs = fvcore_macs(archlab.build(row_spec(row)), (1, 3, 1024, 2048))
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

def test_variants_l1_l2_structure():
    l1, l2 = archlab.get_spec("fassd_net_l1"), archlab.get_spec("fassd_net_l2")
    assert l1.node("stem").args["strides"] == [3, 1, 2, 1]
    assert l2.node("stem").args["strides"] == [3, 2, 2, 1]
    assert not l2.find(block="hard_block")
    assert all(n.args["out_channels"] == 64 for n in l2.nodes if n.id.startswith("dec"))
    model = archlab.build(l1)
    import torch
    assert model(torch.randn(1, 3, 96, 160)).shape == (1, 19, 96, 160)
