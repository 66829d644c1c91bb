"""Notifications: composed from templates, queued in the outbox, and sent by a worker with retries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from mailservice.domain.notification import Notification, QueuedNotification
from mailservice.domain.timestamps import rfc3339
from mailservice.ports import Clock, Notifier, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

PAYMENT_LINK_SUBJECT = "Action needed: complete mailbox payment"
RENEWAL_LINK_SUBJECT = "Renew your mailbox: payment link"
SEND_LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 12
MAX_BACKOFF = timedelta(hours=6)
BATCH = 20

_templates = Environment(
    loader=PackageLoader("mailservice", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def compose(kind: str, recipient: str, subject: str, dedupe_key: str | None, **values: str) -> Notification:
    """Render `templates/email/<kind>.txt` and `.html` (every HTML value escaped)."""
    return Notification(
        kind=kind,
        recipient=recipient,
        subject=subject,
        text=_templates.get_template(f"email/{kind}.txt").render(**values),
        html=_templates.get_template(f"email/{kind}.html").render(**values),
        dedupe_key=dedupe_key,
    )


async def queue_once(uow: UnitOfWork, notification: Notification, clock: Clock, window: timedelta) -> bool:
    """Queue unless the same notification (by dedupe key) was queued within `window`."""
    now = clock.now()
    key = notification.dedupe_key
    if key is not None and await uow.outbox.recently_queued(key, now - window):
        return False
    await uow.outbox.enqueue(notification, now)
    return True


@dataclass(frozen=True)
class DrainResult:
    sent: int
    failed: int


class OutboxWorker:
    """Sends queued notifications; a failure is retried with exponential backoff, never dropped silently."""

    def __init__(self, uow: UnitOfWorkFactory, notifier: Notifier, clock: Clock) -> None:
        self._uow = uow
        self._notifier = notifier
        self._clock = clock
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Something was queued: send it now rather than at the next poll."""
        self._wakeup.set()

    async def run(self, poll_seconds: float) -> None:
        """Drain forever: at every wake-up, and every `poll_seconds` for retries and other nodes' work."""
        try:
            await self.drop_finished_bodies()
        except Exception:
            log.exception("outbox.drop_finished_bodies_failed")
        while True:
            try:
                await self.drain_once()
            except Exception:
                log.exception("outbox.drain_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=poll_seconds)
            self._wakeup.clear()

    async def drop_finished_bodies(self) -> int:
        """Bodies are dropped when sent; this clears those kept from before that rule."""
        async with self._uow() as uow:
            dropped = await uow.outbox.drop_finished_bodies()
            await uow.commit()
        if dropped:
            log.info("outbox.finished_bodies_dropped count=%d", dropped)
        return dropped

    async def drain_once(self) -> DrainResult:
        now = self._clock.now()
        async with self._uow() as uow:
            due = await uow.outbox.claim_due(now, now + SEND_LEASE, BATCH)
            await uow.commit()
        sent = failed = 0
        for queued in due:
            if await self._send(queued):
                sent += 1
            else:
                failed += 1
        return DrainResult(sent, failed)

    async def _send(self, queued: QueuedNotification) -> bool:
        try:
            await self._notifier.send(queued.notification)
        except Exception as error:  # any provider failure is retried, whatever its type
            await self._record_failure(queued, f"{type(error).__name__}: {error}")
            return False
        async with self._uow() as uow:
            await uow.outbox.mark_sent(queued.id, self._clock.now())
            await uow.commit()
        return True

    async def _record_failure(self, queued: QueuedNotification, error: str) -> None:
        now = self._clock.now()
        attempts = queued.attempts + 1
        retry_at = (
            None if attempts >= MAX_ATTEMPTS else now + min(timedelta(seconds=30 * 2**attempts), MAX_BACKOFF)
        )
        log.warning(
            "notification.failed id=%s kind=%s attempts=%d retry_at=%s error=%s",
            queued.id,
            queued.notification.kind,
            attempts,
            rfc3339(retry_at) if retry_at else "never",
            error,
        )
        async with self._uow() as uow:
            await uow.outbox.mark_failed(queued.id, error, retry_at, now)
            await uow.commit()
