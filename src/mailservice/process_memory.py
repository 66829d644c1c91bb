"""Large buffers go back to the system when freed, so memory taken by big messages is given back.

glibc serves an allocation over its mmap threshold with its own mapping, unmapped on free, but raises
the threshold each time such a block is freed (up to 32 MiB). After a few large messages their buffers
then come from the heap, where freed memory stays with the process: a served process that took in
twenty 24 MB messages kept hundreds of MB. Fixing the threshold keeps every buffer over it mapped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1024 * 1024
TRIM_THRESHOLD_BYTES = 8 * 1024 * 1024


def give_large_buffers_back() -> None:
    """Fix glibc's mmap threshold at 1 MiB; elsewhere (musl, macOS) there is nothing to do.

    Fixing it also stops glibc from raising the trim threshold with it; left at 128 KiB, the top of the
    heap would be given back and faulted in again many times a second under load, so it is set above."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt"):
        return
    for parameter, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
    ):
        if libc.mallopt(parameter, value) != 1:
            log.warning("memory.mallopt_refused parameter=%s", parameter)
