"""Reading and writing the SSH wire encoding (RFC 4251, section 5)."""

from __future__ import annotations

import struct


class WireError(ValueError):
    """The bytes end early, or do not end where they should."""


def ssh_string(data: bytes) -> bytes:
    """Encode `data` as an SSH string: a big-endian uint32 length, then the bytes."""
    return struct.pack(">I", len(data)) + data


class WireReader:
    """Reads SSH wire values from a byte string, front to back, with bounds checks."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read_bytes(self, count: int) -> bytes:
        end = self._pos + count
        if count < 0 or end > len(self._data):
            raise WireError("data is truncated")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def read_uint32(self) -> int:
        return int.from_bytes(self.read_bytes(4), "big")

    def read_string(self) -> bytes:
        return self.read_bytes(self.read_uint32())

    def expect_end(self) -> None:
        if self._pos != len(self._data):
            raise WireError("unexpected trailing bytes")
