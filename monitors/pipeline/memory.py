"""How the C allocator of a process that runs the pipeline hands memory back (glibc).

A cycle passes thousands of page bodies of 50-500 KB through several threads (fetching,
extraction calls, recording). By default glibc raises its mmap threshold to the largest
block freed so far (up to 32 MB) and gives each thread an arena of its own, so freed
page bodies stay in the arenas, fragmented, and the process's RSS grows with the pages
it has seen. `tune_allocator` fixes the threshold at 128 KiB (a page body is mapped and
unmapped, its memory back at once) and caps the arenas at two: -40 MB of peak RSS over a
100-feed first cycle (bench/RESULTS.md, "Cycle"). Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache

M_MMAP_THRESHOLD = -3  # mallopt parameters (glibc's malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024
ARENA_MAX = 2


@cache
def tune_allocator() -> bool:
    """Set the allocator's mmap threshold and arena cap once a process; whether it could."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_ARENA_MAX, ARENA_MAX))
