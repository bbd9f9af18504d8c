"""A steady CPU allocator for timing: no page faults in the timed forwards.

glibc's ``malloc`` serves large blocks (above its *mmap threshold*, 128 KiB at start and raised
dynamically up to 32 MiB as blocks are freed) with fresh ``mmap`` pages and returns them to the
system on ``free``; heap memory above the *trim threshold* is returned too. A network at
1024x2048 allocates and frees feature maps of tens to hundreds of MiB every forward, so each
forward page-faults fresh zeroed memory, and how much depends on the allocation history: the
same FASSD-Net stem took 3,400 minor page faults per forward in one ablation variant and 9,900 in
another (512x1024, counted with ``getrusage``), which showed up as the identical node taking 190 ms
in one variant and 95 ms in the other. A deployed network runs in a long-lived process with a
warm allocator (jemalloc, tcmalloc, or glibc past its warm-up): that steady state is what archlab
times.

:func:`steady_cpu_allocator` fixes both thresholds at 1 GiB with ``mallopt`` (which also turns
off the dynamic threshold), so freed feature maps stay in the heap and are reused without faults.
It is process-wide and stays set (memory freed after a forward is kept for the next one, as a
caching allocator does); calling it again does nothing. Where the C library is not glibc, nothing
is changed and the description says so. The description is recorded with every latency.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform

_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 1 << 30

_state: dict[str, str] = {}


def steady_cpu_allocator() -> str:
    """Keep freed CPU memory for reuse (glibc: mmap and trim thresholds fixed at 1 GiB); return a
    one-line description of the allocator state for the record."""
    if "description" in _state:
        return _state["description"]
    libc_name, _version = platform.libc_ver()
    description = f"platform default allocator ({libc_name or 'unknown C library'}; not changed)"
    if libc_name == "glibc":
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            ok = (libc.mallopt(_M_MMAP_THRESHOLD, THRESHOLD_BYTES) == 1
                  and libc.mallopt(_M_TRIM_THRESHOLD, THRESHOLD_BYTES) == 1)
        except (OSError, AttributeError):
            ok = False
        if ok:
            description = "glibc malloc, mmap and trim thresholds fixed at 1 GiB (freed memory reused, no page faults)"
        else:
            description = "glibc malloc with its default thresholds (mallopt refused; page faults possible)"
    _state["description"] = description
    return description
