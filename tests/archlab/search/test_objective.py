import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from archlab.search.objective import Evaluator, Objectives, load_hook

sys.path.insert(0, str(Path(__file__).parent))
from search_fixtures import SLOW, TINY  # noqa: E402


def test_from_space_with_overrides():
    o = Objectives.from_space(TINY)
    assert (o.metric, o.accuracy, o.size, o.constraints) == ("macs", "proxy:params", (64, 128), {"params_M": 2.5})
    assert (o.metric_column, o.accuracy_column, o.needs_latency) == ("macs_fvcore", "proxy_params", False)
    m = Objectives.from_space(TINY, accuracy="miou", metric="latency", latency_budget=40)
    assert (m.accuracy_column, m.metric_column, m.constraints["latency_ms"]) == ("miou", "latency_ms_median", 40.0)
    assert Objectives.from_space(TINY, latency_budget=40).needs_latency       # a latency bound needs a timing
    assert o.key() != m.key() and o.key() == Objectives.from_space(TINY).key()
    json.dumps(o.settings())
    with pytest.raises(ValueError, match="valid: miou, proxy:synflow"):
        Objectives.from_space(TINY, accuracy="proxy:foo")
    with pytest.raises(ValueError, match="latency"):
        Objectives.from_space(TINY, metric="watts")
    with pytest.raises(ValueError, match="positive"):
        Objectives.from_space(TINY, latency_budget=-1)


def test_constraint_values_and_objective_values():
    o = Objectives.from_space(TINY, latency_budget=10)
    record = {"params": 3_000_000, "macs_fvcore": 1e8, "proxy_params": 3e6}
    values = o.constraint_values(record)
    assert values["params_M"] == pytest.approx(0.5) and values["latency_ms"] == math.inf   # not measured: violated
    assert o.values(record) == (1e8, 3e6)
    assert o.values({"macs_fvcore": 1.0, "proxy_params": float("nan")}) == (1.0, -math.inf)


def test_evaluate_records_figures_accuracy_constraints_and_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("SLOW_HOOK_DIR", str(tmp_path))
    evaluator = Evaluator(Objectives.from_space(SLOW), threads=1)
    spec = SLOW.spec({"context": "none", "fusion": "plain", "width": 0.5})
    record = evaluator.evaluate(spec)
    assert record["macs_fvcore"] > 0 and record["proxy_params"] == record["params"]
    assert record["constraint_values"]["params_M"] == pytest.approx(record["params"] / 1e6 - 2.5)
    assert record["feasible"] is (record["params"] <= 2.5e6)
    assert record["objective_values"] == [record["macs_fvcore"], record["proxy_params"]]
    assert record["settings"] == Objectives.from_space(SLOW).settings()
    assert record["hook_called"] is True and len(list(tmp_path.iterdir())) == 1       # the hook ran once
    assert "spec_json" not in record and "latency_ms_median" not in record           # MACs only: no timing
    json.dumps(record)


def test_hook_errors():
    with pytest.raises(ValueError, match="cannot import 'no_such_module'"):
        load_hook("no_such_module:f")
    with pytest.raises(ValueError, match="has no function 'nope'"):
        load_hook("search_fixtures:nope")
    with pytest.raises(ValueError, match="cannot import"):
        Evaluator(Objectives.from_space(replace(TINY, objective_hook="no_such_module:f")))


def test_miou_objective_with_seeds_is_the_mean_with_its_interval(tmp_path):
    from archlab.stats import t_interval

    tiny_train = {"size": (32, 64), "steps": 2, "batch": 2, "warmup_steps": 1, "eval_length": 2, "train_length": 4}
    objectives = replace(Objectives.from_space(TINY, accuracy="miou", seeds=3), train=tiny_train)
    assert objectives.seeds == 3 and objectives.key() != replace(objectives, seeds=1).key()
    evaluator = Evaluator(objectives, runs_dir=tmp_path, threads=1)
    spec = TINY.spec({"context": "none", "fusion": "plain", "width": 0.5})
    record = evaluator._train(spec)
    assert record["miou_seeds"] == 3 and len(record["miou_by_seed"]) == 3
    expected = t_interval(record["miou_by_seed"])
    assert record["miou"] == pytest.approx(expected.mean) and record["miou_ci_low"] == pytest.approx(expected.low)
    assert len(list(tmp_path.iterdir())) == 3        # one resumable run directory per seed
