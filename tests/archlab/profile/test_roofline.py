"""Roofline: measured once per process and cached; achieved GFLOP/s arithmetic."""
import math

import pytest
import torch

from archlab.profile import roofline
from archlab.profile.roofline import achieved, device_peaks, matmul_size


def test_peaks_are_positive_and_cached():
    first = device_peaks("cpu", torch.float32)
    measured = roofline.MEASUREMENTS["count"]
    again = device_peaks("cpu", torch.float32)
    assert again is first and roofline.MEASUREMENTS["count"] == measured  # no second measurement
    assert 0 < first["peak_gflops"] < math.inf and 0 < first["bandwidth_gbs"] < math.inf
    assert first["peak_threads"] == torch.get_num_threads() and first["peak_dtype"] == "float32"
    assert "matmul" in first["peak_method"] and "copies" in first["peak_method"]


def test_thread_count_is_part_of_the_cache_key(monkeypatch):
    monkeypatch.setattr(roofline, "_CACHE", {})
    monkeypatch.setattr(roofline, "measure_matmul_gflops", lambda device, dtype, n: 100.0)
    monkeypatch.setattr(roofline, "measure_copy_gbs", lambda device, dtype, mib: 10.0)
    monkeypatch.setattr(roofline, "matmul_size", lambda device, dtype, largest: largest)
    before = torch.get_num_threads()
    one = device_peaks("cpu", threads=1)
    assert one["peak_threads"] == 1 and torch.get_num_threads() == before  # restored
    assert device_peaks("cpu", threads=1) is one
    if before != 1:
        assert device_peaks("cpu") is not one
    assert one["peak_gflops"] == 100.0 and one["bandwidth_gbs"] == 10.0 and one["peak_matmul_n"] == 2048


def test_matmul_size_is_a_power_of_two_within_bounds():
    n = matmul_size(torch.device("cpu"), torch.float32, 512)
    assert n in (256, 512)


def test_achieved_arithmetic():
    peaks = {"peak_gflops": 100.0}
    result = achieved(2_000_000_000, 40.0, peaks)  # 2 GFLOP in 40 ms = 50 GFLOP/s
    assert result == {"achieved_gflops": pytest.approx(50.0), "peak_fraction": pytest.approx(0.5)}


@pytest.mark.parametrize("args, message", [
    ((1, 0.0, {"peak_gflops": 1.0}), "latency_ms"),
    ((-1, 1.0, {"peak_gflops": 1.0}), "flops"),
    ((1, 1.0, {}), "peak_gflops"),
])
def test_achieved_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        achieved(*args)


def test_bad_device_is_clear():
    with pytest.raises(ValueError, match="'cpu', 'cuda' or 'cuda:N'"):
        device_peaks("gpu0")
    with pytest.raises(ValueError, match="floating torch.dtype"):
        device_peaks("cpu", torch.int32)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch.cuda.is_available"):
            device_peaks("cuda")
