"""Latency: warm-up, then repeated timed forwards under ``torch.inference_mode()``.

CPU runs are timed with ``time.perf_counter`` at a fixed, recorded thread count; CUDA runs with
``torch.cuda.Event`` pairs around each forward and a synchronisation before reading them, with
``torch.backends.cudnn.benchmark`` set as asked (and recorded). The statistics are the median and
the interquartile range (IQR, 75th − 25th percentile, numpy's linear interpolation) in ms; a run
whose IQR exceeds 10% of its median is flagged noisy and warned about with
:class:`NoisyLatencyWarning`. FPS is images per second: batch / median. CPU timings run with the steady allocator of
:mod:`archlab.profile.allocator` (no page faults in the timed forwards), recorded as ``cpu_allocator``.
"""
from __future__ import annotations

import math
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from archlab.profile.allocator import steady_cpu_allocator

NOISE_THRESHOLD = 0.10  # IQR / median above this is noisy


class NoisyLatencyWarning(UserWarning):
    """The timed runs vary too much (IQR / median > 10%) for the median to be trusted."""


def summarize(times_ms, batch: int = 1) -> dict:
    """Statistics of a list of per-forward times (ms): median, IQR, p10, p90, mean, FPS, noise flag.

    ``noisy`` is True when IQR / median > :data:`NOISE_THRESHOLD` (strictly greater).
    """
    t = np.asarray(list(times_ms), dtype=np.float64)
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"times_ms must be a non-empty list of finite, non-negative times, got {list(times_ms)!r}")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValueError(f"batch={batch!r} must be a positive integer")
    p10, q25, median, q75, p90 = (float(v) for v in np.percentile(t, [10, 25, 50, 75, 90]))
    iqr = q75 - q25
    relative = iqr / median if median > 0 else math.inf
    return {"median_ms": median, "iqr_ms": iqr, "p10_ms": p10, "p90_ms": p90, "mean_ms": float(t.mean()),
            "fps": batch * 1000.0 / median if median > 0 else math.inf, "iqr_relative": relative,
            "noisy": bool(relative > NOISE_THRESHOLD)}


@dataclass
class Latency:
    """One latency measurement: statistics, the settings it ran under, and the raw times."""

    median_ms: float
    iqr_ms: float
    p10_ms: float
    p90_ms: float
    mean_ms: float
    fps: float
    batch: int
    runs: int
    warmup: int
    threads: int
    device: str
    cudnn_benchmark: bool  # always False on CPU, where it does not apply
    allocator: str  # archlab.profile.allocator's description (CPU), or the CUDA caching allocator
    noisy: bool
    warning: str | None
    times_ms: list = field(default_factory=list, repr=False)

    def as_record(self) -> dict:
        """Record fields, units in the names (the raw times are left out)."""
        return {"latency_ms_median": self.median_ms, "latency_ms_iqr": self.iqr_ms,
                "latency_ms_p10": self.p10_ms, "latency_ms_p90": self.p90_ms, "latency_ms_mean": self.mean_ms,
                "fps": self.fps, "latency_runs": self.runs, "latency_warmup": self.warmup,
                "cpu_threads": self.threads, "cudnn_benchmark": self.cudnn_benchmark,
                "cpu_allocator": self.allocator, "latency_noisy": self.noisy, "latency_warning": self.warning}


def _check_count(value, name: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return value


@contextmanager
def cpu_threads(threads: int | None):
    """Run the block with ``torch.set_num_threads(threads)`` (None: leave as is); restore after."""
    before = torch.get_num_threads()
    if threads is not None:
        _check_count(threads, "threads", 1)
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


@contextmanager
def cudnn_benchmark_mode(enabled: bool):
    """Set ``torch.backends.cudnn.benchmark`` for the block; restore after."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = bool(enabled)
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


@contextmanager
def eval_mode(model: nn.Module):
    """The model in eval mode for the block; its training flag restored after."""
    was_training = model.training
    if was_training:
        model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()


def _timer(device: torch.device):
    """A function running ``fn`` once and returning its time in ms on ``device``."""
    if device.type == "cuda":
        def timed(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
    else:
        def timed(fn):
            start = time.perf_counter()
            fn()
            return (time.perf_counter() - start) * 1000.0
    return timed


def _input_device(model: nn.Module, x) -> torch.device:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor (the example input), got {type(x).__name__}")
    p = next(iter(model.parameters()), None)
    if p is not None and p.device != x.device and p.device.type != "meta":
        raise ValueError(f"the model is on {p.device} but the input on {x.device}; prepare both with "
                         f"archlab.profile.deploy.prepare")
    return x.device


def measure_latency(model: nn.Module, x: torch.Tensor, *, warmup: int = 10, runs: int = 30,
                    threads: int | None = None, min_time_s: float | None = None, cudnn_benchmark: bool = False,
                    max_runs: int = 10_000, progress=None) -> Latency:
    """Time ``model(x)``: ``warmup`` untimed forwards, then at least ``runs`` timed ones.

    ``threads``: CPU threads for the measurement (default: torch's current setting), restored
    after and recorded. ``min_time_s``: keep timing past ``runs`` until this much time is spent
    (at most ``max_runs``). ``cudnn_benchmark``: CUDA only, set for the measurement and restored.
    ``progress(done, runs)`` is called after each timed run. The batch is ``x.shape[0]``.
    Warns with :class:`NoisyLatencyWarning` and sets ``noisy`` when IQR / median > 10%.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    device = _input_device(model, x)
    _check_count(warmup, "warmup", 0)
    _check_count(runs, "runs", 1)
    if min_time_s is not None and not (isinstance(min_time_s, (int, float)) and min_time_s >= 0):
        raise ValueError(f"min_time_s={min_time_s!r} must be a non-negative number of seconds")
    if device.type != "cuda" and cudnn_benchmark:
        raise ValueError("cudnn_benchmark applies to CUDA inputs only; leave it off on CPU")
    batch = int(x.shape[0]) if x.ndim else 1
    timed = _timer(device)
    times: list[float] = []
    cuda = device.type == "cuda"
    allocator = "CUDA caching allocator" if cuda else steady_cpu_allocator()
    with cpu_threads(threads) as n_threads, \
            (torch.cuda.device(device) if cuda else nullcontext()), \
            (cudnn_benchmark_mode(cudnn_benchmark) if cuda else nullcontext()), \
            eval_mode(model), torch.inference_mode():
        for _ in range(warmup):
            model(x)
        if cuda:
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        while len(times) < runs or (min_time_s and time.perf_counter() - started < min_time_s
                                    and len(times) < max_runs):
            times.append(timed(lambda: model(x)))
            if progress is not None:
                progress(len(times), runs)
    stats = summarize(times, batch)
    message = None
    if stats["noisy"]:
        message = (f"latency is noisy: IQR {stats['iqr_ms']:.3g} ms is {stats['iqr_relative']:.0%} of the median "
                   f"{stats['median_ms']:.3g} ms (more than {NOISE_THRESHOLD:.0%}); close other programs, fix "
                   f"the thread count, or time more runs (runs, min_time_s)")
        warnings.warn(message, NoisyLatencyWarning, stacklevel=2)
    return Latency(median_ms=stats["median_ms"], iqr_ms=stats["iqr_ms"], p10_ms=stats["p10_ms"],
                   p90_ms=stats["p90_ms"], mean_ms=stats["mean_ms"], fps=stats["fps"], batch=batch,
                   runs=len(times), warmup=warmup, threads=n_threads, device=str(device),
                   cudnn_benchmark=bool(cudnn_benchmark), allocator=allocator,
                   noisy=stats["noisy"], warning=message, times_ms=times)


class NodeTimer:
    """Forward hooks timing each top-level node of a GraphModel: ``totals[node]`` seconds, summed
    over the forwards run while :attr:`active` is True.

    Pre/post forward hooks on each ``model.nodes[id]`` read ``time.perf_counter`` (after
    ``torch.cuda.synchronize`` on CUDA, which slows the forward: time the whole model without
    them). A ``torch.compile``d model is unwrapped, since hooks do not fire inside a compiled graph.
    Use as a context manager; the hooks are removed on exit. Hook overhead is a few microseconds
    per node.
    """

    def __init__(self, model: nn.Module, device: torch.device):
        model = getattr(model, "_orig_mod", model)
        nodes = getattr(model, "nodes", None)
        if not isinstance(nodes, nn.ModuleDict):
            raise ValueError(f"per-node timing needs a GraphModel (a model with a .nodes ModuleDict), got "
                             f"{type(model).__name__}")
        self.nodes = nodes
        self.order = list(getattr(model, "order", None) or nodes.keys())
        self.totals = dict.fromkeys(self.order, 0.0)
        self.active = False
        self._sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
        self._starts: dict[str, float] = {}
        self._handles = []

    def __enter__(self):
        for name in self.order:
            self._handles.append(self.nodes[name].register_forward_pre_hook(self._pre(name)))
            self._handles.append(self.nodes[name].register_forward_hook(self._post(name)))
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _pre(self, name):
        def hook(module, args):
            if self.active:
                self._sync()
                self._starts[name] = time.perf_counter()
        return hook

    def _post(self, name):
        def hook(module, args, output):
            if self.active:
                self._sync()
                self.totals[name] += time.perf_counter() - self._starts.pop(name)
        return hook

    def shares(self) -> dict[str, float]:
        """Each node's share of the summed node time (equal shares when nothing was timed)."""
        total = sum(self.totals.values())
        if total <= 0:
            return {name: 1.0 / len(self.order) for name in self.order}
        return {name: t / total for name, t in self.totals.items()}


def node_latency_shares(model: nn.Module, x: torch.Tensor, *, runs: int = 5, warmup: int = 2) -> dict[str, float]:
    """Each top-level node's share of the summed node time, from :class:`NodeTimer`'s hooks
    (shares sum to 1), summed over ``runs`` forwards after ``warmup`` untimed ones. Keys follow the
    model's execution order."""
    device = _input_device(model, x)
    _check_count(runs, "runs", 1)
    _check_count(warmup, "warmup", 0)
    if device.type != "cuda":
        steady_cpu_allocator()  # no page faults landing on whichever node allocates first
    with NodeTimer(model, device) as timer, eval_mode(model), torch.inference_mode():
        for _ in range(warmup):
            model(x)
        timer.active = True
        for _ in range(runs):
            model(x)
    return timer.shares()
