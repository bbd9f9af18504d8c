"""archlab.profile(): one ProfileResult: the record, with units in its keys, and the per-node breakdown."""
import json

import pytest

import archlab
from archlab import SpecError
from archlab.profile import ProfileResult
from archlab.spec import Spec

SMALL = (1, 3, 64, 128)


def test_counts_only_record():
    result = archlab.profile("fassd_net", SMALL, latency=False, memory=False)
    assert isinstance(result, ProfileResult) and result.per_node is None  # no breakdown asked for
    record = result.record
    assert record["params"] == 2_845_351
    for key in ("macs_fvcore", "macs_thop", "macs_ptflops", "flops_torch", "macs_reconciled"):
        assert record[key] > 0
    assert record["macs_reconciled"] == record["flops_torch"] // 2 and record["macs_rule"] == "flops_torch/2"
    assert record["input_size"] == "1x3x64x128" and record["device"] == "cpu"
    assert "latency_ms_median" not in record
    assert Spec.from_json(record["spec_json"]).content_hash() == record["spec_hash"]
    json.dumps(record)  # plain data
    assert result.to_dict() == {"record": record, "per_node": None}


def test_breakdown_sums_exactly_and_shares_sum_to_one():
    result = archlab.profile("fast_scnn", SMALL, breakdown=True, warmup=1, runs=3, memory=False)
    record, table = result.record, result.per_node
    assert list(table.index) == [n.id for n in archlab.get_spec("fast_scnn").nodes]
    assert table["params"].sum() == record["params"]
    for key in ("macs_fvcore", "macs_thop", "macs_ptflops", "flops_torch", "macs_reconciled"):
        assert table[key].sum() == record[key], key
    assert table["latency_share"].sum() == pytest.approx(1.0)
    assert table.loc["ffm", "block"] == "feature_fusion"

    plain = json.loads(json.dumps(result.to_dict()))  # the table as plain rows, in execution order
    assert [row["node"] for row in plain["per_node"]] == list(table.index)
    assert plain["per_node"][0]["macs_fvcore"] == table.iloc[0]["macs_fvcore"]
    assert sum(row["params"] for row in plain["per_node"]) == record["params"]
    assert plain["record"]["latency_ms_median"] == record["latency_ms_median"]


def test_deploy_options_are_recorded():
    record = archlab.profile("fassd_net", SMALL, fuse_bn=True, channels_last=True, warmup=1, runs=3).record
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
    table = archlab.profile("fanet18", SMALL, breakdown=True, latency=False, memory=False).per_node
    note = table.loc["att1", "counters_note"]
    assert "thop" in note and "bmm" in note
    stem = table.loc["stem", "counters_note"]
    assert stem == "" or "batch_norm" in stem or "BatchNorm2d" in stem


def test_breakdown_without_counts_has_no_table():
    result = archlab.profile("small_rf_cnn", SMALL, breakdown=True, counts=False, latency=False, memory=False)
    assert result.per_node is None and "macs_fvcore" not in result.record
    assert result.record["model"] == "small_rf_cnn"
