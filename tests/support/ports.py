"""Ports for test listeners, taken below the kernel's ephemeral range.

A port the kernel hands out for binding to port 0 comes from the same range as the source ports of
outgoing connections, so between the probe and the server's bind a client socket could take it. Ports
below that range are only ever taken by listeners, and each is handed out once per test process. When
the tests run in several processes (pytest-xdist), each takes its own share of the range, so two never
hand out the same port."""

from __future__ import annotations

import os
import random
import socket

_RANGE = (20000, 32000)


def _share_of_range(first: int, last: int) -> tuple[int, int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under xdist
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or workers <= 1:
        return first, last
    size = (last - first) // workers
    start = first + int(worker[2:]) * size
    return start, start + size


_FIRST, _LAST = _share_of_range(*_RANGE)
_handed_out: set[int] = set()


def free_port() -> int:
    while True:
        port = random.randrange(_FIRST, _LAST)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
