"""Worker processes that never outlive the process that started them.

A worker started by ``--workers K`` calls :func:`die_with_parent` first: on Linux the kernel
sends it SIGKILL the moment its parent dies (``prctl(PR_SET_PDEATHSIG)``), whatever killed the
parent (kill -9 included); elsewhere a daemon thread checks every second whether the parent is
gone and ends the process. A worker killed this way leaves its running trial to the heartbeat
mechanism, which fails and retries it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> str:
    """Arrange for this process to end when its parent does; return how (for logs and tests).

    ``parent_pid``: the pid the parent had when it started this worker (``os.getpid()`` in the
    parent); if the parent is already gone by the time this runs, the worker exits at once.
    """
    parent_pid = parent_pid or os.getppid()
    how = "watchdog thread"
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                how = "prctl(PR_SET_PDEATHSIG, SIGKILL)"
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    if how == "watchdog thread":
        def watch():
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os._exit(1)
        threading.Thread(target=watch, name="archlab-parent-watchdog", daemon=True).start()
    return how


def user_block_modules() -> list[tuple[str, str | None]]:
    """``(module name, file)`` of each module that registered blocks with ``archlab.register_block``
    in this process: a worker started with ``spawn`` imports none of them by itself, so it would not
    know those blocks. (archlab's own blocks and entry points load themselves; blocks registered
    by the main script are re-registered by ``spawn``, which imports it again.)"""
    from archlab.registry import list_blocks

    out = []
    for row in list_blocks():
        source = row["source"]
        if source == "archlab" or source.startswith("entry point") or source in ("__main__", "__mp_main__"):
            continue
        module = sys.modules.get(source)
        entry = (source, getattr(module, "__file__", None))
        if entry not in out:
            out.append(entry)
    return out


def import_block_modules(modules: list[tuple[str, str | None]]) -> None:
    """Import each module of :func:`user_block_modules` in this (worker) process: by name, or from
    its file when its folder is not importable here; each registers its blocks as it did in the parent."""
    import importlib
    import importlib.util

    for name, path in modules:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
            continue
        except ImportError:
            if not path:
                raise
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


def start_worker(parent_pid: int, slot=None, block_modules=(), threads: int | None = None) -> None:
    """What every spawned worker (a study's or a search's) does first: die with its parent, register
    the user's blocks the parent had, take its device slot (:func:`archlab.devices.claim_slot`) and
    set its torch thread count."""
    from archlab.devices import claim_slot

    die_with_parent(parent_pid)
    import_block_modules(list(block_modules))
    claim_slot(slot)
    if threads:
        import torch

        torch.set_num_threads(threads)
