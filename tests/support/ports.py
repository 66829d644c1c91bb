"""Ports for test listeners, taken below the kernel's ephemeral range.

A port the kernel hands out for binding to port 0 comes from the same range as the source ports of
outgoing connections, so between the probe and the server's bind a client socket could take it. Ports
below that range are only ever taken by listeners, and each is handed out once per test process."""

from __future__ import annotations

import random
import socket

_FIRST, _LAST = 20000, 32000
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
