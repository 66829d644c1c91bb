"""Messages in flight past a size threshold wait in an unnamed temporary file instead of memory.

A connection holds at most `threshold_bytes` of its message in memory, charged to its share of the
process memory budget; past that, or when the budget is spent, the message goes on to a temporary file.
Files are bounded by their own budget of bytes on disk. A spooled message is read back into memory
only to be stored, and only `large_messages` of them at a time, because storing one costs about 2.5
times its size.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mailservice.protocols.connection_policy import MemoryBudget


@dataclass
class Spool:
    directory: Path
    threshold_bytes: int
    disk: MemoryBudget  # a byte budget like the memory one, for the bytes in spool files
    large_messages: asyncio.Semaphore

    def open(self) -> SpoolFile:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Unnamed (O_TMPFILE where the system has it): nothing is left behind by a crash or kill -9.
        return SpoolFile(tempfile.TemporaryFile(dir=self.directory), self.disk)


class SpoolFile:
    """One message's spooled bytes, charged to the disk budget until closed."""

    def __init__(self, file: BinaryIO, disk: MemoryBudget) -> None:
        self._file = file
        self._disk = disk
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> bool:
        """Append `data`; False (nothing written) when the disk budget is spent."""
        if not self._disk.try_take(len(data)):
            return False
        try:
            self._file.write(data)
        except OSError:
            self._disk.give_back(len(data))
            raise
        self.size += len(data)
        return True

    async def read_all(self) -> bytearray:
        """The whole file in one buffer, read outside the event loop."""
        content = bytearray(self.size)
        await asyncio.to_thread(self._read_into, content)
        return content

    def _read_into(self, content: bytearray) -> None:
        self._file.flush()
        self._file.seek(0)
        if self._file.readinto(content) != self.size:  # type: ignore[attr-defined]
            raise OSError("spool file shorter than written")

    def close(self) -> None:
        self._file.close()
        self._disk.give_back(self.size)
        self.size = 0
