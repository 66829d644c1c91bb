"""Operator tasks: a metrics snapshot, and reprovisioning mailboxes (repair, credential rotation)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from mailservice.domain.errors import NotFound
from mailservice.ports import Clock, EventBus, UnitOfWorkFactory
from mailservice.services.mailboxes import MailboxService
from mailservice.services.metrics import ServiceMetrics

log = logging.getLogger(__name__)
READINESS_PROBE_ID = "mbx_readiness_probe"  # no mailbox has it: the read touches one index page


@dataclass(frozen=True)
class ReprovisionResult:
    checked: int
    inboxes_created: int
    expired: int
    credentials_rotated: int


class AdminService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        mailboxes: MailboxService,
        events: EventBus,
        metrics: ServiceMetrics,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._mailboxes = mailboxes
        self._events = events
        self.metrics = metrics

    async def counts(self) -> dict[str, dict[str, int]]:
        async with self._uow(read_only=True) as uow:
            return await uow.admin.counts()

    async def store_round_trip(self) -> float:
        """Seconds one primary-key read takes: whether the store answers, for readiness checks."""
        started = time.perf_counter()
        async with self._uow(read_only=True) as uow:
            await uow.mailboxes.get(READINESS_PROBE_ID)
        return time.perf_counter() - started

    async def snapshot(self) -> dict[str, object]:
        """The store's counts (every node sees the same) and this node's HTTP, IMAP, POP3 and SMTP figures."""
        return {"store": await self.counts(), **self.metrics.summary()}

    async def scrape(self, accept: str) -> tuple[bytes, str]:
        """The Prometheus exposition (in the format `accept` asks for) with the store's figures read now."""
        async with self._uow(read_only=True) as uow:
            counts = await uow.admin.counts()
            oldest = await uow.admin.oldest_pending_notification()
        self.metrics.observe_store(counts, oldest, self._clock.now(), self._events.subscriber_count())
        return self.metrics.exposition(accept)

    async def reprovision(
        self, mailbox_id: str | None = None, rotate_credentials: bool = False
    ) -> ReprovisionResult:
        """Bring one mailbox (or all) back in shape: an INBOX, the expiry applied, optionally new credentials."""
        ids = [mailbox_id] if mailbox_id else await self._all_ids()
        created = rotated = 0
        for current_id in ids:
            now = self._clock.now()
            async with self._uow() as uow:
                if await uow.mailboxes.get(current_id) is None:
                    raise NotFound("mailbox not found")
                created += await uow.admin.ensure_inbox(current_id, now)
                if rotate_credentials:
                    await uow.admin.rotate_credentials(current_id, now)
                    rotated += 1
                await uow.commit()
        expired = await self._mailboxes.expire_lapsed()
        result = ReprovisionResult(len(ids), created, expired, rotated)
        log.info("admin.reprovisioned %s", result)
        return result

    async def _all_ids(self) -> list[str]:
        async with self._uow(read_only=True) as uow:
            return await uow.admin.mailbox_ids()
