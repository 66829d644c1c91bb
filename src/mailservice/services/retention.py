"""Retention of active mailboxes: the policy an agent sets, and the periodic deletion of old mail.

Room in a full mailbox is made by the message store, in the delivery's own transaction; this module
owns what an agent sees and the sweep of mail past its age.
"""

from __future__ import annotations

import logging

from mailservice.domain.mailbox import Mailbox
from mailservice.domain.retention import MailboxRetention, RetentionPolicy
from mailservice.ports import Clock, RetentionStore

log = logging.getLogger(__name__)

SWEEP_BATCH = 500
MAX_BATCHES_PER_SWEEP = 200


class KeepCurrent:
    """Leave the current age limit as it is (None already means "keep mail forever")."""


KEEP_CURRENT = KeepCurrent()


class RetentionService:
    def __init__(self, store: RetentionStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def policy(self, mailbox: Mailbox) -> MailboxRetention:
        return await self._store.get(mailbox.id)

    async def change(
        self,
        mailbox: Mailbox,
        max_age_days: int | KeepCurrent | None = KEEP_CURRENT,
        delete_oldest_read_when_full: bool | None = None,
    ) -> MailboxRetention:
        """Set what is given, keep the rest of the current policy (the default's, if the mailbox had
        none); raises InvalidInput for an age out of range."""
        current = (await self._store.get(mailbox.id)).policy
        wanted = RetentionPolicy(
            current.max_age_days if isinstance(max_age_days, KeepCurrent) else max_age_days,
            current.delete_oldest_read_when_full
            if delete_oldest_read_when_full is None
            else delete_oldest_read_when_full,
        )
        await self._store.set(mailbox.id, wanted)
        log.info(
            "retention.changed mailbox=%s max_age_days=%s delete_oldest_read=%s",
            mailbox.id,
            wanted.max_age_days,
            wanted.delete_oldest_read_when_full,
        )
        return MailboxRetention(wanted, is_default=False)

    async def sweep(self) -> int:
        """Delete mail past its age in batches of one transaction each, so deliveries interleave; a run
        is bounded, and the next sweep goes on where it stopped."""
        now = self._clock.now()
        total = 0
        for _ in range(MAX_BATCHES_PER_SWEEP):
            deleted = await self._store.delete_expired(now, SWEEP_BATCH)
            total += deleted
            if deleted < SWEEP_BATCH:
                break
        if total:
            log.info("retention.expired messages=%d", total)
        return total
