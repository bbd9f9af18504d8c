"""One device per worker: ``--devices cuda:0,cuda:1`` or ``--devices cpu:0,cpu:1``.

A worker process of a study or a search runs every job it claims on exactly one device, its
*slot*. Worker ``i`` takes slot ``i mod len(devices)``. A slot is applied once, when the worker
starts (:func:`claim_slot`):

* ``cuda:N``: ``torch.cuda.set_device(N)``; jobs then run on ``"cuda"``, the worker's current
  device. Cache keys (which include the device) therefore say ``cuda`` whichever GPU a job ran
  on, so a job retried on another GPU of the same kind reuses a checkpoint and a rerun reuses results.
* ``cpu:N``: the machine's cores are split into ``len(devices)`` equal, disjoint sets and the
  worker is pinned to set ``N`` (``os.sched_setaffinity``) with one torch thread per core of it.
  Jobs run on ``"cpu"``. On a 16-core machine ``--devices cpu:0,cpu:1,cpu:2,cpu:3`` gives four
  workers four cores each, none competing with another for a core.
* ``cpu``, ``cuda``: no pinning.

All slots must be of one kind (all ``cpu...`` or all ``cuda...``): the device kind is part of
every training's cache key, and a study must not mix results of two kinds.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from archlab.errors import ArchlabError

_SLOT = re.compile(r"(cpu|cuda)(?::(\d+))?")


class DeviceError(ArchlabError):
    """A ``--devices`` list that cannot be used here; the message names the entry and what is valid."""


@dataclass(frozen=True)
class Slot:
    """What a worker runs on: ``name`` as given (``cuda:1``), the ``kind`` jobs are keyed and run
    under (``cuda``), the core set it is pinned to (cpu slots) and its torch thread count (None: torch's)."""

    name: str
    kind: str
    cores: tuple[int, ...] = ()
    threads: int | None = None


def parse_devices(text: str | list[str] | None, option: str = "--devices") -> list[str]:
    """``"cuda:0,cuda:1"`` -> ``["cuda:0", "cuda:1"]``, checked: known kinds, one kind, indices that
    exist on this machine. ``None`` or empty -> ``[]`` (no slots: every worker on ``--device``)."""
    if text is None:
        return []
    parts = [p.strip().lower() for p in (text.split(",") if isinstance(text, str) else text) if str(p).strip()]
    kinds = set()
    for part in parts:
        match = _SLOT.fullmatch(part)
        if not match:
            raise DeviceError(f"{option}: {part!r} is not a device; valid entries are cpu, cpu:N (a share of the "
                              f"cores), cuda and cuda:N, separated by commas")
        kinds.add(match[1])
    if len(kinds) > 1:
        raise DeviceError(f"{option} {','.join(parts)}: mixes cpu and cuda; give devices of one kind (results of "
                          f"the two kinds are cached and compared separately)")
    for part in parts:
        kind, index = _SLOT.fullmatch(part).groups()
        if index is None:
            continue
        if kind == "cuda":
            import torch

            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if int(index) >= count:
                have = f"CUDA devices 0..{count - 1}" if count else "no CUDA device"
                raise DeviceError(f"{option}: {part!r} does not exist; this machine has {have}")
        else:
            slots = sum(1 for p in parts if p.startswith("cpu:"))
            if int(index) >= slots:
                raise DeviceError(f"{option}: {part!r}: cpu slots are numbered 0..{slots - 1} (the cores are split "
                                  f"into as many shares as there are cpu:N entries)")
    return parts


def slot_for(devices: list[str], worker: int) -> Slot | None:
    """The slot of worker ``worker`` (round robin over ``devices``); None without ``--devices``."""
    if not devices:
        return None
    name = devices[worker % len(devices)]
    kind, index = _SLOT.fullmatch(name).groups()
    if kind == "cpu" and index is not None:
        cores = available_cores()
        shares = sum(1 for d in devices if d.startswith("cpu:"))
        if shares > len(cores):
            raise DeviceError(f"--devices: {shares} cpu slots but this process may use only {len(cores)} cores")
        per = len(cores) // shares
        mine = tuple(cores[int(index) * per:(int(index) + 1) * per])
        return Slot(name, "cpu", mine, len(mine))
    return Slot(name, kind)


def available_cores() -> list[int]:
    """The CPU cores this process may run on (its affinity, where the system has one)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def worker_threads(threads: int | None, workers: int, slot: Slot | None = None) -> int | None:
    """The torch threads of each of ``workers`` workers: ``threads`` (``--threads``), else one per core
    of the worker's cpu slot, else the cores shared among several workers; None (torch's default)
    for a single worker without a slot."""
    if threads:
        return int(threads)
    if slot is not None and slot.threads:
        return slot.threads
    return max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None


def claim_slot(slot: Slot | None) -> str | None:
    """Make ``slot`` this process's device (see the module docs); returns the device kind jobs run on
    (None without a slot)."""
    if slot is None:
        return None
    import torch

    if slot.kind == "cuda" and ":" in slot.name:
        torch.cuda.set_device(int(slot.name.split(":")[1]))
    if slot.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(slot.cores))
    if slot.threads:
        torch.set_num_threads(slot.threads)
    return slot.kind
