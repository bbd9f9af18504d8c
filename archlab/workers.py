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
