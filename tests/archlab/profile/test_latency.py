"""Latency: statistics and the noise flag (pure), measurement plumbing, per-node shares."""
import math
import random
import time
import warnings

import pytest
import torch
from torch import nn

import archlab
from archlab.profile.latency import (NOISE_THRESHOLD, Latency, NoisyLatencyWarning, measure_latency,
                                     node_latency_shares, summarize)


class Sleeper(nn.Module):
    """A module whose forward sleeps: a fixed time, or a random one in [0, jitter_ms]."""

    def __init__(self, fixed_ms: float = 0.0, jitter_ms: float = 0.0, seed: int = 0):
        super().__init__()
        self.fixed_ms, self.jitter_ms, self.rng = fixed_ms, jitter_ms, random.Random(seed)

    def forward(self, x):
        time.sleep((self.fixed_ms + self.rng.uniform(0, self.jitter_ms)) / 1000)
        return x


def test_summarize_median_iqr_fps():
    stats = summarize([10.0, 12.0, 11.0, 13.0, 14.0], batch=4)
    assert stats["median_ms"] == 12.0
    assert stats["iqr_ms"] == pytest.approx(2.0)  # 13 - 11 (numpy's linear percentiles)
    assert stats["fps"] == pytest.approx(4 * 1000 / 12)
    assert stats["mean_ms"] == 12.0


def test_noise_threshold_is_ten_percent_of_the_median():
    # five values: the quartiles are exactly the 2nd and 4th
    quiet = summarize([90.0, 95.5, 100.0, 104.5, 110.0])  # IQR 9 = 9% of the median
    noisy = summarize([90.0, 94.5, 100.0, 105.5, 110.0])  # IQR 11 = 11%
    assert quiet["iqr_relative"] == pytest.approx(0.09) and not quiet["noisy"]
    assert noisy["iqr_relative"] == pytest.approx(0.11) and noisy["noisy"]
    assert NOISE_THRESHOLD == 0.10


@pytest.mark.parametrize("times, batch", [([], 1), ([1.0, math.nan], 1), ([1.0], 0)])
def test_summarize_rejects_bad_input(times, batch):
    with pytest.raises(ValueError):
        summarize(times, batch)


def test_erratic_module_is_flagged_noisy():
    erratic = Sleeper(jitter_ms=20.0)  # uniform 0-20 ms: IQR/median ~ 100%
    with pytest.warns(NoisyLatencyWarning, match="latency is noisy"):
        lat = measure_latency(erratic, torch.zeros(1), warmup=1, runs=12)
    assert lat.noisy and lat.warning and "IQR" in lat.warning
    assert lat.as_record()["latency_noisy"] is True


def test_measurement_records_its_settings():
    calls = []
    threads_before = torch.get_num_threads()
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)).train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoisyLatencyWarning)  # a loaded machine may be noisy: not this test's point
        lat = measure_latency(model, torch.randn(2, 3, 16, 16), warmup=2, runs=5, threads=1,
                              progress=lambda done, total: calls.append((done, total)))
    assert isinstance(lat, Latency)
    assert lat.runs == 5 == len(lat.times_ms) and lat.warmup == 2 and lat.batch == 2
    assert lat.threads == 1 and torch.get_num_threads() == threads_before  # restored
    assert model.training  # restored
    assert calls == [(i, 5) for i in range(1, 6)]
    assert 0 < lat.median_ms < math.inf and lat.iqr_ms >= 0 and lat.fps == pytest.approx(2000 / lat.median_ms)
    record = lat.as_record()
    for key in ("latency_ms_median", "latency_ms_iqr", "fps", "latency_runs", "latency_warmup", "cpu_threads",
                "cudnn_benchmark", "latency_noisy"):
        assert key in record
    assert record["cudnn_benchmark"] is False and record["cpu_threads"] == 1


def test_min_time_keeps_timing_past_runs():
    lat = measure_latency(Sleeper(fixed_ms=2.0), torch.zeros(1), warmup=0, runs=2, min_time_s=0.05)
    assert lat.runs > 2


@pytest.mark.parametrize("kwargs, message", [
    ({"runs": 0}, "runs=0"), ({"warmup": -1}, "warmup=-1"), ({"threads": 0}, "threads=0"),
    ({"cudnn_benchmark": True}, "CUDA inputs only"),
])
def test_bad_arguments_are_clear(kwargs, message):
    with pytest.raises(ValueError, match=message):
        measure_latency(nn.Identity(), torch.zeros(1), **kwargs)


def test_node_latency_shares_sum_to_one_per_node():
    model = archlab.create_model("fast_scnn").eval()
    shares = node_latency_shares(model, torch.randn(1, 3, 64, 128), runs=2, warmup=1)
    assert list(shares) == model.order
    assert sum(shares.values()) == pytest.approx(1.0)
    assert all(0 <= s <= 1 for s in shares.values())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())  # hooks removed


def test_node_latency_shares_needs_a_graph_model():
    with pytest.raises(ValueError, match="needs a GraphModel"):
        node_latency_shares(nn.Conv2d(3, 3, 1), torch.zeros(1, 3, 4, 4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_latency_uses_events_and_records_cudnn_benchmark():
    before = torch.backends.cudnn.benchmark
    model = nn.Conv2d(3, 8, 3).cuda()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoisyLatencyWarning)
        lat = measure_latency(model, torch.randn(1, 3, 64, 64, device="cuda"), warmup=2, runs=5,
                              cudnn_benchmark=not before)
    assert lat.cudnn_benchmark is (not before) and torch.backends.cudnn.benchmark is before
    assert lat.device.startswith("cuda") and lat.median_ms > 0
