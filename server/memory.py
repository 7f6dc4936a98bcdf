"""Keep glibc from mapping and unmapping every large buffer (a server process's tuning).

By default glibc's ``malloc`` serves each allocation above 128 KiB with its own
``mmap`` and returns it with ``munmap`` when freed. An upload passes through many
such buffers — each 512 KiB CT slice is received, joined, hashed, encrypted and
written — so every one costs a fresh mapping and a page fault per 4 KiB touched:
copying a 512 KiB buffer took 0.25 ms that way against 0.015 ms from the heap
(``benchmarks/ingest.py`` shows the effect on a whole upload). Raising the mmap
threshold serves them from the heap, and the trim threshold keeps a freed heap top
for reuse, bounded so that the server's memory still falls back after a burst.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_malloc"]

log = logging.getLogger(__name__)

#: Allocations below this come from the heap (glibc's own ceiling is 32 MiB on 64-bit).
MMAP_THRESHOLD = 8 * 1024 * 1024
#: Free memory kept at the top of a heap before it is returned to the system.
TRIM_THRESHOLD = 64 * 1024 * 1024
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_malloc() -> bool:
    """Apply the thresholds if this process runs on glibc; whether they were applied."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    applied = bool(
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    if not applied:
        log.warning("mallopt refused the thresholds; large buffers stay mmapped")
    return applied
