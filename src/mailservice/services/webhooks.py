"""Webhooks: a mailbox's endpoints (managed with its access token) and the worker that sends deliveries.

Deliveries are written with their events (see `adapters/db/event_log.py`), so nothing is lost between a
commit and a send. The worker leases due deliveries (several nodes share them, none sends one twice at
once), sends each at most `endpoint_concurrency` at a time per endpoint so a slow endpoint only delays
itself, and retries failures on the schedule of `domain.webhooks.RETRY_WAITS`. An endpoint still failing
when a delivery runs out of retries, `disable_after` after its failures began, is turned off and its
billing e-mail told.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mailservice.domain.errors import NotFound, WebhookDisabled, WebhookLimitReached
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.search import parse_query
from mailservice.domain.timestamps import rfc3339
from mailservice.domain.webhooks import (
    WEBHOOK_TEST,
    Attempt,
    ClaimedDelivery,
    ClaimRequest,
    DeliveryOutcome,
    DeliveryStatus,
    SendResult,
    WebhookDelivery,
    WebhookEndpoint,
    checked_url,
    chosen_events,
    filters_messages,
    retry_at,
)
from mailservice.ports import Clock, DeliveryQueue, UnitOfWork, UnitOfWorkFactory, WebhookSender
from mailservice.services.event_feed import message_matches
from mailservice.services.notifications import compose, queue_once
from mailservice.services.reminders import GUIDE_PATH

log = logging.getLogger(__name__)

MAX_DELIVERY_PAGE = 100
CLAIM_BATCH = 100
ENDPOINT_ID_PREFIX = "wh_"
DISABLED_SUBJECT = "A webhook of your mailbox was turned off"


@dataclass(frozen=True)
class WebhookPolicy:
    per_mailbox: int
    allow_private: bool
    disable_after: timedelta
    endpoint_concurrency: int
    concurrency: int
    lease: timedelta
    mail_domain: str
    public_base_url: str


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str


class WebhookService:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, secret_of: Callable[[str], str], policy: WebhookPolicy
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._secret_of = secret_of
        self._policy = policy

    async def register(
        self, mailbox: Mailbox, url: str, events: list[str] | None, q: str | None
    ) -> NewEndpoint:
        """A new endpoint and its signing secret, which is shown only now."""
        q = q.strip() or None if q is not None else None
        parse_query(q)  # a `q` that cannot match anything is refused now, not at every delivery
        endpoint = WebhookEndpoint(
            id=ENDPOINT_ID_PREFIX + secrets.token_hex(12),
            mailbox_id=mailbox.id,
            url=checked_url(url.strip(), self._policy.allow_private),
            events=chosen_events(events),
            q=q,
            created_at=self._clock.now(),
        )
        async with self._uow() as uow:
            if len(await uow.webhooks.endpoints_for_update(mailbox.id)) >= self._policy.per_mailbox:
                raise WebhookLimitReached(
                    f"a mailbox has at most {self._policy.per_mailbox} webhooks; delete one first",
                    limit=self._policy.per_mailbox,
                )
            await uow.webhooks.add(endpoint)
            await uow.commit()
        log.info("webhook.registered mailbox=%s endpoint=%s", mailbox.id, endpoint.id)
        return NewEndpoint(endpoint, self._secret_of(endpoint.id))

    async def endpoints(self, mailbox: Mailbox) -> list[WebhookEndpoint]:
        async with self._uow(read_only=True) as uow:
            return await uow.webhooks.endpoints(mailbox.id)

    async def endpoint(self, mailbox: Mailbox, endpoint_id: str) -> WebhookEndpoint:
        async with self._uow(read_only=True) as uow:
            return await _endpoint(uow, mailbox, endpoint_id)

    async def remove(self, mailbox: Mailbox, endpoint_id: str) -> None:
        async with self._uow() as uow:
            if not await uow.webhooks.remove(mailbox.id, endpoint_id):
                raise NotFound("webhook not found")
            await uow.commit()
        log.info("webhook.removed mailbox=%s endpoint=%s", mailbox.id, endpoint_id)

    async def enable(self, mailbox: Mailbox, endpoint_id: str) -> WebhookEndpoint:
        """Turn an endpoint on again after it was turned off for failing; its pending deliveries go out
        again, and its failures so far are forgotten. An endpoint that is on stays as it is."""
        async with self._uow() as uow:
            endpoint = await _endpoint(uow, mailbox, endpoint_id)
            if endpoint.disabled_at is None:
                return endpoint
            await uow.webhooks.enable(endpoint.id)
            await uow.commit()
        log.info("webhook.enabled mailbox=%s endpoint=%s", mailbox.id, endpoint_id)
        return await self.endpoint(mailbox, endpoint_id)

    async def send_test(self, mailbox: Mailbox, endpoint_id: str) -> WebhookDelivery:
        """Queue a `webhook.test` delivery to this endpoint alone, due now."""
        async with self._uow() as uow:
            endpoint = await _enabled_endpoint(uow, mailbox, endpoint_id)
            delivery_id = await uow.webhooks.add_test_delivery(endpoint.id, self._clock.now())
            await uow.commit()
        return await self._delivery(mailbox, endpoint_id, delivery_id)

    async def deliveries(
        self, mailbox: Mailbox, endpoint_id: str, limit: int, before_id: int | None
    ) -> list[WebhookDelivery]:
        async with self._uow(read_only=True) as uow:
            endpoint = await _endpoint(uow, mailbox, endpoint_id)
            return await uow.webhooks.deliveries(endpoint.id, limit, before_id)

    async def retry(self, mailbox: Mailbox, endpoint_id: str, delivery_id: int) -> WebhookDelivery:
        """Send a delivery again now, whatever became of it; it keeps its `webhook-id`."""
        async with self._uow() as uow:
            endpoint = await _enabled_endpoint(uow, mailbox, endpoint_id)
            if await uow.webhooks.delivery(endpoint.id, delivery_id) is None:
                raise NotFound("delivery not found")
            await uow.webhooks.send_again(delivery_id, self._clock.now())
            await uow.commit()
        return await self._delivery(mailbox, endpoint_id, delivery_id)

    async def _delivery(self, mailbox: Mailbox, endpoint_id: str, delivery_id: int) -> WebhookDelivery:
        async with self._uow(read_only=True) as uow:
            endpoint = await _endpoint(uow, mailbox, endpoint_id)
            found = await uow.webhooks.delivery(endpoint.id, delivery_id)
        if found is None:
            raise NotFound("delivery not found")
        return found


class WebhookWorker:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        queue: DeliveryQueue,
        sender: WebhookSender,
        clock: Clock,
        secret_of: Callable[[str], str],
        policy: WebhookPolicy,
        uniform: Callable[[float, float], float] | None = None,
    ) -> None:
        self._uow = uow
        self._queue = queue
        self._sender = sender
        self._clock = clock
        self._secret_of = secret_of
        self._policy = policy
        self._uniform = uniform
        self._wakeup = asyncio.Event()
        self._claiming = asyncio.Lock()  # room is counted and filled by one claim at a time
        self._sending = 0  # sends started and not yet ended
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes = _Batches(self._record_all)

    def wake(self) -> None:
        """Something is due: claim it now rather than at the next poll."""
        self._wakeup.set()

    async def run(self, poll_seconds: float) -> None:
        """Claim and send forever: at every wake-up and every `poll_seconds`; the outcomes of sends that
        end claim more in their own transaction."""
        try:
            while True:
                try:
                    while await self.drain_once() == CLAIM_BATCH:
                        pass
                except Exception:
                    log.exception("webhooks.drain_failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=poll_seconds)
                self._wakeup.clear()
        finally:
            await self._cancel_sends()

    async def drain_once(self) -> int:
        """Lease what is due, as far as there is room, and start sending it; how many were started."""
        async with self._claiming:
            request = self._claim_request()
            if request is None:
                return 0
            return self._start_all(await self._queue.claim(request))

    async def settle(self) -> None:
        """Wait until every send started so far has ended (and its outcome is recorded)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop sending and close the connections: what was leased and not finished is sent again once
        its lease ends."""
        await self._cancel_sends()
        await self._sender.close()

    async def _cancel_sends(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _claim_request(self) -> ClaimRequest | None:
        """What there is room for now: None when every send slot is taken."""
        room = self._policy.concurrency - self._sending
        if room <= 0:
            return None
        now = self._clock.now()
        per_endpoint = self._policy.endpoint_concurrency
        free = {endpoint: per_endpoint - count for endpoint, count in self._in_flight.items()}
        return ClaimRequest(now, now + self._policy.lease, min(room, CLAIM_BATCH), free, per_endpoint)

    def _start_all(self, claimed: list[ClaimedDelivery]) -> int:
        for item in claimed:
            self._start(item)
        if len(claimed) == CLAIM_BATCH:
            self._wakeup.set()  # more may be due
        return len(claimed)

    def _start(self, item: ClaimedDelivery) -> None:
        endpoint_id = item.endpoint.id
        self._sending += 1
        self._in_flight[endpoint_id] = self._in_flight.get(endpoint_id, 0) + 1
        task = asyncio.create_task(self._deliver(item), name=f"webhook-{item.delivery.id}")
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, endpoint_id))

    def _send_ended(self, endpoint_id: str) -> None:
        self._sending -= 1
        left = self._in_flight.get(endpoint_id, 1) - 1
        if left > 0:
            self._in_flight[endpoint_id] = left
        else:
            self._in_flight.pop(endpoint_id, None)

    def _finished(self, task: asyncio.Task[None], endpoint_id: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhooks.delivery_crashed endpoint=%s", endpoint_id, exc_info=task.exception())
            self._wakeup.set()  # its outcome claimed nothing: the run loop claims instead

    async def _deliver(self, item: ClaimedDelivery) -> None:
        try:
            if not await self._matches(item):
                async with self._uow() as uow:
                    await uow.webhooks.mark_skipped(item.delivery.id)
                    await uow.commit()
                self._wakeup.set()  # room for more
                return
            started_at = self._clock.now()
            result = await self._sender.send(
                item.endpoint.url,
                self._secret_of(item.endpoint.id),
                item.delivery.message_id,
                payload_of(item),
            )
        finally:
            self._send_ended(item.endpoint.id)
        attempt = Attempt(started_at, result.status_code, result.latency_ms, result.error)
        await self._outcomes.add(_Outcome(item, attempt, result))

    async def _matches(self, item: ClaimedDelivery) -> bool:
        """Whether the message still exists and matches the endpoint's `q`, by the store's own search."""
        event = item.event
        if event is None or not filters_messages(item.endpoint, event.type):
            return True
        return await message_matches(
            self._uow, event.mailbox_id, int(event.data["uid"]), parse_query(item.endpoint.q)
        )

    async def _record_all(self, outcomes: list[_Outcome]) -> None:
        """The outcomes of sends that ended together: all but last failures in one transaction of a few
        statements, which also claims what the ended sends leave room for; each last failure, which may
        turn its endpoint off, in the unit of work."""
        now = self._clock.now()
        recorded = [self._recorded(outcome, now) for outcome in outcomes]
        async with self._claiming:
            claimed = await self._queue.record(
                [r for r in recorded if r.status is not DeliveryStatus.FAILED], self._claim_request()
            )
            self._start_all(claimed)
        last = [(o, r) for o, r in zip(outcomes, recorded, strict=True) if r.status is DeliveryStatus.FAILED]
        for outcome, record in last:
            async with self._uow() as uow:
                await self._apply_last_failure(uow, outcome, record, now)
                await uow.commit()
        for outcome, record in zip(outcomes, recorded, strict=True):
            if not outcome.result.ok:
                _log_failure(outcome, record)

    def _recorded(self, outcome: _Outcome, now: datetime) -> DeliveryOutcome:
        again = None if outcome.result.ok else self._retry_at(outcome.item.delivery.attempts + 1, now)
        status = (
            DeliveryStatus.SUCCEEDED
            if outcome.result.ok
            else DeliveryStatus.PENDING
            if again is not None
            else DeliveryStatus.FAILED
        )
        return DeliveryOutcome(
            outcome.item.delivery.id, outcome.item.endpoint.id, outcome.attempt, status, again or now
        )

    async def _apply_last_failure(
        self, uow: UnitOfWork, outcome: _Outcome, record: DeliveryOutcome, now: datetime
    ) -> None:
        endpoint = outcome.item.endpoint
        failing_since = await uow.webhooks.endpoint_answered(endpoint.id, False, now)
        await uow.webhooks.record_attempt(
            outcome.item.delivery, record.attempt, record.status, record.next_attempt_at
        )
        if self._long_failing(failing_since, now):
            assert failing_since is not None
            await self._disable(uow, endpoint, failing_since, outcome.result.error or "", now)

    def _long_failing(self, failing_since: datetime | None, now: datetime) -> bool:
        return failing_since is not None and now - failing_since >= self._policy.disable_after

    def _retry_at(self, attempts: int, now: datetime) -> datetime | None:
        if self._uniform is None:
            return retry_at(attempts, now)
        return retry_at(attempts, now, self._uniform)

    async def _disable(
        self, uow: UnitOfWork, endpoint: WebhookEndpoint, failing_since: datetime, error: str, now: datetime
    ) -> None:
        if not await uow.webhooks.disable(endpoint.id, now):
            return
        log.warning("webhook.disabled endpoint=%s failing_since=%s", endpoint.id, rfc3339(failing_since))
        mailbox = await uow.mailboxes.get(endpoint.mailbox_id)
        if mailbox is None:
            return
        notice = compose(
            "webhook_disabled",
            mailbox.billing_email,
            DISABLED_SUBJECT,
            dedupe_key=f"webhook_disabled:{endpoint.id}",
            url=endpoint.url,
            endpoint_id=endpoint.id,
            address=mailbox.address(self._policy.mail_domain),
            failing_since=failing_since.strftime("%Y-%m-%d %H:%M UTC"),
            error=error,
            guide_url=self._policy.public_base_url.rstrip("/") + GUIDE_PATH,
        )
        await queue_once(uow, notice, self._clock, timedelta(days=1))


@dataclass(frozen=True)
class _Outcome:
    item: ClaimedDelivery
    attempt: Attempt
    result: SendResult


class _Batches:
    """Items added while a batch is being written wait and go together into the next one; `add` returns
    once its item is written (or raises what writing it raised)."""

    def __init__(self, write: Callable[[list[_Outcome]], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[_Outcome, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, item: _Outcome) -> None:
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        await asyncio.shield(written)

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._write([item for item, _ in batch])
            except Exception as error:  # each waiter learns its item was not written
                for _, written in batch:
                    written.set_exception(error)
            else:
                for _, written in batch:
                    written.set_result(None)


def _log_failure(outcome: _Outcome, record: DeliveryOutcome) -> None:
    log.warning(
        "webhook.failed endpoint=%s delivery=%d attempts=%d retry_at=%s error=%s",
        record.endpoint_id,
        record.delivery_id,
        outcome.item.delivery.attempts + 1,
        rfc3339(record.next_attempt_at) if record.status is DeliveryStatus.PENDING else "never",
        outcome.result.error,
    )


def payload_of(item: ClaimedDelivery) -> str:
    """The JSON body: the event as the log keeps it, or a test event. The event's `data` is spliced in
    as the log's JSON text when there is one, rather than parsed and written again for every send."""
    event = item.event
    body: dict[str, Any]
    if event is not None and item.event_data_json is not None:
        head = json.dumps(
            {"id": event.id, "type": event.type, "timestamp": rfc3339(event.occurred_at)},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        mailbox_id = json.dumps(event.mailbox_id, ensure_ascii=False)
        return f'{head[:-1]},"mailbox_id":{mailbox_id},"data":{item.event_data_json}}}'
    if event is None:
        body = {
            "id": None,
            "type": WEBHOOK_TEST,
            "timestamp": rfc3339(item.delivery.created_at),
            "mailbox_id": item.endpoint.mailbox_id,
            "data": {"endpoint_id": item.endpoint.id, "delivery_id": item.delivery.id},
        }
    else:
        body = {
            "id": event.id,
            "type": event.type,
            "timestamp": rfc3339(event.occurred_at),
            "mailbox_id": event.mailbox_id,
            "data": event.data,
        }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


async def _endpoint(uow: UnitOfWork, mailbox: Mailbox, endpoint_id: str) -> WebhookEndpoint:
    found = await uow.webhooks.endpoint(mailbox.id, endpoint_id)
    if found is None:
        raise NotFound("webhook not found")
    return found


async def _enabled_endpoint(uow: UnitOfWork, mailbox: Mailbox, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await _endpoint(uow, mailbox, endpoint_id)
    if endpoint.disabled_at is not None:
        raise WebhookDisabled(
            "this webhook was turned off after failing for days; turn it on with POST /v1/webhooks/{id}/enable"
        )
    return endpoint
