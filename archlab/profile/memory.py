"""Peak memory of one forward pass, measured, with the method named in the result.

CUDA: the caching allocator's own peak (``torch.cuda.max_memory_allocated``) over one forward,
minus what was allocated before it (parameters, buffers, the input), so the figure is the
forward's working memory: activations, workspaces and the output.

CPU: PyTorch's profiler with ``profile_memory=True`` records every allocation and free made
through c10's CPU allocator (the one every CPU tensor and most operator workspaces use) as a
``[memory]`` event with a signed byte count. Sorted by time, their running sum is the memory the
forward holds at each moment above what existed before it; its maximum is the peak. Memory that
bypasses c10's allocator (some oneDNN scratchpads, the Python heap) is not seen.

On CUDA one untimed forward runs first, so one-off allocations (cuDNN workspaces chosen on the
first call) are not counted; on CPU only the graph's per-size check runs first (it computes on
``meta`` tensors and allocates nothing), which saves a full forward. Sizes are MiB (2**20 bytes).
"""
from __future__ import annotations

import contextlib
import os
import sys

import torch
from torch import nn

MIB = float(2 ** 20)


def _forward(model: nn.Module, x: torch.Tensor):
    with torch.inference_mode():
        return model(x)


def cuda_peak_memory(model: nn.Module, x: torch.Tensor) -> tuple[float, str]:
    """Allocator peak during one forward on CUDA, above the memory allocated before it (MiB)."""
    device = x.device
    _forward(model, x)
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    out = _forward(model, x)
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - before
    del out
    method = ("cuda allocator: torch.cuda.max_memory_allocated over one forward minus memory_allocated before it "
              "(parameters, buffers and input excluded; activations, workspaces and output included), MiB")
    return peak / MIB, method


def _memory_events(prof) -> list[tuple[int, int]]:
    """(time ns, signed bytes) of every CPU allocator event the profiler recorded, in time order."""
    results = getattr(prof.profiler, "kineto_results", None)
    if results is None:
        raise RuntimeError("torch.profiler returned no kineto results; CPU memory profiling is unavailable")
    cpu = torch.autograd.DeviceType.CPU
    events = [(e.start_ns(), e.nbytes()) for e in results.events()
              if e.name() == "[memory]" and e.device_type() == cpu]
    events.sort(key=lambda item: item[0])
    return events


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the profiler library's start/stop lines, which it writes straight to file descriptor 2."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # captured stderr without a descriptor
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def peak_of_running_sum(deltas) -> int:
    """The largest running sum of signed byte deltas (0 if it never rises above the start)."""
    running = peak = 0
    for delta in deltas:
        running += delta
        peak = max(peak, running)
    return peak


def cpu_peak_memory(model: nn.Module, x: torch.Tensor) -> tuple[float, str]:
    """Peak of the running sum of c10 CPU allocator events during one forward (MiB)."""
    from torch.profiler import ProfilerActivity, profile

    if hasattr(model, "check_input"):  # archlab's GraphModel: its once-per-size check is not the forward's
        model.check_input(x)
    try:
        with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            out = _forward(model, x)
            del out
    except RuntimeError as exc:
        raise RuntimeError(f"CPU peak memory needs torch.profiler, which failed ({exc}); is another "
                           f"profiler already running?") from exc
    events = _memory_events(prof)
    if not events:
        raise RuntimeError("torch.profiler recorded no CPU memory events during the forward; cannot measure "
                           "the CPU peak (run with memory=False to skip it)")
    peak = peak_of_running_sum(delta for _, delta in events)
    method = ("cpu allocator events: torch.profiler(profile_memory=True) over one forward, peak of the running sum "
              "of c10 CPU allocations and frees (memory held before the forward excluded; allocations outside "
              "c10's allocator not seen), MiB")
    return peak / MIB, method


def peak_memory(model: nn.Module, x: torch.Tensor) -> tuple[float, str]:
    """Peak memory (MiB) of one forward of ``model(x)`` and a sentence naming how it was measured."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.device.type == "cuda":
        return cuda_peak_memory(model, x)
    if x.device.type == "cpu":
        return cpu_peak_memory(model, x)
    raise ValueError(f"peak memory is measured on 'cpu' or 'cuda' tensors, got device {x.device}")
