"""PostgreSQL: the changes reads that the node's sessions ask of one folder, shared.

Every IMAP command ends with a read of the selected folder's changes (`CHANGES`). Sessions of one
folder ask at nearly the same moments, and on PostgreSQL each read is a round trip that waits for a core
on both sides. A session asking while a read of its folder is under way cannot use that read (it may
have started before the session's own write committed), so it waits for the next one, which starts
once that one is answered and serves every session that asked meanwhile: it reads since the lowest
modseq they asked, and each takes what came after its own. Every session thus gets what a read of its
own, started after it asked, would have found, with one statement per folder at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mailservice.adapters.db.folder_reads import changes_asked, changes_of_rows
from mailservice.domain.mail_session import FolderChanges

ReadRows = Callable[[Mapping[str, Any]], Awaitable[list[Any]]]
"""The rows of `CHANGES` for its parameters."""


@dataclass
class _Read:
    """One read and the sessions it serves."""

    since: int
    rows: asyncio.Future[list[Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class _FolderReads:
    running: _Read | None = None
    next: _Read | None = None
    """Asked for while `running` was under way: it starts when that one is answered."""


class SharedChangeReads:
    def __init__(self, read_rows: ReadRows) -> None:
        self._read_rows = read_rows
        self._folders: dict[tuple[str, int], _FolderReads] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def changes(self, mailbox_id: str, folder_id: int, since_modseq: int) -> FolderChanges:
        key = (mailbox_id, folder_id)
        reads = self._folders.setdefault(key, _FolderReads())
        if reads.next is None:
            reads.next = _Read(since_modseq)
        read = reads.next
        read.since = min(read.since, since_modseq)
        if reads.running is None:
            self._start(key, reads)
        # Shielded: a session that goes away must not cancel the read of the others it serves.
        return changes_of_rows(await asyncio.shield(read.rows), since_modseq)

    def _start(self, key: tuple[str, int], reads: _FolderReads) -> None:
        read, reads.running, reads.next = reads.next, reads.next, None
        assert read is not None
        task = asyncio.create_task(self._run(key, reads, read))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: tuple[str, int], reads: _FolderReads, read: _Read) -> None:
        try:
            read.rows.set_result(await self._read_rows(changes_asked(*key, read.since)))
        except asyncio.CancelledError:  # the node stops
            for waiting in (read, reads.next):
                if waiting is not None:
                    waiting.rows.cancel()
            del self._folders[key]
            raise
        except Exception as error:
            read.rows.set_exception(error)
            # Marked as seen: every session it served may have gone, and each that has not raises it.
            read.rows.exception()
        reads.running = None
        if reads.next is not None:
            self._start(key, reads)
        else:
            del self._folders[key]
