"""Ending an IMAP or POP3 connection when its session's access is revoked.

Once logged in, a connection watches its session; a revocation (credentials rotated, mailbox expired or
revoked by the payment provider, on any node) cancels the connection's task wherever it waits (reading a
command, IDLE, a store read), and the connection says why and closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mailservice.domain.errors import DomainError
from mailservice.domain.mail_session import MailSession


class RevocationGuard:
    def __init__(self) -> None:
        self.reason: DomainError | None = None
        self._session: MailSession | None = None
        self._watch: asyncio.Future[DomainError] | None = None
        self._callback: Callable[[asyncio.Future[DomainError]], None] = _ignore

    def watch(self, session: MailSession) -> None:
        """Called from the connection's task once `session` is logged in; later calls change nothing."""
        if self._session is not None:
            return
        task = asyncio.current_task()
        assert task is not None
        self._session = session
        self._watch = session.revoked()
        self._callback = lambda done: self._revoke(task, done)
        self._watch.add_done_callback(self._callback)

    def caused(self) -> bool:
        """Whether the cancellation being handled is a revocation; then the task goes on to say goodbye."""
        if self.reason is None:
            return False
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        return True

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.remove_done_callback(self._callback)
        if self._session is not None:
            self._session.end()

    def _revoke(self, task: asyncio.Task[object], done: asyncio.Future[DomainError]) -> None:
        if done.cancelled() or done.exception() is not None or task.done():
            return
        self.reason = done.result()
        task.cancel()


def _ignore(_: asyncio.Future[DomainError]) -> None:
    return None
