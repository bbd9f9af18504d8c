"""archlab.profile(): one record with units in its keys, and the per-node breakdown."""
import json

import pytest

import archlab
from archlab import SpecError
from archlab.spec import Spec

SMALL = (1, 3, 64, 128)


def test_counts_only_record():
    record = archlab.profile("fassd_net", SMALL, latency=False, memory=False)
    assert record["params"] == 2_845_351
    for key in ("macs_fvcore", "macs_thop", "macs_ptflops", "flops_torch", "macs_reconciled"):
        assert record[key] > 0
    assert record["input_size"] == "1x3x64x128" and record["device"] == "cpu"
    assert "latency_ms_median" not in record
    assert Spec.from_json(record["spec_json"]).content_hash() == record["spec_hash"]
    json.dumps(record)  # plain data


def test_breakdown_sums_exactly_and_shares_sum_to_one():
    record, table = archlab.profile("fast_scnn", SMALL, breakdown=True, warmup=1, runs=3, memory=False)
    assert list(table.index) == [n.id for n in archlab.get_spec("fast_scnn").nodes]
    assert table["params"].sum() == record["params"]
    for key in ("macs_fvcore", "macs_thop", "macs_ptflops", "flops_torch", "macs_reconciled"):
        assert table[key].sum() == record[key], key
    assert table["latency_share"].sum() == pytest.approx(1.0)
    assert table.loc["ffm", "block"] == "feature_fusion"


def test_deploy_options_are_recorded():
    record = archlab.profile("fassd_net", SMALL, fuse_bn=True, channels_last=True, warmup=1, runs=3)
    assert record["fuse_bn"] is True and record["channels_last"] is True
    assert record["bn_folded"] > 0
    assert record["latency_ms_median"] > 0 and record["fps"] > 0
    assert record["peak_mem_mb"] > 0 and record["peak_mem_method"]
    assert record["cpu_threads"] >= 1
    assert 0 < record["peak_fraction"]


def test_bad_inputs_are_clear_errors():
    with pytest.raises(SpecError, match="multiples of 32"):
        archlab.profile("fassd_net", (1, 3, 100, 100), latency=False, memory=False)
    with pytest.raises(SpecError, match="takes a zoo model name, an archlab.Spec or an nn.Module"):
        archlab.profile(42, SMALL)
    with pytest.raises(SpecError, match="unknown model"):
        archlab.profile("no_such_net", SMALL)
    with pytest.raises(ValueError, match="fp16"):
        archlab.profile("fast_scnn", SMALL, dtype="fp16", counts=False, memory=False)


def test_breakdown_names_the_operators_where_counters_disagree():
    _, table = archlab.profile("fanet18", SMALL, breakdown=True, latency=False, memory=False)
    note = table.loc["att1", "counters_note"]
    assert "thop" in note and "bmm" in note
    stem = table.loc["stem", "counters_note"]
    assert stem == "" or "batch_norm" in stem or "BatchNorm2d" in stem
