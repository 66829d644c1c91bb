"""Claims and payments at the service layer, over the in-memory unit of work: same key, same mailbox;
a payment applies once and extends from the later of now and the expiry; a challenge works once. The
HTTP flow is tested on both databases in tests/integration/test_key_bound_flow.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailservice.domain.agent_events import MAILBOX_RENEWED
from mailservice.domain.errors import InvalidProof, MailboxExpired, PaymentRequired
from mailservice.domain.mailbox import MailboxStatus
from mailservice.domain.payment import CheckoutStatus
from mailservice.services.mailboxes import ClaimResult
from tests.support.keys import AgentKey
from tests.support.service_wiring import NOW, Wiring


@pytest.fixture
def wiring() -> Wiring:
    return Wiring()


async def claim(wiring: Wiring, key: AgentKey, billing_email: str = "payer@example.com") -> ClaimResult:
    return await wiring.mailboxes.claim(billing_email, wiring.proof(key))


def checkout_of(wiring: Wiring, result: ClaimResult) -> str:
    assert result.payment_url is not None
    return result.payment_url.rsplit("/", 1)[-1]


async def test_a_new_key_gets_a_pending_mailbox_and_one_payment_link(wiring: Wiring) -> None:
    key = AgentKey.generate()

    first = await claim(wiring, key)
    second = await claim(wiring, key)

    assert (first.created, first.usable, first.access_token) == (True, False, None)
    assert first.mailbox.status is MailboxStatus.PENDING_PAYMENT
    assert (second.created, second.mailbox.id, second.payment_url) == (
        False,
        first.mailbox.id,
        first.payment_url,
    )
    assert [mail.recipient for mail in wiring.queued("payment_link")] == ["payer@example.com"]
    assert wiring.uow.state.inboxes[first.mailbox.id].highestmodseq == 1


async def test_another_key_gets_another_mailbox(wiring: Wiring) -> None:
    first = await claim(wiring, AgentKey.generate())
    second = await claim(wiring, AgentKey.generate())

    assert first.mailbox.id != second.mailbox.id
    assert first.mailbox.login != second.mailbox.login


async def test_a_challenge_proves_the_key_once(wiring: Wiring) -> None:
    key = AgentKey.generate()
    proof = wiring.proof(key)
    await wiring.mailboxes.claim("payer@example.com", proof)

    with pytest.raises(InvalidProof):
        await wiring.mailboxes.claim("payer@example.com", proof)


async def test_a_payment_applies_once_and_makes_the_claim_usable(wiring: Wiring) -> None:
    key = AgentKey.generate()
    claimed = await claim(wiring, key)
    checkout_id = checkout_of(wiring, claimed)

    paid = await wiring.payments.complete(checkout_id)
    paid_again = await wiring.payments.complete(checkout_id)
    after = await claim(wiring, key)

    assert paid.expires_at == NOW.replace(month=2, day=28)  # Jan 31 + 1 month
    assert paid_again == paid
    assert wiring.uow.state.checkouts[checkout_id].status is CheckoutStatus.PAID
    assert (after.usable, after.payment_url) == (True, None)
    assert after.access_token is not None
    assert wiring.uow.state.event_log == []  # a first payment is no renewal


async def test_a_renewal_paid_early_extends_from_the_expiry_and_tells_the_agent(wiring: Wiring) -> None:
    key = AgentKey.generate()
    await wiring.payments.complete(checkout_of(wiring, await claim(wiring, key)))
    wiring.clock.advance(timedelta(days=20))
    mailbox = (await claim(wiring, key)).mailbox
    renewal = await wiring.payments.request_payment(mailbox, "payer@example.com", renewal=True)
    assert renewal is not None

    renewed = await wiring.payments.complete(renewal.id)

    assert renewed.expires_at == NOW.replace(month=3, day=28)
    [event] = wiring.uow.state.event_log
    assert (event.mailbox_id, event.type, event.data) == (
        mailbox.id,
        MAILBOX_RENEWED,
        {"expires_at": "2026-03-28T12:00:00Z"},
    )
    assert [mail.kind for mail in wiring.queued("renewal_link")] == ["renewal_link"]


async def test_resolve_says_why_a_mailbox_cannot_be_used(wiring: Wiring) -> None:
    key = AgentKey.generate()
    claimed = await claim(wiring, key)

    with pytest.raises(PaymentRequired) as unpaid:
        await wiring.mailboxes.resolve("imap", wiring.proof(key))
    await wiring.payments.complete(checkout_of(wiring, claimed))
    details = await wiring.mailboxes.resolve("pop3", wiring.proof(key))
    wiring.clock.advance(timedelta(days=29))
    with pytest.raises(MailboxExpired):
        await wiring.mailboxes.resolve("imap", wiring.proof(key))

    assert unpaid.value.details["payment_url"] == claimed.payment_url
    assert (details.port, details.username) == (110, claimed.mailbox.login)
    assert wiring.uow.state.mailboxes[claimed.mailbox.id].status is MailboxStatus.EXPIRED


async def test_the_sweep_expires_lapsed_mailboxes_and_forgets_spent_challenges(wiring: Wiring) -> None:
    lapsed = wiring.paid_mailbox(expires_in=timedelta(minutes=-1))
    running = wiring.paid_mailbox(expires_in=timedelta(days=1))
    await claim(wiring, AgentKey.generate())
    wiring.clock.advance(timedelta(hours=1))

    expired = await wiring.mailboxes.expire_lapsed()

    assert expired == 1
    assert wiring.uow.state.mailboxes[lapsed.id].status is MailboxStatus.EXPIRED
    assert wiring.uow.state.mailboxes[running.id].status is MailboxStatus.ACTIVE
    assert wiring.uow.state.used_challenges == {}
