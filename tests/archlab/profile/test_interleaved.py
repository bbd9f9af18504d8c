"""Interleaved latency: round orders, paired ratios, per-node times (archlab/profile/interleaved.py)."""
import pytest
import torch

import archlab
from archlab.profile.interleaved import InterleavedLatency, measure_interleaved, round_order


def test_every_model_is_first_and_last_over_rounds():
    names = ["a", "b", "c"]
    orders = [round_order(names, r) for r in range(6)]
    assert all(sorted(o) == names for o in orders)
    assert {o[0] for o in orders} == set(names) and {o[-1] for o in orders} == set(names)
    assert [round_order(["a", "b"], r) for r in range(2)] == [["a", "b"], ["b", "a"]]


def test_ratios_are_taken_within_rounds():
    # b is always 2x a within a round, while the machine slows down 10x over the rounds.
    timed = InterleavedLatency(round_ms={"a": [1.0, 5.0, 10.0], "b": [2.0, 10.0, 20.0]}, times_ms={}, rounds=3,
                               runs_per_round=1, warmup=0, threads=1, device="cpu", allocator="x")
    ratio = timed.ratio("b", "a")
    assert ratio.median == ratio.p25 == ratio.p75 == 2.0 and ratio.spread == 0
    assert timed.fps_ratio("b", "a").median == 0.5


def test_measure_interleaved_times_every_model_and_node():
    a, b = archlab.create_model("small_rf_cnn"), archlab.create_model("color_mlp")
    timed = measure_interleaved({"a": a, "b": b}, torch.randn(1, 3, 32, 64), rounds=4, runs_per_round=2, warmup=1,
                                threads=1, per_node=True)
    assert [len(timed.round_ms[n]) for n in "ab"] == [4, 4] and [len(timed.times_ms[n]) for n in "ab"] == [8, 8]
    assert set(timed.node_ms["a"]) == set(a.nodes) and all(v > 0 for v in timed.node_ms["a"].values())
    assert timed.threads == 1 and timed.allocator


def test_bad_arguments_are_named():
    model = archlab.create_model("small_rf_cnn")
    with pytest.raises(ValueError, match="rounds=0"):
        measure_interleaved({"a": model}, torch.randn(1, 3, 32, 64), rounds=0)
    with pytest.raises(ValueError, match=r"no input for model\(s\) \['b'\]"):
        measure_interleaved({"a": model, "b": model}, {"a": torch.randn(1, 3, 32, 64)})
