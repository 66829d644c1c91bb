"""E-mails about a mailbox's period ending: a renewal reminder before it ends, and a notice once it has.

Each is queued in the outbox, with its `mailbox.expiring` or `mailbox.expired` event for the agent, at most
once per mailbox and expiry: the mailbox row records the expiry a
notice was queued for, with a conditional update in the same transaction as the outbox row, so a second
run, a retry or another node finds it done. Renewing moves the expiry, and the next period gets its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailservice.domain.agent_events import MAILBOX_EXPIRED, MAILBOX_EXPIRING, mailbox_event
from mailservice.domain.expiry_notice import ExpiryNotice
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.notification import Notification
from mailservice.domain.timestamps import rfc3339
from mailservice.ports import Clock, UnitOfWork, UnitOfWorkFactory
from mailservice.services.notifications import compose

log = logging.getLogger(__name__)

EXPIRED_SUBJECT = "Your mailbox has expired"
# Expiries older than this get no notice: a first start on an old database does not mail every lapsed payer.
EXPIRED_NOTICE_WINDOW = timedelta(days=7)
BATCH = 100
GUIDE_PATH = "/docs/agent-api-skill.md"
# The agent hears of each notice too, once per period like the e-mail.
_EVENT_TYPES = {ExpiryNotice.REMINDER: MAILBOX_EXPIRING, ExpiryNotice.EXPIRED: MAILBOX_EXPIRED}


@dataclass(frozen=True)
class NoticesQueued:
    reminders: int
    expired: int


@dataclass(frozen=True)
class NoticeSettings:
    mail_domain: str
    public_base_url: str
    reminder_days: int


class ExpiryNotices:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        settings: NoticeSettings,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._settings = settings

    async def queue_due(self) -> NoticesQueued:
        """Queue the reminders of mailboxes ending within the reminder days, and notices of expired ones."""
        now = self._clock.now()
        reminder_window = timedelta(days=self._settings.reminder_days)
        queued = NoticesQueued(
            reminders=await self._queue(ExpiryNotice.REMINDER, now, now + reminder_window),
            expired=await self._queue(ExpiryNotice.EXPIRED, now - EXPIRED_NOTICE_WINDOW, now),
        )
        if queued.reminders or queued.expired:
            log.info("expiry_notices.queued reminders=%d expired=%d", queued.reminders, queued.expired)
        return queued

    async def queue_expired(self, uow: UnitOfWork, mailbox: Mailbox, now: datetime) -> bool:
        """The expired notice and event of a mailbox found lapsed outside the sweep (a lazy check), in
        that check's transaction: the agent hears at once, and the sweep then finds them queued. Only
        mailboxes the sweep would notify (key-bound, expired within the window) get them."""
        if (
            mailbox.key_fingerprint is None
            or mailbox.expires_at is None
            or not now - EXPIRED_NOTICE_WINDOW < mailbox.expires_at <= now
        ):
            return False
        return await self._queue_one(uow, ExpiryNotice.EXPIRED, mailbox, now)

    async def _queue(self, notice: ExpiryNotice, after: datetime, until: datetime) -> int:
        total = 0
        while True:
            now = self._clock.now()
            async with self._uow() as uow:
                due = await uow.mailboxes.due_for_notice(notice, after, until, BATCH)
                marked = 0
                for mailbox in due:
                    marked += await self._queue_one(uow, notice, mailbox, now)
                await uow.commit()
            total += marked
            if len(due) < BATCH or marked == 0:
                return total

    async def _queue_one(
        self, uow: UnitOfWork, notice: ExpiryNotice, mailbox: Mailbox, now: datetime
    ) -> bool:
        """Once per mailbox and expiry, whoever comes first: the conditional update decides."""
        assert mailbox.expires_at is not None
        if not await uow.mailboxes.mark_notice_sent(mailbox.id, notice, mailbox.expires_at):
            return False
        await uow.outbox.enqueue(self._compose(notice, mailbox), now)
        uow.record(mailbox_event(mailbox.id, _EVENT_TYPES[notice], now, mailbox.expires_at))
        return True

    def _compose(self, notice: ExpiryNotice, mailbox: Mailbox) -> Notification:
        assert mailbox.expires_at is not None
        return compose(
            notice.value,
            mailbox.billing_email,
            self._subject(notice, mailbox.expires_at),
            dedupe_key=f"{notice.value}:{mailbox.id}:{mailbox.expires_at.isoformat()}",
            address=mailbox.address(self._settings.mail_domain),
            expires_at=rfc3339(mailbox.expires_at),
            guide_url=self._settings.public_base_url.rstrip("/") + GUIDE_PATH,
        )

    def _subject(self, notice: ExpiryNotice, expires_at: datetime) -> str:
        if notice is ExpiryNotice.EXPIRED:
            return EXPIRED_SUBJECT
        days = max(1, round((expires_at - self._clock.now()) / timedelta(days=1)))
        return f"Your mailbox expires in {days} day{'s' if days != 1 else ''}"
