"""The device's roofline: measured peak compute (GFLOP/s) and memory bandwidth (GB/s).

Peak compute is the best throughput of a large square matmul (n = 2048 on CPU, 4096 on CUDA;
smaller where the dtype is so slow that one product would take over a second): 2·n³ FLOPs per
product. Bandwidth is the best throughput of a large tensor copy (256 MiB):
bytes read plus bytes written per second. Both take the best of several timed repeats after a
warm-up, since a peak is what the device can reach. Measured once per process for each
(device, dtype, CPU thread count) and cached. GB and GFLOP are 10**9.

``achieved(flops, latency_ms, peaks)`` turns a model's FLOPs per timed forward into achieved
GFLOP/s and its fraction of the measured peak.
"""
from __future__ import annotations

import time

import torch

_CACHE: dict[tuple, dict] = {}
MEASUREMENTS = {"count": 0}  # how many times peaks were actually measured (for tests and logs)


def _sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _inner(device: torch.device) -> int:
    return 10 if device.type == "cuda" else 1


def _best_seconds(fn, device: torch.device, repeats: int, inner: int = 1) -> float:
    """Shortest wall time of one ``fn()``: best over ``repeats`` timed blocks of ``inner`` calls,
    after one warm-up call (synchronised on CUDA, where ``inner`` > 1 hides launch overhead)."""
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        _sync(device)
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def matmul_size(device: torch.device, dtype: torch.dtype, largest: int, budget_s: float = 1.0) -> int:
    """The matmul side to measure with: ``largest`` (a power of two), or a smaller power of two
    (at least 256) where one product would take more than ``budget_s``. Sides double from 256
    while the measured product, times 8, stays within budget (bf16 on a CPU without bf16 units
    runs at about 1 GFLOP/s, where a 2048 product would take a quarter of a minute)."""
    n = 256
    while n < largest:
        a = torch.randn(n, n, device=device, dtype=torch.float32).to(dtype)
        if _best_seconds(lambda: a @ a, device, 1) * 8 > budget_s:
            break
        n *= 2
    return min(n, largest)


def measure_matmul_gflops(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 3) -> float:
    """Best GFLOP/s of an n×n by n×n matmul (2·n³ FLOPs)."""
    a = torch.randn(n, n, device=device, dtype=torch.float32).to(dtype)
    b = torch.randn(n, n, device=device, dtype=torch.float32).to(dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    seconds = _best_seconds(lambda: torch.matmul(a, b, out=out), device, repeats, _inner(device))
    return 2.0 * n ** 3 / seconds / 1e9


def measure_copy_gbs(device: torch.device, dtype: torch.dtype, mib: int, repeats: int = 5) -> float:
    """Best GB/s of copying a ``mib``-MiB tensor into another (bytes read + bytes written)."""
    element = torch.empty((), dtype=dtype).element_size()
    numel = mib * 2 ** 20 // element
    src = torch.ones(numel, device=device, dtype=dtype)
    dst = torch.empty_like(src)
    seconds = _best_seconds(lambda: dst.copy_(src), device, repeats, _inner(device))
    return 2.0 * numel * element / seconds / 1e9


def _resolve(device) -> torch.device:
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a device; valid: 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r} but torch.cuda.is_available() is False; use 'cpu'")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    elif device.type != "cpu":
        raise ValueError(f"device={str(device)!r}: the roofline is measured on 'cpu' or 'cuda'")
    return device


def device_peaks(device="cpu", dtype: torch.dtype = torch.float32, threads: int | None = None) -> dict:
    """Measured peak GFLOP/s and bandwidth GB/s of ``device`` for ``dtype``, cached per process.

    ``threads``: CPU threads to measure with (default: torch's current setting; restored after);
    it is part of the cache key, so time the model and its roofline with the same count. Returns
    the cached dict itself on later calls (do not modify it): ``peak_gflops``, ``bandwidth_gbs``,
    ``peak_threads``, ``peak_dtype`` and ``peak_method``.
    """
    from archlab.profile.latency import cpu_threads

    device = _resolve(device)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype={dtype!r} must be a floating torch.dtype such as torch.float32")
    with cpu_threads(threads) as n_threads:
        key = (str(device), dtype, n_threads)
        if key not in _CACHE:
            n = matmul_size(device, dtype, 4096 if device.type == "cuda" else 2048)
            mib = 256
            gflops = measure_matmul_gflops(device, dtype, n)
            gbs = measure_copy_gbs(device, dtype, mib)
            MEASUREMENTS["count"] += 1
            dtype_name = str(dtype).replace("torch.", "")
            tf32 = (f", torch.backends.cuda.matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}"
                    if device.type == "cuda" and dtype == torch.float32 else "")
            _CACHE[key] = {
                "peak_gflops": gflops,
                "bandwidth_gbs": gbs,
                "peak_threads": n_threads,
                "peak_dtype": dtype_name,
                "peak_matmul_n": n,
                "peak_method": (f"best of 3 timed {n}x{n} {dtype_name} matmuls (2*n^3 FLOP each) and best of 5 "
                                f"copies of a {mib} MiB tensor (bytes read + written), after one warm-up each, "
                                f"on {device} with {n_threads} CPU thread(s){tf32}; GFLOP and GB are 1e9"),
            }
    return _CACHE[key]


def achieved(flops: int, latency_ms: float, peaks: dict) -> dict:
    """Achieved GFLOP/s of ``flops`` (for the whole timed forward, batch included) run in
    ``latency_ms``, and its fraction of ``peaks["peak_gflops"]``."""
    if not isinstance(flops, (int, float)) or isinstance(flops, bool) or flops < 0:
        raise ValueError(f"flops={flops!r} must be a non-negative number")
    if not isinstance(latency_ms, (int, float)) or isinstance(latency_ms, bool) or not latency_ms > 0:
        raise ValueError(f"latency_ms={latency_ms!r} must be a positive number of milliseconds")
    peak = peaks.get("peak_gflops") if hasattr(peaks, "get") else None
    if not isinstance(peak, (int, float)) or not peak > 0:
        raise ValueError(f"peaks must be device_peaks()'s dict with a positive 'peak_gflops', got {peaks!r}")
    gflops = flops / (latency_ms * 1e-3) / 1e9
    return {"achieved_gflops": gflops, "peak_fraction": gflops / peak}
