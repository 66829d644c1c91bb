"""Large buffers go back to the system when freed, so memory taken by big messages is given back.

glibc serves an allocation over its mmap threshold with its own mapping, unmapped on free, but raises
the threshold each time such a block is freed (up to 32 MiB). After a few large messages their buffers
then come from the heap, where freed memory stays with the process: a served process that took in
twenty 24 MB messages kept hundreds of MB. Fixing the threshold keeps every buffer over it mapped.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1024 * 1024
TRIM_THRESHOLD_BYTES = 8 * 1024 * 1024


TRIM_CHECK_SECONDS = 5.0
CLOSED_CONNECTIONS_BEFORE_TRIM = 100


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return None if name is None else ctypes.CDLL(name)


async def give_memory_back_after_bursts(open_connections: Callable[[], int]) -> None:
    """After a burst of mail connections has closed (an attack held off, say), hand the heap pages they
    freed back to the system. Small blocks freed in the middle of the heap are otherwise kept for good:
    a served process that held a thousand hostile connections stayed 50 MB larger after they closed."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return
    peak = open_connections()
    while True:
        await asyncio.sleep(TRIM_CHECK_SECONDS)
        now = open_connections()
        if peak - now >= CLOSED_CONNECTIONS_BEFORE_TRIM:
            libc.malloc_trim(0)
            peak = now
        peak = max(peak, now)


def give_large_buffers_back() -> None:
    """Fix glibc's mmap threshold at 1 MiB; elsewhere (musl, macOS) there is nothing to do.

    Fixing it also stops glibc from raising the trim threshold with it; left at 128 KiB, the top of the
    heap would be given back and faulted in again many times a second under load, so it is set above."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return
    for parameter, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
    ):
        if libc.mallopt(parameter, value) != 1:
            log.warning("memory.mallopt_refused parameter=%s", parameter)


def exempt_startup_objects_from_collection() -> None:
    """Move every object alive once the process is serving (imported modules, classes, the routes and
    services built at start, about 170,000 objects) out of reach of the cyclic garbage collector.

    They live as long as the process, yet each full collection walked them all again; with thousands of
    IMAP IDLE connections open a full collection already walks their objects too, and every one it makes
    pauses the event loop, so a delivery's `EXISTS` waits for it."""
    gc.collect()
    gc.freeze()
