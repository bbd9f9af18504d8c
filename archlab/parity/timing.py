"""Eager latency of two networks measured in one interleaved run, as paired ratios.

The timing is :func:`archlab.profile.interleaved.measure_interleaved`'s: each round times
``forwards`` forwards of one network, then of the other, the order changing from round to round
(each goes first in half the rounds), so drift in the machine's load lands on both; both run in
eval mode under ``torch.inference_mode()`` at one fixed, recorded thread count, with the steady
CPU allocator. A round's figure is the median of its forwards. Here each side's latency is the
median of its round figures, and the comparison is the median of the per-round ratios archlab /
reference (paired: both figures of a ratio come from the same moment) with their minimum, maximum
and interquartile range.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from archlab.profile.latency import NOISE_THRESHOLD, summarize


@dataclass
class PairedLatency:
    """Medians per side (ms), the paired ratio archlab / reference and its spread, and the settings."""

    a_ms: float
    b_ms: float
    a_iqr_ms: float
    b_iqr_ms: float
    ratio_median: float
    ratio_min: float
    ratio_max: float
    ratio_q25: float
    ratio_q75: float
    rounds: int
    forwards: int
    warmup: int
    threads: int
    device: str
    input_size: tuple
    a_rounds_ms: list = field(default_factory=list, repr=False)
    b_rounds_ms: list = field(default_factory=list, repr=False)
    ratios: list = field(default_factory=list, repr=False)
    orders: list = field(default_factory=list, repr=False)  # "ab" or "ba" per round
    allocator: str = ""

    @property
    def noisy(self) -> bool:
        """Ratio IQR above 10% of its median: the machine's load moved between rounds."""
        return (self.ratio_q75 - self.ratio_q25) > NOISE_THRESHOLD * self.ratio_median

    def describe(self, labels=("archlab", "reference")) -> str:
        size = "x".join(map(str, self.input_size))
        text = (f"{labels[0]} {self.a_ms:.2f} ms, {labels[1]} {self.b_ms:.2f} ms; {labels[0]} / {labels[1]} "
                f"{self.ratio_median:.3f} (paired rounds: min {self.ratio_min:.3f}, IQR {self.ratio_q25:.3f}-"
                f"{self.ratio_q75:.3f}, max {self.ratio_max:.3f}); {self.rounds} interleaved rounds of "
                f"{self.forwards} forwards each, {self.warmup} warm-up, {self.threads} thread"
                f"{'s' * (self.threads != 1)}, {self.device}, input {size}; allocator: {self.allocator}")
        return text + (" [noisy: ratio IQR > 10% of its median]" if self.noisy else "")

    def as_dict(self) -> dict:
        return {"archlab_ms_median": self.a_ms, "reference_ms_median": self.b_ms,
                "archlab_ms_iqr_rounds": self.a_iqr_ms, "reference_ms_iqr_rounds": self.b_iqr_ms,
                "ratio_median": self.ratio_median, "ratio_min": self.ratio_min, "ratio_max": self.ratio_max,
                "ratio_q25": self.ratio_q25, "ratio_q75": self.ratio_q75, "noisy": self.noisy,
                "rounds": self.rounds, "forwards_per_round": self.forwards, "warmup": self.warmup,
                "cpu_threads": self.threads, "device": self.device, "input_size": list(self.input_size),
                "cpu_allocator": self.allocator, "archlab_rounds_ms": self.a_rounds_ms,
                "reference_rounds_ms": self.b_rounds_ms, "ratios": self.ratios, "orders": self.orders}


def interleaved_latency(a: nn.Module, b: nn.Module, x: torch.Tensor, *, rounds: int = 10, forwards: int = 5,
                        warmup: int = 3, threads: int | None = None) -> PairedLatency:
    """Time ``a(x)`` and ``b(x)`` in interleaved rounds with
    :func:`archlab.profile.interleaved.measure_interleaved` and pair the rounds' figures."""
    from archlab.profile.interleaved import measure_interleaved

    run = measure_interleaved({"a": a, "b": b}, x, rounds=rounds, runs_per_round=forwards, warmup=warmup,
                              threads=threads)
    a_rounds, b_rounds = run.round_ms["a"], run.round_ms["b"]
    ratios = [ta / tb for ta, tb in zip(a_rounds, b_rounds)]
    sa, sb = summarize(a_rounds), summarize(b_rounds)
    q25, q50, q75 = (float(v) for v in np.percentile(ratios, [25, 50, 75]))
    return PairedLatency(sa["median_ms"], sb["median_ms"], sa["iqr_ms"], sb["iqr_ms"], q50, min(ratios), max(ratios),
                         q25, q75, rounds, forwards, warmup, run.threads, run.device, tuple(x.shape),
                         a_rounds, b_rounds, ratios, ["".join(o) for o in run.orders], run.allocator)
