"""PostgreSQL: the changes reads that the node's sessions ask of one folder, shared.

Every IMAP command ends with a read of the selected folder's changes (`CHANGES`). Sessions of one
folder ask at nearly the same moments, and on PostgreSQL each read is a round trip that waits for a core
on both sides. A session asking while a read of its folder is under way cannot use that read (it may
have started before the session's own write committed), so it waits for the next one, which starts
once that one is answered and serves every session that asked meanwhile: it reads since the lowest
modseq they asked, and each takes what came after its own. Every session thus gets what a read of its
own, started after it asked, would have found, with one such statement per folder and node at a time.
A session asking since less than it last asked (a client's own modseq, QRESYNC) reads on its own: the
others should not wait for, nor sift, a folder's whole history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mailservice.adapters.db.folder_logs import FolderLogs
from mailservice.adapters.db.folder_reads import changes_asked, changes_of_rows
from mailservice.domain.errors import StorageUnavailable
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
    def __init__(self, read_rows: ReadRows, logs: FolderLogs | None = None) -> None:
        """`logs`: where each read is kept, to answer later asks without one."""
        self._read_rows = read_rows
        self._logs = logs
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
        try:
            # Shielded: a session that goes away must not cancel the read of the others it serves.
            rows = await asyncio.shield(read.rows)
        except Exception as error:  # the driver's, raised once for every session it served
            raise StorageUnavailable("the folder's changes could not be read; try again later") from error
        return changes_of_rows(rows, since_modseq)

    def _start(self, key: tuple[str, int], reads: _FolderReads) -> None:
        read, reads.running, reads.next = reads.next, reads.next, None
        assert read is not None
        task = asyncio.create_task(self._run(key, reads, read))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._ended(done, key, reads, read))

    async def _run(self, key: tuple[str, int], reads: _FolderReads, read: _Read) -> None:
        token = self._logs.reading(key) if self._logs is not None else None
        try:
            rows = await self._read_rows(changes_asked(*key, read.since))
            if self._logs is not None:
                self._logs.read(key, token, read.since, rows)
            read.rows.set_result(rows)
        except Exception as error:
            read.rows.set_exception(error)
            # Marked as seen: every session it served may have gone, and each that has not raises it.
            read.rows.exception()
        reads.running = None
        if reads.next is not None:
            self._start(key, reads)
        else:
            del self._folders[key]

    def _ended(
        self, task: asyncio.Task[None], key: tuple[str, int], reads: _FolderReads, read: _Read
    ) -> None:
        """A read cancelled (the node stops), even before it began: its sessions, and those waiting for
        the next, are cancelled with it, and the folder is forgotten."""
        self._tasks.discard(task)
        if not task.cancelled():
            return
        for waiting in (read, reads.next):
            if waiting is not None and not waiting.rows.done():
                waiting.rows.cancel()
        reads.running = reads.next = None
        if self._folders.get(key) is reads:
            del self._folders[key]
