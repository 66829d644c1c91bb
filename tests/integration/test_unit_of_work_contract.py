"""The contract of the unit of work and its repositories (`ports.py`), run against every implementation:
the SQL unit of work on SQLite and on PostgreSQL, and the in-memory one the service tests use
(`tests/support/fake_unit_of_work.py`), so that what those tests assume is what the store does.

Only the ports are used, but for one thing the port leaves to the delivery path: putting a message in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest

from mailservice.adapters.db.database import Database
from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.message_store import GroupCommitMessageStore
from mailservice.adapters.db.retention import SqlRetention
from mailservice.adapters.db.sealed_text import TextSealer
from mailservice.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from mailservice.adapters.db.webhook_queue import SqlDeliveryQueue
from mailservice.adapters.parser_processes import InlineParser
from mailservice.domain.account import AccountTokenKind, new_account, new_account_mailbox
from mailservice.domain.agent_events import MAILBOX_EXPIRING, MAILBOX_RENEWED, mailbox_event
from mailservice.domain.clock import FixedClock
from mailservice.domain.errors import Conflict
from mailservice.domain.events import DomainEvent, NotificationQueued, WebhookQueued
from mailservice.domain.expiry_notice import ExpiryNotice
from mailservice.domain.mailbox import Mailbox, MailboxStatus, new_mailbox
from mailservice.domain.messages import FLAGGED, SEEN, AccessRevoked, Delivery, FolderChanged, MessageCopy
from mailservice.domain.notification import Notification
from mailservice.domain.payment import Checkout, CheckoutStatus
from mailservice.domain.retention import MailboxRetention, RetentionPolicy
from mailservice.domain.search import MessageQuery, parse_query
from mailservice.domain.webhooks import (
    Attempt,
    ClaimRequest,
    DeliveryOutcome,
    DeliveryStatus,
    WebhookEndpoint,
)
from mailservice.ports import DeliveryQueue, RetentionStore, UnitOfWorkFactory
from tests.support.databases import empty_postgres_database, sqlite_copy
from tests.support.fake_unit_of_work import FakeDeliveryQueue, FakeRetention, FakeUnitOfWorkFactory
from tests.support.mail import text_message

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
QUOTA_BYTES = 1_000_000
RETENTION_DEFAULT = RetentionPolicy(30, delete_oldest_read_when_full=False)


@dataclass
class RecordingPublisher:
    published: list[DomainEvent] = field(default_factory=list)

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        self.published.extend(events)


class Deliver(Protocol):
    async def __call__(self, mailbox_id: str, raw: bytes, received_at: datetime = NOW) -> int:
        """Put a message into a mailbox's INBOX as delivery does; its uid."""
        ...


@dataclass
class Store:
    uow: UnitOfWorkFactory
    publisher: RecordingPublisher
    deliver: Deliver
    retention: RetentionStore
    """Policies as `RETENTION_DEFAULT` has them unless a mailbox chose its own."""
    queue: DeliveryQueue


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    publisher = RecordingPublisher()
    parser = InlineParser()
    if request.param == "memory":
        fake = FakeUnitOfWorkFactory(publisher)

        async def deliver_in_memory(mailbox_id: str, raw: bytes, received_at: datetime = NOW) -> int:
            return fake.state.deliver(await _copy(parser, mailbox_id, raw, received_at))

        yield Store(
            fake,
            publisher,
            deliver_in_memory,
            FakeRetention(fake, RETENTION_DEFAULT),
            FakeDeliveryQueue(fake),
        )
        return
    if request.param == "sqlite":
        dsn = sqlite_copy(request.getfixturevalue("sqlite_template_path"), tmp_path)
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        empty_postgres_database(dsn)
    database = Database(async_database_url(dsn))
    messages = GroupCommitMessageStore(database, FixedClock(NOW), QUOTA_BYTES, RecordingPublisher())

    async def deliver_to_database(mailbox_id: str, raw: bytes, received_at: datetime = NOW) -> int:
        copy = await _copy(parser, mailbox_id, raw, received_at)
        [stored] = await messages.store(Delivery((copy,)))
        return stored.uid

    try:
        sql = SqlUnitOfWorkFactory(database, publisher, TextSealer(b"a-secret-for-the-contract-0123456789"))
        retention = SqlRetention(database, RETENTION_DEFAULT, publisher)
        yield Store(sql, publisher, deliver_to_database, retention, SqlDeliveryQueue(database))
    finally:
        await messages.close()
        await database.dispose()


async def _copy(parser: InlineParser, mailbox_id: str, raw: bytes, received_at: datetime) -> MessageCopy:
    return MessageCopy(mailbox_id, raw, await parser.parse(raw), received_at)


def mailbox(fingerprint: str = "sha256:aa", *, expires_in: timedelta | None = None) -> Mailbox:
    created = new_mailbox(fingerprint, "ssh-ed25519 AAAA", "payer@example.com", NOW - timedelta(days=40))
    if expires_in is None:
        return created
    return created.paid_until(NOW + expires_in, NOW - timedelta(days=40))


async def added(store: Store, *mailboxes: Mailbox) -> None:
    async with store.uow() as uow:
        for each in mailboxes:
            await uow.mailboxes.add(each)
            await uow.folders.create_inbox(each.id, each.created_at)
        await uow.commit()


def note(recipient: str = "payer@example.com", dedupe_key: str | None = None) -> Notification:
    return Notification("payment_link", recipient, "Pay", "text", "<p>html</p>", dedupe_key)


# Mailboxes


async def test_an_added_mailbox_is_found_by_id_key_and_login(store: Store) -> None:
    new = mailbox()
    await added(store, new)

    async with store.uow(read_only=True) as uow:
        found = [
            await uow.mailboxes.get(new.id),
            await uow.mailboxes.get_by_fingerprint("sha256:aa"),
            await uow.mailboxes.get_by_login(new.login),
        ]
        missing = await uow.mailboxes.get_by_fingerprint("sha256:bb")

    assert found == [new, new, new]
    assert missing is None


async def test_a_second_mailbox_with_the_same_key_is_a_conflict(store: Store) -> None:
    await added(store, mailbox())

    with pytest.raises(Conflict):
        async with store.uow() as uow:
            await uow.mailboxes.add(mailbox())

    async with store.uow(read_only=True) as uow:
        assert len(await uow.admin.mailbox_ids()) == 1


async def test_leaving_without_commit_keeps_nothing_and_publishes_nothing(store: Store) -> None:
    new = mailbox(expires_in=timedelta(days=3))
    await added(store, new)

    async with store.uow() as uow:
        await uow.mailboxes.update(new.expire(NOW))
        await uow.outbox.enqueue(note(), NOW)

    async with store.uow(read_only=True) as uow:
        assert await uow.mailboxes.get(new.id) == new
        assert await uow.admin.oldest_pending_notification() is None
    assert store.publisher.published == []


async def test_an_expiry_publishes_access_revoked_after_commit(store: Store) -> None:
    lapsed, running = (
        mailbox("sha256:01", expires_in=-timedelta(minutes=1)),
        mailbox("sha256:02", expires_in=timedelta(days=1)),
    )
    await added(store, lapsed, running)

    async with store.uow() as uow:
        count = await uow.mailboxes.expire_lapsed(NOW)
        assert store.publisher.published == []
        await uow.commit()

    async with store.uow(read_only=True) as uow:
        statuses = [(await uow.mailboxes.get(m.id)) for m in (lapsed, running)]
    assert count == 1
    assert [m.status if m else None for m in statuses] == [MailboxStatus.EXPIRED, MailboxStatus.ACTIVE]
    assert store.publisher.published == [AccessRevoked(lapsed.id)]


async def test_a_billing_email_change_leaves_the_rest_alone(store: Store) -> None:
    new = mailbox()
    await added(store, new)

    async with store.uow() as uow:
        await uow.mailboxes.set_billing_email(new.id, "other@example.com", NOW)
        await uow.commit()

    async with store.uow(read_only=True) as uow:
        assert await uow.mailboxes.get(new.id) == replace(
            new, billing_email="other@example.com", updated_at=NOW
        )


async def test_a_notice_is_due_once_per_expiry_and_only_for_key_bound_mailboxes(store: Store) -> None:
    soon, later = (
        mailbox("sha256:01", expires_in=timedelta(days=2)),
        mailbox("sha256:02", expires_in=timedelta(days=1)),
    )
    far = mailbox("sha256:03", expires_in=timedelta(days=30))
    account = new_account("owner@example.com", NOW)
    keyless = new_account_mailbox(replace(account, subscription_expires_at=NOW + timedelta(days=1)), NOW)
    await added(store, soon, later, far, keyless)
    reminder = ExpiryNotice.REMINDER

    async with store.uow() as uow:
        due = await uow.mailboxes.due_for_notice(reminder, NOW, NOW + timedelta(days=7), 10)
        first = await uow.mailboxes.mark_notice_sent(soon.id, reminder, NOW + timedelta(days=2))
        again = await uow.mailboxes.mark_notice_sent(soon.id, reminder, NOW + timedelta(days=2))
        stale = await uow.mailboxes.mark_notice_sent(later.id, reminder, NOW + timedelta(days=5))
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        left = await uow.mailboxes.due_for_notice(reminder, NOW, NOW + timedelta(days=7), 10)
        expired_due = await uow.mailboxes.due_for_notice(
            ExpiryNotice.EXPIRED, NOW, NOW + timedelta(days=7), 10
        )

    assert [m.id for m in due] == [later.id, soon.id]
    assert (first, again, stale) == (True, False, False)
    assert [m.id for m in left] == [later.id]
    assert expired_due == []


async def test_usage_counts_delivered_bytes_and_purging_an_expired_mailbox_deletes_its_mail(
    store: Store,
) -> None:
    gone, kept = (
        mailbox("sha256:01", expires_in=-timedelta(days=10)),
        mailbox("sha256:02", expires_in=timedelta(days=1)),
    )
    await added(store, gone, kept)
    raw = text_message("x@agents.test").replace(b"\n", b"\r\n")
    for each in (gone, gone, kept):
        await store.deliver(each.id, raw)
    async with store.uow() as uow:
        await uow.mailboxes.expire_lapsed(NOW)
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        inbox_id, modseq = await uow.folders.inbox_state(gone.id)
    published = len(store.publisher.published)

    async with store.uow() as uow:
        before = await uow.mailboxes.usage(gone.id)
        purged = await uow.mailboxes.purge_mail_of_expired(NOW - timedelta(days=7))
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        after = [await uow.mailboxes.usage(m.id) for m in (gone, kept)]
        unknown = await uow.mailboxes.usage("no-such-mailbox")
        inbox_after = await uow.folders.inbox_state(gone.id)

    assert before == (None, 2 * len(raw))
    assert purged == 2
    assert after == [(None, 0), (None, len(raw))]
    assert unknown == (None, 0)
    # Told as any expunge is: the folder's modseq raised once, and its sessions and snapshots told.
    assert inbox_after == (inbox_id, modseq + 1)
    assert store.publisher.published[published:] == [FolderChanged(gone.id, inbox_id, modseq + 1)]


# Messages


async def test_flags_and_delete_change_the_inbox_once_and_say_so_after_commit(store: Store) -> None:
    owner = mailbox(expires_in=timedelta(days=1))
    await added(store, owner)
    raw = text_message("x@agents.test", subject="Code 123456").replace(b"\n", b"\r\n")
    first, second = await store.deliver(owner.id, raw), await store.deliver(owner.id, raw)
    async with store.uow(read_only=True) as uow:
        folder_id, start = await uow.folders.inbox_state(owner.id)

    async with store.uow() as uow:
        seen = await uow.messages.set_flags(owner.id, first, {SEEN}, set())
        unchanged = await uow.messages.set_flags(owner.id, first, {SEEN}, set())
        deleted = await uow.messages.delete(owner.id, second)
        deleted_again = await uow.messages.delete(owner.id, second)
        missing = await uow.messages.set_flags(owner.id, 99, {SEEN}, set())
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        listed = await uow.messages.find(owner.id, MessageQuery(), limit=10)
        raw_back = await uow.messages.raw(owner.id, first)
        gone = await uow.messages.raw(owner.id, second)
        _, end = await uow.folders.inbox_state(owner.id)

    assert seen is not None and seen.flags == {SEEN} and seen.text is None
    assert unchanged == seen
    assert (deleted, deleted_again, missing) == (True, False, None)
    assert [(m.uid, m.subject, m.seen) for m in listed] == [(first, "Code 123456", True)]
    assert raw_back == raw and gone is None
    assert store.publisher.published == [
        FolderChanged(owner.id, folder_id, start + 1),
        FolderChanged(owner.id, folder_id, start + 2),
    ]
    assert end == start + 2


async def test_listing_pages_by_uid_in_either_order(store: Store) -> None:
    owner = mailbox(expires_in=timedelta(days=1))
    await added(store, owner)
    raw = text_message("x@agents.test", body="the body text\n").replace(b"\n", b"\r\n")
    uids = [await store.deliver(owner.id, raw) for _ in range(4)]

    async with store.uow(read_only=True) as uow:
        newest = await uow.messages.find(owner.id, MessageQuery(), limit=2)
        older = await uow.messages.find(owner.id, MessageQuery(), limit=2, before_uid=newest[-1].uid)
        after = await uow.messages.find(
            owner.id, MessageQuery(), limit=10, after_uid=uids[1], newest_first=False
        )
        with_text = await uow.messages.get(owner.id, uids[0])
        without = await uow.messages.get(owner.id, uids[0], with_text=False)

    assert [m.uid for m in newest + older] == uids[::-1]
    assert [m.uid for m in after] == uids[2:]
    assert with_text is not None and "the body text" in (with_text.text or "")
    assert without is not None and without.text is None


async def test_the_terms_imap_search_shares_find_alike_in_every_store(store: Store) -> None:
    owner = mailbox(expires_in=timedelta(days=1))
    await added(store, owner)
    raw = text_message("x@agents.test").replace(b"\n", b"\r\n")
    days = [NOW - timedelta(days=3), NOW - timedelta(days=2, seconds=1), NOW - timedelta(days=2), NOW]
    uids = [await store.deliver(owner.id, raw, received_at=day) for day in days]
    async with store.uow() as uow:
        await uow.messages.set_flags(owner.id, uids[0], {SEEN, FLAGGED}, set())
        await uow.messages.set_flags(owner.id, uids[2], {SEEN}, set())
        await uow.commit()

    async def found(q: str) -> list[int]:
        async with store.uow(read_only=True) as uow:
            return [
                m.uid for m in await uow.messages.find(owner.id, parse_query(q), limit=10, newest_first=False)
            ]

    two_days_ago = (NOW - timedelta(days=2)).isoformat()
    assert await found("is:unread") == [uids[1], uids[3]]
    assert await found("is:read") == [uids[0], uids[2]]
    assert await found("is:flagged") == [uids[0]]
    assert await found(f"after:{two_days_ago}") == uids[2:]
    assert await found(f"before:{two_days_ago}") == uids[:2]
    assert await found(f"is:read after:{two_days_ago} before:{NOW.isoformat()}") == [uids[2]]


# Checkouts, payment events, challenges


def checkout(checkout_id: str, mailbox_id: str, created_at: datetime) -> Checkout:
    return Checkout(
        checkout_id, mailbox_id, "mock", f"https://pay.test/{checkout_id}", CheckoutStatus.OPEN, 1, created_at
    )


async def test_checkouts_are_marked_once_and_paged_while_open(store: Store) -> None:
    owner = mailbox()
    await added(store, owner)
    async with store.uow() as uow:
        for number in range(3):
            await uow.checkouts.add(checkout(f"co_{number}", owner.id, NOW + timedelta(minutes=number)))
        await uow.commit()

    async with store.uow() as uow:
        paid = await uow.checkouts.mark("co_1", CheckoutStatus.PAID, NOW)
        paid_again = await uow.checkouts.mark("co_1", CheckoutStatus.PAID, NOW + timedelta(hours=1))
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        latest = await uow.checkouts.latest_for_mailbox(owner.id)
        first_page = await uow.checkouts.open_after("", 1)
        second_page = await uow.checkouts.open_after(first_page[-1].id, 10)
        stored = await uow.checkouts.get("co_1")
        none = await uow.checkouts.latest_for_mailbox("nobody")

    assert (paid, paid_again) == (True, False)
    assert stored is not None and (stored.status, stored.paid_at) == (CheckoutStatus.PAID, NOW)
    assert latest is not None and latest.id == "co_2"
    assert [c.id for c in first_page + second_page] == ["co_0", "co_2"]
    assert none is None


async def test_of_checkouts_made_at_the_same_instant_the_open_one_is_the_latest(store: Store) -> None:
    """A fixed or coarse clock can give a paid checkout and the next one the same time: the one to reuse
    is the open one, whatever order the database returns ties in."""
    owner = mailbox()
    await added(store, owner)
    async with store.uow() as uow:
        for number in range(4):
            await uow.checkouts.add(checkout(f"co_{number}", owner.id, NOW))
        for number in (0, 1, 3):
            await uow.checkouts.mark(f"co_{number}", CheckoutStatus.PAID, NOW)
        await uow.commit()

    async with store.uow(read_only=True) as uow:
        latest = await uow.checkouts.latest_for_mailbox(owner.id)

    assert latest is not None and latest.id == "co_2"


async def test_a_payment_event_and_a_challenge_count_once_until_forgotten(store: Store) -> None:
    async with store.uow() as uow:
        recorded = [
            await uow.payment_events.record("polar", "evt_1", "order.paid", NOW - timedelta(days=40)),
            await uow.payment_events.record("polar", "evt_1", "order.paid", NOW),
            await uow.payment_events.record("stripe", "evt_1", "checkout.completed", NOW),
        ]
        consumed = [
            await uow.challenges.consume("nonce-1", NOW - timedelta(minutes=1)),
            await uow.challenges.consume("nonce-1", NOW - timedelta(minutes=1)),
            await uow.challenges.consume("nonce-2", NOW + timedelta(minutes=5)),
        ]
        await uow.commit()

    async with store.uow() as uow:
        forgotten = await uow.payment_events.forget_before(NOW - timedelta(days=35))
        purged = await uow.challenges.purge_expired(NOW)
        await uow.commit()
    async with store.uow() as uow:
        after = [
            await uow.payment_events.record("polar", "evt_1", "order.paid", NOW),
            await uow.challenges.consume("nonce-1", NOW),
            await uow.challenges.consume("nonce-2", NOW),
        ]

    assert recorded == [True, False, True]
    assert consumed == [True, False, True]
    assert (forgotten, purged) == (1, 1)
    assert after == [True, True, False]


# The notification outbox


async def test_the_outbox_leases_due_notifications_until_the_lease_ends_and_retries_failures(
    store: Store,
) -> None:
    async with store.uow() as uow:
        await uow.outbox.enqueue(note("a@example.com", "link:1"), NOW)
        await uow.outbox.enqueue(note("b@example.com"), NOW + timedelta(minutes=1))
        await uow.commit()
    assert store.publisher.published == [NotificationQueued(), NotificationQueued()]

    lease = NOW + timedelta(minutes=5)
    async with store.uow() as uow:
        claimed = await uow.outbox.claim_due(NOW, lease, 10)
        await uow.commit()
    async with store.uow() as uow:
        during_lease = await uow.outbox.claim_due(NOW + timedelta(minutes=2), lease, 10)
        [first, second] = await uow.outbox.claim_due(lease, lease + timedelta(minutes=5), 10)
        await uow.outbox.mark_sent(first.id, lease)
        await uow.outbox.mark_failed(second.id, "boom", lease + timedelta(hours=1), lease)
        await uow.commit()
    async with store.uow() as uow:
        retried = await uow.outbox.claim_due(lease + timedelta(hours=1), lease + timedelta(hours=2), 10)
        await uow.outbox.mark_failed(retried[0].id, "boom", None, lease)
        dedupe = [
            await uow.outbox.recently_queued("link:1", NOW),
            await uow.outbox.recently_queued("link:1", NOW + timedelta(seconds=1)),
        ]
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        counts = (await uow.admin.counts())["outbox"]
        oldest = await uow.admin.oldest_pending_notification()

    assert [(c.notification.recipient, c.attempts) for c in claimed] == [("a@example.com", 0)]
    assert claimed[0].notification == note("a@example.com", "link:1")
    assert [c.notification.recipient for c in during_lease] == ["b@example.com"]
    assert [(c.notification.recipient, c.attempts) for c in retried] == [("b@example.com", 1)]
    assert dedupe == [True, False]
    assert counts == {"sent": 1, "failed": 1}
    assert oldest is None


# Accounts and their tokens


async def test_an_account_is_unique_by_email_and_found_by_its_api_token(store: Store) -> None:
    account = new_account("owner@example.com", NOW)
    async with store.uow() as uow:
        await uow.accounts.add(account, "hash-1")
        with pytest.raises(Conflict):
            await uow.accounts.add(new_account("owner@example.com", NOW), "hash-2")
        await uow.commit()

    async with store.uow() as uow:
        await uow.accounts.set_api_token_hash(account.id, "hash-3", NOW + timedelta(hours=1))
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        by_old = await uow.accounts.get_by_api_token_hash("hash-1")
        by_new = await uow.accounts.get_by_api_token_hash("hash-3")
        by_email = await uow.accounts.get_by_email("owner@example.com")

    assert by_old is None
    assert by_new == by_email == replace(account, updated_at=NOW + timedelta(hours=1))


async def test_one_recovery_e_mail_per_interval(store: Store) -> None:
    account = new_account("owner@example.com", NOW)
    async with store.uow() as uow:
        await uow.accounts.add(account, "hash-1")
        claimed = [
            await uow.accounts.claim_recovery_slot(account.id, NOW - timedelta(minutes=1), NOW),
            await uow.accounts.claim_recovery_slot(account.id, NOW - timedelta(seconds=30), NOW),
            await uow.accounts.claim_recovery_slot(account.id, NOW, NOW + timedelta(minutes=1)),
        ]
        await uow.commit()

    assert claimed == [True, False, True]


async def test_paying_an_account_activates_every_mailbox_of_it(store: Store) -> None:
    account = new_account("owner@example.com", NOW)
    first, second = (
        new_account_mailbox(account, NOW),
        new_account_mailbox(account, NOW + timedelta(seconds=1)),
    )
    async with store.uow() as uow:
        await uow.accounts.add(account, "hash-1")
        await uow.commit()
    await added(store, first, second)

    async with store.uow(read_only=True) as uow:
        pending = await uow.accounts.pending_mailbox(account.id)
    async with store.uow() as uow:
        renewed = account.extend_subscription(1, NOW)
        await uow.accounts.update(renewed)
        await uow.accounts.activate_mailboxes(account.id, NOW, NOW + timedelta(days=28))
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        mailboxes = await uow.accounts.mailboxes(account.id)
        pending_after = await uow.accounts.pending_mailbox(account.id)
        stored = await uow.accounts.get(account.id)

    assert pending == first
    assert [(m.id, m.status, m.expires_at) for m in mailboxes] == [
        (first.id, MailboxStatus.ACTIVE, NOW + timedelta(days=28)),
        (second.id, MailboxStatus.ACTIVE, NOW + timedelta(days=28)),
    ]
    assert pending_after is None
    assert stored == renewed


async def test_a_token_is_spent_once_before_it_expires_and_revoking_spends_the_rest(store: Store) -> None:
    account = new_account("owner@example.com", NOW)
    refresh, recovery = AccountTokenKind.REFRESH, AccountTokenKind.RECOVERY
    async with store.uow() as uow:
        await uow.accounts.add(account, "hash-1")
        await uow.account_tokens.add("t1", account.id, refresh, NOW + timedelta(days=1), NOW)
        await uow.account_tokens.add("t2", account.id, refresh, NOW + timedelta(days=1), NOW)
        await uow.account_tokens.add("t3", account.id, recovery, NOW + timedelta(minutes=10), NOW)
        await uow.commit()

    later = NOW + timedelta(minutes=20)
    async with store.uow() as uow:
        usable = [
            await uow.account_tokens.usable_account("t1", refresh, NOW),
            await uow.account_tokens.usable_account("t1", recovery, NOW),
            await uow.account_tokens.usable_account("t3", recovery, later),
        ]
        spent = [
            await uow.account_tokens.use("t1", refresh, NOW),
            await uow.account_tokens.use("t1", refresh, NOW),
            await uow.account_tokens.use("t3", recovery, later),
        ]
        revoked = await uow.account_tokens.revoke_all(account.id, refresh, NOW)
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        after = await uow.account_tokens.usable_account("t2", refresh, NOW)

    assert usable == [account.id, None, None]
    assert spent == [account.id, None, None]
    assert revoked == 1
    assert after is None


# Support messages, admin, the event log


async def test_support_messages_are_counted_per_key_since_a_moment(store: Store) -> None:
    async with store.uow() as uow:
        await uow.support_messages.add("sha256:aa", "Help", NOW - timedelta(hours=2))
        await uow.support_messages.add("sha256:aa", "Help", NOW)
        await uow.support_messages.add("sha256:bb", "Help", NOW)
        await uow.commit()

    async with store.uow(read_only=True) as uow:
        counts = [
            await uow.support_messages.count_since("sha256:aa", NOW - timedelta(hours=1)),
            await uow.support_messages.count_since("sha256:aa", NOW - timedelta(hours=3)),
            await uow.support_messages.count_since("sha256:aa", NOW),
        ]

    assert counts == [1, 2, 0]


async def test_rotating_credentials_raises_the_epoch_and_revokes_access(store: Store) -> None:
    new = mailbox(expires_in=timedelta(days=1))
    await added(store, new)

    async with store.uow() as uow:
        await uow.admin.rotate_credentials(new.id, NOW)
        had_inbox = await uow.admin.ensure_inbox(new.id, NOW)
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        stored = await uow.mailboxes.get(new.id)
        counts = await uow.admin.counts()

    assert stored == replace(new, credential_epoch=1, updated_at=NOW)
    assert had_inbox is False
    assert store.publisher.published == [AccessRevoked(new.id)]
    assert counts["mailboxes"] == {"active": 1}
    assert counts["accounts"] == {"total": 0}


async def test_agent_events_are_logged_at_commit_in_order(store: Store) -> None:
    first, second = mailbox("sha256:01"), mailbox("sha256:02")
    await added(store, first, second)
    expiry = NOW + timedelta(days=30)

    async with store.uow() as uow:
        uow.record(mailbox_event(first.id, MAILBOX_RENEWED, NOW - timedelta(days=10), expiry))
        uow.record(mailbox_event(second.id, MAILBOX_RENEWED, NOW, expiry))
        uow.record(mailbox_event(first.id, MAILBOX_RENEWED, NOW, expiry))
        assert await uow.event_log.latest_id(first.id) == 0
        await uow.commit()
    async with store.uow() as uow:
        uow.record(mailbox_event(first.id, MAILBOX_RENEWED, NOW, expiry))  # rolled back
    async with store.uow() as uow:
        logged = await uow.event_log.read_after(first.id, 0, 10)
        latest = await uow.event_log.latest_id(first.id)
        deleted = await uow.event_log.delete_before(NOW - timedelta(days=1), 10)
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        remaining = await uow.event_log.read_after(first.id, 0, 10)

    assert [(e.type, e.occurred_at, e.data) for e in logged] == [
        (MAILBOX_RENEWED, NOW - timedelta(days=10), {"expires_at": "2026-03-02T12:00:00Z"}),
        (MAILBOX_RENEWED, NOW, {"expires_at": "2026-03-02T12:00:00Z"}),
    ]
    assert logged[0].id < logged[1].id == latest
    assert deleted == 1
    assert remaining == logged[1:]


# Webhooks


def endpoint(endpoint_id: str, owner: Mailbox, *events: str, minutes: int = 0) -> WebhookEndpoint:
    return WebhookEndpoint(
        endpoint_id,
        owner.id,
        f"https://hooks.test/{endpoint_id}",
        events,
        None,
        NOW + timedelta(minutes=minutes),
    )


async def with_endpoints(store: Store, *endpoints: WebhookEndpoint) -> None:
    async with store.uow() as uow:
        for each in endpoints:
            await uow.webhooks.add(each)
        await uow.commit()


async def test_endpoints_belong_to_their_mailbox_and_take_their_deliveries_with_them(store: Store) -> None:
    owner, other = mailbox("sha256:01"), mailbox("sha256:02")
    await added(store, owner, other)
    await with_endpoints(store, endpoint("ep2", owner, MAILBOX_RENEWED, minutes=1), endpoint("ep1", owner))
    async with store.uow() as uow:
        test_delivery = await uow.webhooks.add_test_delivery("ep2", NOW)
        await uow.commit()

    async with store.uow() as uow:
        listed = [e.id for e in await uow.webhooks.endpoints(owner.id)]
        foreign = await uow.webhooks.endpoint(other.id, "ep2")
        removed = [await uow.webhooks.remove(other.id, "ep2"), await uow.webhooks.remove(owner.id, "ep2")]
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        after = [e.id for e in await uow.webhooks.endpoints(owner.id)]
        orphan = await uow.webhooks.delivery("ep2", test_delivery)

    assert listed == ["ep1", "ep2"]
    assert foreign is None
    assert removed == [False, True]
    assert after == ["ep1"]
    assert orphan is None
    assert store.publisher.published == [WebhookQueued()]


async def test_an_endpoint_turned_off_is_turned_on_again_healthy(store: Store) -> None:
    owner = mailbox()
    await added(store, owner)
    await with_endpoints(store, endpoint("ep1", owner), endpoint("ep2", owner))
    async with store.uow() as uow:
        await uow.webhooks.endpoint_answered("ep1", False, NOW)
        await uow.webhooks.disable("ep1", NOW)
        await uow.commit()
    store.publisher.published.clear()

    async with store.uow() as uow:
        counted = [e.id for e in await uow.webhooks.endpoints_for_update(owner.id)]
        await uow.webhooks.enable("ep1")
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        enabled = await uow.webhooks.endpoint(owner.id, "ep1")

    assert counted == ["ep1", "ep2"]
    assert enabled is not None and (enabled.disabled_at, enabled.failing_since) == (None, None)
    assert store.publisher.published == [WebhookQueued()]


async def test_a_logged_event_queues_one_delivery_per_enabled_endpoint_that_wants_it(store: Store) -> None:
    owner = mailbox()
    await added(store, owner)
    await with_endpoints(
        store,
        endpoint("ep1", owner, MAILBOX_RENEWED),
        endpoint("ep2", owner, MAILBOX_EXPIRING),
        endpoint("ep3", owner, MAILBOX_RENEWED, MAILBOX_EXPIRING),
    )
    async with store.uow() as uow:
        assert await uow.webhooks.disable("ep3", NOW)
        assert not await uow.webhooks.disable("ep3", NOW)
        await uow.commit()

    async with store.uow() as uow:
        uow.record(mailbox_event(owner.id, MAILBOX_RENEWED, NOW - timedelta(days=10), NOW))
        await uow.commit()
    async with store.uow() as uow:
        [event] = await uow.event_log.read_after(owner.id, 0, 10)
        queued = {e: await uow.webhooks.deliveries(e, 10) for e in ("ep1", "ep2", "ep3")}
        kept = await uow.event_log.delete_before(NOW, 10)
        await uow.commit()

    [delivery] = queued["ep1"]
    assert (delivery.event_id, delivery.event_type, delivery.status) == (
        event.id,
        MAILBOX_RENEWED,
        DeliveryStatus.PENDING,
    )
    assert (delivery.attempts, delivery.next_attempt_at, delivery.history) == (
        0,
        NOW - timedelta(days=10),
        (),
    )
    assert queued["ep2"] == queued["ep3"] == []
    assert kept == 0  # a pending delivery still waits for it


async def test_deliveries_are_leased_within_each_endpoints_room_and_attempts_are_kept(store: Store) -> None:
    owner = mailbox()
    await added(store, owner)
    await with_endpoints(store, endpoint("ep1", owner), endpoint("ep2", owner))
    async with store.uow() as uow:
        ids = [await uow.webhooks.add_test_delivery(e, NOW) for e in ("ep1", "ep1", "ep1", "ep2", "ep2")]
        await uow.commit()

    lease = NOW + timedelta(minutes=1)
    claimed = await store.queue.claim(ClaimRequest(NOW, lease, 10, {"ep2": 0}, 2))
    again = await store.queue.claim(ClaimRequest(NOW, lease, 10, {}, 5))
    first, second = claimed[0].delivery, claimed[1].delivery
    nothing_left = await store.queue.record(
        [
            DeliveryOutcome(first.id, "ep1", Attempt(NOW, 500, 12, "x" * 600), DeliveryStatus.PENDING, lease),
            DeliveryOutcome(second.id, "ep1", Attempt(NOW, 200, 3, None), DeliveryStatus.SUCCEEDED, NOW),
        ],
        ClaimRequest(NOW, lease, 10, {}, 5),
    )
    async with store.uow() as uow:
        await uow.webhooks.record_attempt(
            again[1].delivery, Attempt(NOW, None, 10_000, "timed out"), DeliveryStatus.FAILED, NOW
        )
        await uow.webhooks.mark_skipped(again[0].delivery.id)
        failing = [
            await uow.webhooks.endpoint_answered("ep1", False, NOW),
            await uow.webhooks.endpoint_answered("ep1", False, lease),
            await uow.webhooks.endpoint_answered("ep2", True, lease),
        ]
        await uow.webhooks.send_again(second.id, lease)
        await uow.commit()
    async with store.uow(read_only=True) as uow:
        history = await uow.webhooks.deliveries("ep1", 10)
        given_up = await uow.webhooks.delivery("ep2", ids[3])
        older = await uow.webhooks.deliveries("ep1", 10, before_id=ids[2])
        one = await uow.webhooks.delivery("ep1", ids[0])

    assert [(c.delivery.id, c.endpoint.id, c.event) for c in claimed] == [
        (ids[0], "ep1", None),
        (ids[1], "ep1", None),
    ]
    assert [c.delivery.id for c in again] == [ids[2], ids[3], ids[4]]
    assert [(d.id, d.status, d.attempts) for d in history] == [
        (ids[2], DeliveryStatus.SKIPPED, 0),
        (ids[1], DeliveryStatus.PENDING, 1),
        (ids[0], DeliveryStatus.PENDING, 1),
    ]
    assert [d.id for d in older] == [ids[1], ids[0]]
    assert one is not None and one.history == (Attempt(NOW, 500, 12, "x" * 500),)
    assert history[1].next_attempt_at == lease
    assert nothing_left == []
    assert given_up is not None and (given_up.status, given_up.attempts) == (DeliveryStatus.FAILED, 1)
    assert failing == [NOW, NOW, None]


# Retention


async def test_a_mailbox_follows_the_default_policy_until_it_chooses_its_own(store: Store) -> None:
    owner = mailbox()
    await added(store, owner)

    before = await store.retention.get(owner.id)
    await store.retention.set(owner.id, RetentionPolicy(None, delete_oldest_read_when_full=True))
    after = await store.retention.get(owner.id)

    assert before == MailboxRetention(RETENTION_DEFAULT, is_default=True)
    assert after == MailboxRetention(RetentionPolicy(None, True), is_default=False)


async def test_room_can_be_made_only_by_a_policy_that_allows_it_and_only_from_read_mail(store: Store) -> None:
    owner = mailbox(expires_in=timedelta(days=1))
    await added(store, owner)
    uid = await store.deliver(owner.id, text_message("x@agents.test").replace(b"\n", b"\r\n"))

    default_policy = await store.retention.can_make_room(owner.id)
    await store.retention.set(owner.id, RetentionPolicy(None, delete_oldest_read_when_full=True))
    nothing_read = await store.retention.can_make_room(owner.id)
    async with store.uow() as uow:
        await uow.messages.set_flags(owner.id, uid, {SEEN}, set())
        await uow.commit()
    something_read = await store.retention.can_make_room(owner.id)

    assert (default_policy, nothing_read, something_read) == (False, False, True)


async def test_mail_past_its_mailboxs_age_is_deleted_in_batches_and_said_so(store: Store) -> None:
    own, default, forever = mailbox("sha256:01"), mailbox("sha256:02"), mailbox("sha256:03")
    await added(store, own, default, forever)
    await store.retention.set(own.id, RetentionPolicy(7, delete_oldest_read_when_full=False))
    await store.retention.set(forever.id, RetentionPolicy(None, delete_oldest_read_when_full=False))
    raw = text_message("x@agents.test").replace(b"\n", b"\r\n")
    for owner in (own, default, forever):
        for days in (40, 10, 1):
            await store.deliver(owner.id, raw, NOW - timedelta(days=days))
    async with store.uow(read_only=True) as uow:
        folders = {owner.id: await uow.folders.inbox_state(owner.id) for owner in (own, default)}

    first = await store.retention.delete_expired(NOW, 2)
    rest = await store.retention.delete_expired(NOW, 10)
    none = await store.retention.delete_expired(NOW, 10)
    async with store.uow(read_only=True) as uow:
        left = {
            owner.id: len(await uow.messages.find(owner.id, MessageQuery(), limit=10))
            for owner in (own, default, forever)
        }
        used = (await uow.mailboxes.usage(own.id))[1]

    assert (first, rest, none) == (2, 1, 0)
    assert left == {own.id: 1, default.id: 2, forever.id: 3}
    assert used == len(raw)
    changed = [e for e in store.publisher.published if isinstance(e, FolderChanged)]
    assert {(e.mailbox_id, e.folder_id) for e in changed} == {(m, f[0]) for m, f in folders.items()}
    assert all(e.modseq > folders[e.mailbox_id][1] for e in changed)
