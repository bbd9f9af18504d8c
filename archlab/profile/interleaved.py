"""Latency of several models measured together, in interleaved rounds, with paired ratios.

Timing models one after another lets a busy or drifting machine decide their ratios: with
another process on the CPU, the same study gave FPS ratios to its baseline from 0.24 to 1.10.
Here every round times each model in turn (the order rotated and reversed from round to round,
so none is always first or last), and a ratio between two models is taken *within* each round,
where both saw the same machine, then summarised over rounds: the median of the per-round
ratios, with their 25th-75th percentile range. Each round's figure for a model is the median of
``runs_per_round`` forwards. Load that changes slower than a round cancels in the ratio; the
spread of the per-round ratios says how well it cancelled.

``measure_interleaved({"a": model_a, "b": model_b}, x)`` returns :class:`InterleavedLatency`;
``.ratio("a", "b")`` is a's latency over b's. The models run in eval mode under
``torch.inference_mode()`` at a fixed thread count, after ``warmup`` untimed forwards each, with
the steady CPU allocator of :mod:`archlab.profile.allocator`.
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from archlab.profile.allocator import steady_cpu_allocator
from archlab.profile.latency import NodeTimer, _check_count, _input_device, _timer, cpu_threads, \
    cudnn_benchmark_mode, eval_mode, summarize


@dataclass(frozen=True)
class Ratio:
    """A paired latency ratio summarised over rounds: median and 25th/75th percentiles."""

    median: float
    p25: float
    p75: float
    rounds: int

    @property
    def spread(self) -> float:
        """Interquartile range of the per-round ratios relative to their median."""
        return (self.p75 - self.p25) / self.median if self.median else float("inf")


@dataclass
class InterleavedLatency:
    """Per-round medians (ms) of each model, every timed forward, and the settings they ran under."""

    round_ms: dict[str, list[float]]
    times_ms: dict[str, list[float]]
    rounds: int
    runs_per_round: int
    warmup: int
    threads: int
    device: str
    allocator: str
    orders: list[list[str]] = field(default_factory=list, repr=False)
    node_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # per_node: mean ms per forward

    def stats(self, name: str) -> dict:
        """:func:`archlab.profile.latency.summarize` of every timed forward of ``name``."""
        return summarize(self.times_ms[name])

    def ratio(self, name: str, reference: str) -> Ratio:
        """``name``'s latency over ``reference``'s, per round, summarised (FPS ratio = 1 / this)."""
        per_round = np.asarray(self.round_ms[name]) / np.asarray(self.round_ms[reference])
        p25, median, p75 = (float(v) for v in np.percentile(per_round, [25, 50, 75]))
        return Ratio(median=median, p25=p25, p75=p75, rounds=len(per_round))

    def fps_ratio(self, name: str, reference: str) -> Ratio:
        """``name``'s FPS over ``reference``'s, per round (reference time / name time), summarised."""
        per_round = np.asarray(self.round_ms[reference]) / np.asarray(self.round_ms[name])
        p25, median, p75 = (float(v) for v in np.percentile(per_round, [25, 50, 75]))
        return Ratio(median=median, p25=p25, p75=p75, rounds=len(per_round))


def round_order(names: list[str], round_index: int) -> list[str]:
    """The order of round ``round_index``: rotated by one place every two rounds and reversed on
    odd rounds, so over rounds each model is first, last and in between."""
    k = (round_index // 2) % len(names)
    order = names[k:] + names[:k]
    return order[::-1] if round_index % 2 else order


def measure_interleaved(models: dict[str, nn.Module], x: torch.Tensor | dict[str, torch.Tensor], *,
                        rounds: int = 9, runs_per_round: int = 3, warmup: int = 2, threads: int | None = None,
                        cudnn_benchmark: bool = False, per_node: bool = False,
                        progress=None) -> InterleavedLatency:
    """Time every model of ``models`` on ``x`` (one tensor for all, or one per name) in
    ``rounds`` interleaved rounds of ``runs_per_round`` forwards each.

    ``per_node`` (GraphModels only): also each node's mean time per forward (``node_ms``), from
    :class:`~archlab.profile.latency.NodeTimer` hooks. On CPU the hooks time the same interleaved
    forwards (a few microseconds per node, no synchronisation); on CUDA, where the hooks must
    synchronise, one extra hooked round follows the timed ones. ``progress(done, total)`` is
    called after each model's turn in a round.
    """
    if not models:
        raise ValueError("models must name at least one model to time")
    names = list(models)
    inputs = x if isinstance(x, dict) else dict.fromkeys(names, x)
    missing = [n for n in names if n not in inputs]
    if missing:
        raise ValueError(f"no input for model(s) {missing}; give one tensor or one per model name")
    _check_count(rounds, "rounds", 1)
    _check_count(runs_per_round, "runs_per_round", 1)
    _check_count(warmup, "warmup", 0)
    devices = {n: _input_device(models[n], inputs[n]) for n in names}
    device = devices[names[0]]
    if any(d != device for d in devices.values()):
        raise ValueError(f"all models must run on one device to be compared, got {sorted(map(str, devices.values()))}")
    cuda = device.type == "cuda"
    allocator = "CUDA caching allocator" if cuda else steady_cpu_allocator()
    timed = _timer(device)
    round_ms = {n: [] for n in names}
    times_ms = {n: [] for n in names}
    orders = []
    with ExitStack() as stack:
        n_threads = stack.enter_context(cpu_threads(threads))
        if cuda:
            stack.enter_context(torch.cuda.device(device))
            stack.enter_context(cudnn_benchmark_mode(cudnn_benchmark))
        for n in names:
            stack.enter_context(eval_mode(models[n]))
        stack.enter_context(torch.inference_mode())
        timers = {n: stack.enter_context(NodeTimer(models[n], device)) for n in names} if per_node else {}
        for timer in timers.values():
            timer.active = not cuda
        for n in names:
            for _ in range(warmup):
                models[n](inputs[n])
        done, total = 0, rounds * len(names)
        for r in range(rounds):
            order = round_order(names, r)
            orders.append(order)
            for n in order:
                model, xin = models[n], inputs[n]
                times = [timed(lambda: model(xin)) for _ in range(runs_per_round)]
                times_ms[n] += times
                round_ms[n].append(float(np.median(times)))
                done += 1
                if progress is not None:
                    progress(done, total)
        hooked_forwards = rounds * runs_per_round
        if cuda and timers:
            hooked_forwards = runs_per_round
            for n in names:
                timers[n].active = True
                for _ in range(runs_per_round):
                    models[n](inputs[n])
        node_ms = {n: {node: 1000.0 * t / hooked_forwards for node, t in timer.totals.items()}
                   for n, timer in timers.items()}
    return InterleavedLatency(round_ms=round_ms, times_ms=times_ms, rounds=rounds, runs_per_round=runs_per_round,
                              warmup=warmup, threads=n_threads, device=str(device), allocator=allocator,
                              orders=orders, node_ms=node_ms)
