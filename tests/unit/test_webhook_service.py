"""Webhook bookkeeping at the service layer, over the in-memory unit of work: registration and its
limits, test deliveries and retries by hand, and the worker's record of attempts, retries and turning
off an endpoint that keeps failing. The sender is a fake of the `WebhookSender` port that answers as
told; posting over real sockets, signatures and SSRF checks at connect time are tested on both databases
in tests/integration/test_webhooks.py and test_webhook_connections.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from mailservice.domain.agent_events import MAILBOX_RENEWED, mailbox_event
from mailservice.domain.errors import (
    InvalidInput,
    NotFound,
    UnsafeWebhookUrl,
    WebhookDisabled,
    WebhookLimitReached,
)
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.webhooks import DeliveryStatus, SendResult
from mailservice.services.webhooks import WebhookWorker
from tests.support.fake_unit_of_work import FakeDeliveryQueue
from tests.support.service_wiring import Wiring


@dataclass
class AnsweringSender:
    """Answers every POST with the next of `answers` (the last one over and over); keeps what it got."""

    answers: Sequence[SendResult]
    posts: list[tuple[str, str, str]] = field(default_factory=list)

    async def send(self, url: str, secret: str, message_id: str, payload: str) -> SendResult:
        self.posts.append((url, message_id, payload))
        return self.answers[min(len(self.posts), len(self.answers)) - 1]

    async def close(self) -> None:
        pass


OK = SendResult(200, 5, None)
FAILING = SendResult(500, 5, "HTTP 500")


@pytest.fixture
def wiring() -> Wiring:
    return Wiring()


def worker(wiring: Wiring, sender: AnsweringSender) -> WebhookWorker:
    return WebhookWorker(
        wiring.uow,
        FakeDeliveryQueue(wiring.uow),
        sender,
        wiring.clock,
        lambda endpoint_id: "whsec_test",
        wiring.webhook_policy,
        lambda a, b: 1.0,
    )


async def renewed(wiring: Wiring, mailbox: Mailbox) -> None:
    """An agent event of the mailbox, committed as a payment would commit it."""
    async with wiring.uow() as uow:
        uow.record(mailbox_event(mailbox.id, MAILBOX_RENEWED, wiring.clock.now(), wiring.clock.now()))
        await uow.commit()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://127.0.0.1:8080/",
        "http://user:pw@example.com/",
        "not a url",
    ],
)
async def test_unsafe_urls_are_refused_at_registration(wiring: Wiring, url: str) -> None:
    mailbox = wiring.paid_mailbox()

    with pytest.raises(UnsafeWebhookUrl):
        await wiring.webhooks.register(mailbox, url, None, None)

    assert await wiring.webhooks.endpoints(mailbox) == []


async def test_registration_checks_events_and_query_and_keeps_to_the_limit(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()

    created = [
        await wiring.webhooks.register(mailbox, f" https://hooks.example.com/{n} ", None, "  ")
        for n in range(3)
    ]
    with pytest.raises(WebhookLimitReached):
        await wiring.webhooks.register(mailbox, "https://hooks.example.com/4", None, None)
    await wiring.webhooks.remove(mailbox, created[0].endpoint.id)
    with pytest.raises(InvalidInput):
        await wiring.webhooks.register(mailbox, "https://hooks.example.com/5", ["nope"], None)
    with pytest.raises(InvalidInput):
        await wiring.webhooks.register(mailbox, "https://hooks.example.com/5", None, "before:yesterday")
    only_renewals = await wiring.webhooks.register(
        mailbox, "https://hooks.example.com/6", [MAILBOX_RENEWED], None
    )

    first = created[0].endpoint
    assert (first.url, first.q) == ("https://hooks.example.com/0", None)
    assert created[0].secret.startswith("whsec_")
    assert only_renewals.endpoint.events == (MAILBOX_RENEWED,)
    kept = [created[1].endpoint.id, created[2].endpoint.id, only_renewals.endpoint.id]
    assert [e.id for e in await wiring.webhooks.endpoints(mailbox)] == sorted(kept)  # all made at one moment
    with pytest.raises(NotFound):
        await wiring.webhooks.remove(mailbox, first.id)


async def test_an_endpoint_is_seen_and_managed_only_through_its_own_mailbox(wiring: Wiring) -> None:
    owner, other = wiring.paid_mailbox(), wiring.paid_mailbox()
    endpoint = (await wiring.webhooks.register(owner, "https://hooks.example.com/", None, None)).endpoint

    for attempt in (
        wiring.webhooks.endpoint(other, endpoint.id),
        wiring.webhooks.send_test(other, endpoint.id),
        wiring.webhooks.deliveries(other, endpoint.id, 10, None),
        wiring.webhooks.remove(other, endpoint.id),
    ):
        with pytest.raises(NotFound):
            await attempt

    assert await wiring.webhooks.endpoint(owner, endpoint.id) == endpoint


async def test_a_test_delivery_is_sent_recorded_and_can_be_sent_again_by_hand(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()
    endpoint = (await wiring.webhooks.register(mailbox, "https://hooks.example.com/", None, None)).endpoint
    sender = AnsweringSender([OK])
    sending = worker(wiring, sender)

    queued = await wiring.webhooks.send_test(mailbox, endpoint.id)
    await sending.drain_once()
    await sending.settle()
    sent = await wiring.webhooks.deliveries(mailbox, endpoint.id, 10, None)
    again = await wiring.webhooks.retry(mailbox, endpoint.id, queued.id)
    await sending.drain_once()
    await sending.settle()
    [twice] = await wiring.webhooks.deliveries(mailbox, endpoint.id, 10, None)

    assert (queued.status, queued.attempts) == (DeliveryStatus.PENDING, 0)
    assert [(d.status, d.attempts, len(d.history)) for d in sent] == [(DeliveryStatus.SUCCEEDED, 1, 1)]
    assert again.status is DeliveryStatus.PENDING
    assert (twice.status, twice.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    assert [post[1] for post in sender.posts] == [queued.message_id, queued.message_id]
    with pytest.raises(NotFound):
        await wiring.webhooks.retry(mailbox, endpoint.id, queued.id + 100)


async def test_a_failure_is_retried_on_the_schedule_until_it_succeeds(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()
    endpoint = (await wiring.webhooks.register(mailbox, "https://hooks.example.com/", None, None)).endpoint
    sender = AnsweringSender([FAILING, FAILING, OK])
    sending = worker(wiring, sender)
    await renewed(wiring, mailbox)

    started = [await sending.drain_once()]
    await sending.settle()
    started.append(await sending.drain_once())  # not due yet
    for wait in (timedelta(seconds=5), timedelta(minutes=5)):
        wiring.clock.advance(wait)
        started.append(await sending.drain_once())
        await sending.settle()
    [delivery] = await wiring.webhooks.deliveries(mailbox, endpoint.id, 10, None)
    healthy = await wiring.webhooks.endpoint(mailbox, endpoint.id)

    assert started == [1, 0, 1, 1]
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 3)
    assert [(a.status_code, a.error) for a in delivery.history] == [
        (500, "HTTP 500"),
        (500, "HTTP 500"),
        (200, None),
    ]
    assert healthy.failing_since is None
    assert '"type":"mailbox.renewed"' in sender.posts[0][2]


async def test_an_endpoint_failing_for_days_is_turned_off_and_its_payer_told_once(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()
    endpoint = (await wiring.webhooks.register(mailbox, "https://hooks.example.com/", None, None)).endpoint
    sender = AnsweringSender([FAILING])
    sending = worker(wiring, sender)
    failing_from = wiring.clock.now()

    for _ in range(2):  # each delivery runs out of retries after about 28 hours
        await renewed(wiring, mailbox)
        for _ in range(10):
            await sending.drain_once()
            await sending.settle()
            wiring.clock.advance(timedelta(hours=10))
    await renewed(wiring, mailbox)
    await sending.drain_once()
    await sending.settle()
    turned_off = await wiring.webhooks.endpoint(mailbox, endpoint.id)

    assert len(sender.posts) == 16  # two deliveries, eight attempts each; the third is not sent
    assert turned_off.disabled_at is not None and turned_off.failing_since == failing_from
    [notice] = wiring.queued("webhook_disabled")
    assert notice.recipient == mailbox.billing_email
    assert endpoint.url in notice.text and "HTTP 500" in notice.text
    with pytest.raises(WebhookDisabled):
        await wiring.webhooks.send_test(mailbox, endpoint.id)


async def test_an_endpoint_turned_off_is_turned_on_again_and_sends_what_was_pending(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()
    endpoint = (await wiring.webhooks.register(mailbox, "https://hooks.example.com/", None, None)).endpoint
    sending = worker(wiring, AnsweringSender([FAILING] * 16 + [OK]))
    for _ in range(2):
        await renewed(wiring, mailbox)
        for _ in range(10):
            await sending.drain_once()
            await sending.settle()
            wiring.clock.advance(timedelta(hours=10))
    async with wiring.uow() as uow:  # a delivery still pending when the endpoint was turned off
        pending = await uow.webhooks.add_test_delivery(endpoint.id, wiring.clock.now())
        await uow.commit()
    assert (await wiring.webhooks.endpoint(mailbox, endpoint.id)).disabled_at is not None
    assert await sending.drain_once() == 0  # nothing goes to an endpoint that is off

    enabled = await wiring.webhooks.enable(mailbox, endpoint.id)
    again = await wiring.webhooks.enable(mailbox, endpoint.id)
    sent = await sending.drain_once()
    await sending.settle()

    assert (enabled.disabled_at, enabled.failing_since) == (None, None)
    assert again == enabled
    assert sent == 1
    [delivery] = [
        d for d in await wiring.webhooks.deliveries(mailbox, endpoint.id, 10, None) if d.id == pending
    ]
    assert delivery.status is DeliveryStatus.SUCCEEDED
    with pytest.raises(NotFound):
        await wiring.webhooks.enable(wiring.paid_mailbox(), endpoint.id)
