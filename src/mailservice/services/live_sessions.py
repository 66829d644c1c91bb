"""Ending open sessions when a mailbox's access is revoked: credentials rotated, expired, or revoked by
the payment provider.

Every open session (an IMAP or POP3 connection, an event stream, a long poll) holds a `SessionLease` for
the credential epoch it authenticated with. The sessions of one mailbox in this process share one watch:
it rechecks the mailbox row when a `mailbox.access_revoked` event arrives (from any node) or the bus says
events may have been missed (a resync), and every `recheck_seconds` in any case, because a lapse publishes
nothing. A session whose
epoch is no longer the mailbox's, or whose mailbox is no longer usable, is ended with the error a new
request would now get.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mailservice.domain.errors import AuthenticationFailed, DomainError
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.messages import AccessRevoked, Resync
from mailservice.ports import EventBus, Subscription
from mailservice.services.mailboxes import MailboxService

log = logging.getLogger(__name__)


class SessionLease:
    """One open session's hold on its mailbox; `ended` completes with the reason access was revoked."""

    def __init__(self, mailbox: Mailbox, on_release: Callable[[SessionLease], None]) -> None:
        self.mailbox_id = mailbox.id
        self.credential_epoch = mailbox.credential_epoch
        self.ended: asyncio.Future[DomainError] = asyncio.get_running_loop().create_future()
        self._on_release = on_release
        self._released = False

    def end(self, reason: DomainError) -> None:
        if not self.ended.done():
            self.ended.set_result(reason)

    def release(self) -> None:
        """The session is over: stop watching for it."""
        if self._released:
            return
        self._released = True
        if not self.ended.done():
            self.ended.cancel()
        self._on_release(self)


Refusal = Callable[[str, int], Awaitable[DomainError | None]]


class LiveSessions:
    def __init__(self, mailboxes: MailboxService, events: EventBus, recheck_seconds: float) -> None:
        self._mailboxes = mailboxes
        self._events = events
        self._recheck_seconds = recheck_seconds
        self._watches: dict[str, _MailboxWatch] = {}

    def lease(self, mailbox: Mailbox) -> SessionLease:
        """Watch a session that authenticated as `mailbox` (with its current credential epoch)."""
        watch = self._watches.get(mailbox.id)
        if watch is None:
            watch = _MailboxWatch(
                mailbox.id,
                self._events.subscribe(mailbox.id),
                self._recheck_seconds,
                self._refusal,
                on_idle=self._forget,
            )
            self._watches[mailbox.id] = watch
        return watch.lease(mailbox)

    def watch_count(self) -> int:
        """Mailboxes with open sessions in this process (each costs one recheck per interval)."""
        return len(self._watches)

    async def _refusal(self, mailbox_id: str, credential_epoch: int) -> DomainError | None:
        """The error a session with this epoch would get now, or None while it may go on."""
        mailbox = await self._mailboxes.current(mailbox_id)
        if mailbox is None or mailbox.credential_epoch != credential_epoch:
            return AuthenticationFailed("the mailbox's credentials were changed; log in again")
        try:
            await self._mailboxes.require_usable(mailbox)
        except DomainError as refusal:
            return refusal
        return None

    def _forget(self, watch: _MailboxWatch) -> None:
        if self._watches.get(watch.mailbox_id) is watch:
            del self._watches[watch.mailbox_id]


class _MailboxWatch:
    """The open sessions of one mailbox in this process, and the one task that rechecks them."""

    def __init__(
        self,
        mailbox_id: str,
        subscription: Subscription,
        recheck_seconds: float,
        refusal: Refusal,
        on_idle: Callable[[_MailboxWatch], None],
    ) -> None:
        self.mailbox_id = mailbox_id
        self._subscription = subscription
        self._recheck_seconds = recheck_seconds
        self._refusal = refusal
        self._on_idle = on_idle
        self._leases: set[SessionLease] = set()
        self._task = asyncio.ensure_future(self._run())

    def lease(self, mailbox: Mailbox) -> SessionLease:
        lease = SessionLease(mailbox, self._release)
        self._leases.add(lease)
        return lease

    def _release(self, lease: SessionLease) -> None:
        self._leases.discard(lease)
        if not self._leases:
            self._stop()

    def _stop(self) -> None:
        self._subscription.close()
        self._task.cancel()
        self._on_idle(self)

    async def _run(self) -> None:
        while True:
            await _revocation_or_timeout(self._subscription, self._recheck_seconds)
            try:
                await self._recheck()
            except Exception:  # the database may be away for a while; the next interval tries again
                log.exception("sessions.recheck_failed mailbox=%s", self.mailbox_id)

    async def _recheck(self) -> None:
        for epoch in {lease.credential_epoch for lease in self._leases if not lease.ended.done()}:
            refusal = await self._refusal(self.mailbox_id, epoch)
            if refusal is not None:
                self._end(epoch, refusal)

    def _end(self, epoch: int, refusal: DomainError) -> None:
        ended = [lease for lease in self._leases if lease.credential_epoch == epoch]
        log.info("sessions.ended mailbox=%s sessions=%d reason=%s", self.mailbox_id, len(ended), refusal.code)
        for lease in ended:
            lease.end(refusal)


async def _revocation_or_timeout(subscription: Subscription, seconds: float) -> None:
    """Return at the next `mailbox.access_revoked` event or resync (a revocation may have been missed), or
    after `seconds` without one."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for event in subscription:
                if isinstance(event, AccessRevoked | Resync):
                    return


async def next_signal(subscription: Subscription, lease: SessionLease, seconds: float | None) -> bool:
    """True at the mailbox's next event or resync (time to look in the store); False after `seconds`,
    when the subscription ends, or when the session's access is revoked (`lease.ended`)."""
    event = asyncio.ensure_future(anext(subscription, None))
    waiting: set[asyncio.Future[Any]] = {event, lease.ended}
    try:
        done, _ = await asyncio.wait(waiting, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        event.cancel()
    return event in done and not lease.ended.done() and event.result() is not None
