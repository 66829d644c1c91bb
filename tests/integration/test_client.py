"""The Python client against the real app: the proof dance, reading, and each error it maps."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from mailservice.client import (
    AgentKey,
    AsyncMailClient,
    AuthenticationFailed,
    Expired,
    InvalidRequest,
    MissingKey,
    NotFound,
    PaymentRequired,
)
from mailservice.client.operations import sender_query
from mailservice.domain.clock import FixedClock
from mailservice.domain.search import parse_query
from tests.support.mail import send, text_message


@pytest.fixture
def mail(client: httpx.AsyncClient) -> AsyncMailClient:
    return AsyncMailClient(str(client.base_url), key=AgentKey.generate(), http=client)


async def paid(mail: AsyncMailClient, client: httpx.AsyncClient) -> str:
    claimed = await mail.claim("billing@example.com")
    assert claimed.payment_url is not None
    assert (await client.get(claimed.payment_url)).status_code == 200
    return claimed.email


async def test_claim_of_a_new_key_waits_for_payment_and_resolve_says_where_to_pay(
    mail: AsyncMailClient,
) -> None:
    claimed = await mail.claim("billing@example.com")

    assert claimed.status == "pending_payment"
    assert claimed.payment_url is not None
    with pytest.raises(PaymentRequired) as refused:
        await mail.resolve()
    assert refused.value.status_code == 409
    assert refused.value.payment_url == claimed.payment_url
    status = await mail.status()
    assert (status.status, status.payment_url, status.mailbox_id) == (
        "pending_payment",
        claimed.payment_url,
        claimed.id,
    )


async def test_claiming_again_with_the_same_key_returns_the_same_mailbox(mail: AsyncMailClient) -> None:
    first = await mail.claim("billing@example.com")
    second = await mail.claim("billing@example.com")

    assert (second.id, second.email, second.payment_url) == (first.id, first.email, first.payment_url)


async def test_a_key_that_never_claimed_is_not_found(mail: AsyncMailClient) -> None:
    with pytest.raises(NotFound):
        await mail.resolve()
    status = await mail.status()
    assert status.status == "not_claimed"
    assert mail.access_token is None


async def test_a_bad_billing_email_is_an_invalid_request(mail: AsyncMailClient) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await mail.claim("not an address")
    assert refused.value.status_code == 400


async def test_paid_mailbox_is_active_and_reads_its_mail(
    mail: AsyncMailClient, client: httpx.AsyncClient, smtp_port: int
) -> None:
    address = await paid(mail, client)
    await send(smtp_port, text_message(address, "Welcome", "Hello agent.\n"), [address])

    status = await mail.status()
    listing = await mail.list_messages()
    message = await mail.get_message(listing.messages[0].uid)
    safe = await mail.safe_text(message.uid)
    events = await mail.events()

    assert (status.status, status.email) == ("active", address)
    assert status.expires_at is not None
    assert [m.subject for m in listing.messages] == ["Welcome"]
    assert message.text is not None and "Hello agent." in message.text
    assert safe.untrusted and "Hello agent." in safe.text
    assert [(e.type, e.data["subject"]) for e in events.events] == [("message.received", "Welcome")]
    assert (await mail.events(after=events.next_after)).events == []


async def test_verification_code_is_taken_from_unread_mail_once(
    mail: AsyncMailClient, client: httpx.AsyncClient, smtp_port: int
) -> None:
    address = await paid(mail, client)
    await send(smtp_port, text_message(address, "Sign in", "Your verification code is 482913.\n"), [address])

    code = await mail.verification_code(seconds=5)
    again = await mail.verification_code(seconds=0)

    assert code is not None
    assert (code.code, code.subject, code.sender) == ("482913", "Sign in", "a@example.org")
    assert again is None
    assert (await mail.get_message(code.uid)).seen


async def test_verification_code_reads_a_spaced_code(
    mail: AsyncMailClient, client: httpx.AsyncClient, smtp_port: int
) -> None:
    address = await paid(mail, client)
    await send(
        smtp_port, text_message(address, "Your sign-in code", "Enter this code: 55 21 90\n"), [address]
    )

    found = await mail.verification_code(seconds=5)

    assert found is not None and found.code == "552190" and found.link is None


async def test_verification_code_gives_the_link_of_a_mail_that_has_only_a_magic_link(
    mail: AsyncMailClient, client: httpx.AsyncClient, smtp_port: int
) -> None:
    address = await paid(mail, client)
    body = "Click to sign in: https://app.example.com/auth/magic?token=abcDEF1234567890xyz\n"
    await send(smtp_port, text_message(address, "Sign in to Example", body), [address])

    found = await mail.verification_code(seconds=5)

    assert found is not None
    assert found.code is None
    assert found.link == "https://app.example.com/auth/magic?token=abcDEF1234567890xyz"
    assert found.link_kind == "magic-link"
    assert "sign in" in found.context.lower()


async def test_verification_code_prefers_the_newest_unread_mail(
    mail: AsyncMailClient, client: httpx.AsyncClient, smtp_port: int
) -> None:
    address = await paid(mail, client)
    await send(smtp_port, text_message(address, "Old code", "Your verification code is 111111.\n"), [address])
    await send(smtp_port, text_message(address, "New code", "Your verification code is 222222.\n"), [address])

    found = await mail.verification_code(seconds=5)

    assert found is not None and found.code == "222222"


async def test_verification_code_from_an_unverified_sender_is_skipped_when_verification_is_required(
    mail: AsyncMailClient, client: httpx.AsyncClient, smtp_port: int
) -> None:
    # Sender authentication is off in tests, so no message has a verified domain.
    address = await paid(mail, client)
    body = "Your verification code is 739204.\n"
    await send(smtp_port, text_message(address, "Sign in", body, sender="no-reply@example.com"), [address])

    any_verified = await mail.verification_code(seconds=0.5, require_verified=True)
    from_domain = await mail.verification_code(seconds=0.5, from_domain="example.com")
    unfiltered = await mail.verification_code(seconds=5)

    assert any_verified is None and from_domain is None
    assert unfiltered is not None and unfiltered.code == "739204"


def test_the_verified_sender_terms_are_added_to_the_query() -> None:
    assert sender_query(None, require_verified=False, from_domain=None) is None
    assert sender_query("subject:code", require_verified=True, from_domain=None) == "subject:code is:verified"
    assert sender_query(None, require_verified=True, from_domain="example.com") == "from-verified:example.com"
    assert sender_query("is:unread", False, "example.com") == "is:unread from-verified:example.com"
    assert parse_query(sender_query("code", False, " Example.COM ")).verified_domains == ("example.com",)


async def test_a_from_domain_that_is_not_a_domain_is_refused(
    mail: AsyncMailClient, client: httpx.AsyncClient
) -> None:
    await paid(mail, client)

    with pytest.raises(InvalidRequest) as refused:
        await mail.verification_code(seconds=0, from_domain="example.com evil")

    assert "from-verified" in refused.value.message


async def test_wait_returns_a_message_newer_than_the_given_uid(
    mail: AsyncMailClient, client: httpx.AsyncClient, smtp_port: int
) -> None:
    address = await paid(mail, client)
    await send(smtp_port, text_message(address, "First"), [address])
    await send(smtp_port, text_message(address, "Second"), [address])

    first = await mail.wait(seconds=5, after_uid=0)
    second = await mail.wait(seconds=5, after_uid=first.uid if first else 0)
    nothing = await mail.wait(seconds=0, after_uid=second.uid if second else 0)
    newest_unread = await mail.wait(seconds=0)

    assert first is not None and first.subject == "First"
    assert second is not None and second.subject == "Second"
    assert nothing is None
    assert newest_unread is not None and newest_unread.subject == "Second"


async def test_an_expired_mailbox_is_refused_with_when_it_expired(
    mail: AsyncMailClient, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    await paid(mail, client)
    await mail.resolve()
    clock.advance(timedelta(days=40))

    with pytest.raises(Expired) as reading:
        await mail.list_messages()
    with pytest.raises(Expired) as resolving:
        await mail.resolve()

    assert reading.value.status_code == 409
    assert resolving.value.expired_at is not None
    assert (await mail.status()).status == "expired"


async def test_renew_brings_an_expired_mailbox_back_once_paid(
    mail: AsyncMailClient, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    await paid(mail, client)
    clock.advance(timedelta(days=40))

    renewed = await mail.renew("renewals@example.com")
    assert (renewed.status, renewed.usable, renewed.access_token) == ("expired", False, None)
    assert renewed.payment_url is not None
    assert (await client.get(renewed.payment_url)).status_code == 200

    assert (await mail.status()).status == "active"
    assert (await mail.list_messages()).messages == []


async def test_a_wrong_access_token_is_an_authentication_failure(client: httpx.AsyncClient) -> None:
    mail = AsyncMailClient(str(client.base_url), access_token="mat_nobody.nothing", http=client)

    with pytest.raises(AuthenticationFailed) as refused:
        await mail.list_messages()
    assert refused.value.status_code == 401


async def test_a_message_of_another_mailbox_is_not_found(
    mail: AsyncMailClient, client: httpx.AsyncClient, smtp_port: int
) -> None:
    other = AsyncMailClient(str(client.base_url), key=AgentKey.generate(), http=client)
    address = await paid(other, client)
    await send(smtp_port, text_message(address), [address])
    uid = (await other.list_messages()).messages[0].uid
    await paid(mail, client)

    with pytest.raises(NotFound):
        await mail.get_message(uid)


async def test_without_key_or_token_the_client_says_what_it_needs(client: httpx.AsyncClient) -> None:
    mail = AsyncMailClient(str(client.base_url), http=client)

    with pytest.raises(MissingKey):
        await mail.claim("billing@example.com")
    with pytest.raises(MissingKey):
        await mail.list_messages()


async def test_status_by_access_token_alone_gives_the_address_id_and_expiry(
    mail: AsyncMailClient, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    address = await paid(mail, client)
    resolved = await mail.resolve()
    reader = AsyncMailClient(str(client.base_url), access_token=resolved.access_token, http=client)

    active = await reader.status()
    clock.advance(timedelta(days=40))
    expired = await reader.status()

    assert (active.status, active.email, active.mailbox_id, active.expires_at) == (
        "active",
        address,
        resolved.mailbox_id,
        resolved.expires_at,
    )
    assert (expired.status, expired.email, expired.mailbox_id) == ("expired", address, resolved.mailbox_id)
    assert resolved.expires_at is not None
    assert expired.expired_at == resolved.expires_at
