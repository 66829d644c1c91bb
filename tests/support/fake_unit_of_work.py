"""An in-memory unit of work for service tests (Cosmic Python's `FakeUnitOfWork`).

Each unit of work changes a copy of the shared state; `commit()` makes the copy the state and hands the
recorded events to the publisher once the unit of work is left, exactly as the SQL one does, and writes
the recorded agent events into the event log first. The repositories follow the ports in `ports.py`;
`tests/integration/test_unit_of_work_contract.py` runs the same behaviours against this fake and the SQL
unit of work on SQLite and PostgreSQL, so it cannot drift from them. What the fake leaves out: searching
with a non-empty query (the search language compiles to SQL), and concurrency (one unit of work commits
its whole copy; tests with racing writers belong on the real databases).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Self

from mailservice.domain import search_criteria
from mailservice.domain.account import Account, AccountTokenKind
from mailservice.domain.agent_events import AgentEvent, LoggedEvent
from mailservice.domain.errors import Conflict, StorageUnavailable
from mailservice.domain.events import DomainEvent, NotificationQueued, WebhookQueued
from mailservice.domain.expiry_notice import ExpiryNotice
from mailservice.domain.mailbox import Mailbox, MailboxStatus
from mailservice.domain.messages import AccessRevoked, FolderChanged, MessageCopy, StoredMessage
from mailservice.domain.notification import Notification, QueuedNotification
from mailservice.domain.payment import Checkout, CheckoutStatus
from mailservice.domain.retention import MailboxRetention, RetentionPolicy
from mailservice.domain.search import MessageQuery
from mailservice.domain.webhooks import (
    WEBHOOK_TEST,
    Attempt,
    ClaimedDelivery,
    ClaimRequest,
    DeliveryOutcome,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from mailservice.ports import (
    AccountRepository,
    AccountTokenRepository,
    AdminRepository,
    CheckoutRepository,
    EventLogRepository,
    EventPublisher,
    FolderRepository,
    MailboxRepository,
    MessageRepository,
    OutboxRepository,
    PaymentEventRepository,
    SupportMessageRepository,
    UnitOfWork,
    UsedChallengeRepository,
    WebhookRepository,
)

INBOX_FOLDER_ID = 1
PENDING, SENT, FAILED = "pending", "sent", "failed"
DROPPED_BODY = "(not kept once sent or given up)"


@dataclass
class Inbox:
    id: int
    highestmodseq: int = 1
    uidnext: int = 1


@dataclass
class QueuedRow:
    """An outbox row: the notification and where it stands."""

    id: int
    notification: Notification
    created_at: datetime
    next_attempt_at: datetime
    status: str = PENDING
    attempts: int = 0
    last_error: str | None = None


@dataclass
class TokenRow:
    account_id: str
    kind: AccountTokenKind
    expires_at: datetime
    used_at: datetime | None = None


@dataclass
class MemoryState:
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    quotas: dict[str, int] = field(default_factory=dict)
    """A mailbox's own quota; absent: the configured default."""
    inboxes: dict[str, Inbox] = field(default_factory=dict)
    messages: dict[tuple[str, int], StoredMessage] = field(default_factory=dict)
    raw: dict[tuple[str, int], bytes] = field(default_factory=dict)
    notices_sent: dict[tuple[str, ExpiryNotice], datetime] = field(default_factory=dict)
    checkouts: dict[str, Checkout] = field(default_factory=dict)
    payment_events: dict[tuple[str, str], datetime] = field(default_factory=dict)
    used_challenges: dict[str, datetime] = field(default_factory=dict)
    outbox: list[QueuedRow] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)
    api_token_hashes: dict[str, str] = field(default_factory=dict)
    """Account id to the hash of its current api token."""
    account_tokens: dict[str, TokenRow] = field(default_factory=dict)
    support_messages: list[tuple[str, datetime]] = field(default_factory=list)
    event_log: list[LoggedEvent] = field(default_factory=list)
    webhook_endpoints: dict[str, WebhookEndpoint] = field(default_factory=dict)
    webhook_deliveries: dict[int, WebhookDelivery] = field(default_factory=dict)
    webhook_attempts: dict[int, list[Attempt]] = field(default_factory=dict)
    retention: dict[str, RetentionPolicy] = field(default_factory=dict)
    """The policies mailboxes chose; the others follow the configured default."""
    last_ids: dict[str, int] = field(default_factory=dict)

    def next_id(self, sequence: str) -> int:
        """Ids as a database sequence gives them: increasing and never reused."""
        self.last_ids[sequence] = self.last_ids.get(sequence, 0) + 1
        return self.last_ids[sequence]

    def new_inbox(self, mailbox_id: str) -> Inbox:
        inbox = self.inboxes[mailbox_id] = Inbox(self.next_id("folders"))
        return inbox

    def deliver(self, copy: MessageCopy) -> int:
        """Store a message in its mailbox's INBOX, as delivery does; its uid."""
        inbox = self.inboxes.get(copy.mailbox_id) or self.new_inbox(copy.mailbox_id)
        uid, inbox.uidnext = inbox.uidnext, inbox.uidnext + 1
        inbox.highestmodseq += 1
        self.messages[(copy.mailbox_id, uid)] = stored_message(copy, uid)
        self.raw[(copy.mailbox_id, uid)] = copy.raw
        return uid

    def queue_delivery(self, endpoint_id: str, event_id: int | None, event_type: str, due: datetime) -> int:
        delivery_id = self.next_id("webhook_deliveries")
        self.webhook_deliveries[delivery_id] = WebhookDelivery(
            delivery_id, endpoint_id, event_id, event_type, DeliveryStatus.PENDING, 0, due, due
        )
        return delivery_id

    def used_bytes(self, mailbox_id: str) -> int:
        return sum(m.size for (owner, _), m in self.messages.items() if owner == mailbox_id)


def stored_message(copy: MessageCopy, uid: int) -> StoredMessage:
    parsed = copy.parsed
    return StoredMessage(
        uid=uid,
        flags=frozenset(copy.flags),
        internal_date=copy.internal_date,
        size=len(copy.raw),
        subject=parsed.subject,
        from_address=parsed.from_address,
        from_name=parsed.from_name,
        to=parsed.to,
        cc=parsed.cc,
        date=parsed.date,
        message_id=parsed.message_id,
        has_attachments=parsed.has_attachments,
        tags=copy.tags,
        codes=parsed.codes,
        links=parsed.links,
        parts_json=parsed.parts_json,
        text=parsed.text,
        envelope_from=copy.envelope_from,
        auth=copy.auth,
    )


class FakeMailboxes:
    def __init__(self, state: MemoryState, uow: FakeUnitOfWork) -> None:
        self._state = state
        self._uow = uow

    async def get(self, mailbox_id: str) -> Mailbox | None:
        return self._state.mailboxes.get(mailbox_id)

    async def get_by_fingerprint(self, fingerprint: str) -> Mailbox | None:
        return self._first(lambda m: m.key_fingerprint == fingerprint)

    async def get_by_login(self, login: str) -> Mailbox | None:
        return self._first(lambda m: m.login == login)

    async def add(self, mailbox: Mailbox) -> None:
        taken = self._first(
            lambda m: (
                m.id == mailbox.id
                or m.login == mailbox.login
                or (m.key_fingerprint is not None and m.key_fingerprint == mailbox.key_fingerprint)
            )
        )
        if taken is not None:
            raise Conflict("a mailbox with this key or login already exists")
        self._state.mailboxes[mailbox.id] = mailbox

    async def update(self, mailbox: Mailbox) -> None:
        if mailbox.id in self._state.mailboxes:
            self._state.mailboxes[mailbox.id] = mailbox
        if mailbox.status is MailboxStatus.EXPIRED:
            self._uow.record(AccessRevoked(mailbox.id))

    async def set_billing_email(self, mailbox_id: str, billing_email: str, now: datetime) -> None:
        mailbox = self._state.mailboxes.get(mailbox_id)
        if mailbox is not None:
            self._state.mailboxes[mailbox_id] = mailbox.with_billing_email(billing_email, now)

    async def due_for_notice(
        self, notice: ExpiryNotice, after: datetime, until: datetime, limit: int
    ) -> list[Mailbox]:
        status = MailboxStatus.ACTIVE if notice is ExpiryNotice.REMINDER else MailboxStatus.EXPIRED
        due = [
            m
            for m in self._state.mailboxes.values()
            if m.status is status
            and m.key_fingerprint is not None
            and m.expires_at is not None
            and after < m.expires_at <= until
            and self._state.notices_sent.get((m.id, notice)) != m.expires_at
        ]
        return sorted(due, key=lambda m: (m.expires_at or until, m.id))[:limit]

    async def mark_notice_sent(self, mailbox_id: str, notice: ExpiryNotice, expires_at: datetime) -> bool:
        mailbox = self._state.mailboxes.get(mailbox_id)
        if mailbox is None or mailbox.expires_at != expires_at:
            return False
        if self._state.notices_sent.get((mailbox_id, notice)) == expires_at:
            return False
        self._state.notices_sent[(mailbox_id, notice)] = expires_at
        return True

    async def expire_lapsed(self, now: datetime) -> int:
        lapsed = [m for m in self._state.mailboxes.values() if m.has_lapsed(now)]
        for mailbox in lapsed:
            await self.update(mailbox.expire(now))
        return len(lapsed)

    async def usage(self, mailbox_id: str) -> tuple[int | None, int]:
        if mailbox_id not in self._state.mailboxes:
            return None, 0
        return self._state.quotas.get(mailbox_id), self._state.used_bytes(mailbox_id)

    async def purge_mail_of_expired(self, expired_before: datetime) -> int:
        lapsed = {
            m.id
            for m in self._state.mailboxes.values()
            if m.status is MailboxStatus.EXPIRED
            and m.expires_at is not None
            and m.expires_at < expired_before
        }
        doomed = [key for key in self._state.messages if key[0] in lapsed]
        for key in doomed:
            del self._state.messages[key]
            self._state.raw.pop(key, None)
        for mailbox_id in sorted({mailbox_id for mailbox_id, _ in doomed}):
            inbox = self._state.inboxes[mailbox_id]
            inbox.highestmodseq += 1
            self._uow.record(FolderChanged(mailbox_id, inbox.id, inbox.highestmodseq))
        return len(doomed)

    def _first(self, matches: Callable[[Mailbox], bool]) -> Mailbox | None:
        return next((m for m in self._state.mailboxes.values() if matches(m)), None)


class FakeFolders:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def create_inbox(self, mailbox_id: str, now: datetime) -> None:
        if mailbox_id in self._state.inboxes:
            raise Conflict("the mailbox has an INBOX already")
        self._state.new_inbox(mailbox_id)

    async def inbox_state(self, mailbox_id: str) -> tuple[int, int]:
        inbox = self._state.inboxes[mailbox_id]
        return inbox.id, inbox.highestmodseq


class FakeMessages:
    def __init__(self, state: MemoryState, uow: FakeUnitOfWork) -> None:
        self._state = state
        self._uow = uow

    async def find(
        self,
        mailbox_id: str,
        query: MessageQuery,
        *,
        limit: int,
        after_uid: int | None = None,
        before_uid: int | None = None,
        newest_first: bool = True,
        with_text: bool = False,
    ) -> list[StoredMessage]:
        shared = MessageQuery(
            unread=query.unread, flagged=query.flagged, before=query.before, after=query.after
        )
        if query != shared:
            raise NotImplementedError("the fake finds with the terms IMAP SEARCH shares only")
        criteria = query.shared_criteria
        found = sorted(
            (
                message
                for (owner, _), message in self._state.messages.items()
                if owner == mailbox_id and search_criteria.matches(criteria, message)
            ),
            key=lambda message: message.uid,
            reverse=newest_first,
        )
        low, high = after_uid or 0, before_uid or 2**63
        chosen = [message for message in found if low < message.uid < high][:limit]
        return chosen if with_text else [replace(message, text=None) for message in chosen]

    async def get(self, mailbox_id: str, uid: int, with_text: bool = True) -> StoredMessage | None:
        message = self._state.messages.get((mailbox_id, uid))
        return message if message is None or with_text else replace(message, text=None)

    async def raw(self, mailbox_id: str, uid: int) -> bytes | None:
        return self._state.raw.get((mailbox_id, uid))

    async def set_flags(
        self, mailbox_id: str, uid: int, add: set[str], remove: set[str]
    ) -> StoredMessage | None:
        current = self._state.messages.get((mailbox_id, uid))
        if current is None:
            return None
        flags = (current.flags | add) - remove
        if flags != current.flags:
            self._changed(mailbox_id)
            self._state.messages[(mailbox_id, uid)] = replace(current, flags=frozenset(flags))
        return await self.get(mailbox_id, uid, with_text=False)

    async def delete(self, mailbox_id: str, uid: int) -> bool:
        if self._state.messages.pop((mailbox_id, uid), None) is None:
            return False
        self._state.raw.pop((mailbox_id, uid), None)
        self._changed(mailbox_id)
        return True

    def _changed(self, mailbox_id: str) -> None:
        inbox = self._state.inboxes.get(mailbox_id) or self._state.new_inbox(mailbox_id)
        inbox.highestmodseq += 1
        self._uow.record(FolderChanged(mailbox_id, inbox.id, inbox.highestmodseq))


class FakeCheckouts:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def get(self, checkout_id: str) -> Checkout | None:
        return self._state.checkouts.get(checkout_id)

    async def latest_for_mailbox(self, mailbox_id: str) -> Checkout | None:
        mine = [c for c in self._state.checkouts.values() if c.mailbox_id == mailbox_id]
        return max(mine, key=lambda c: (c.created_at, c.status is CheckoutStatus.OPEN), default=None)

    async def add(self, checkout: Checkout) -> None:
        if checkout.id in self._state.checkouts:
            raise Conflict("checkout exists")
        self._state.checkouts[checkout.id] = checkout

    async def open_after(self, after_id: str, limit: int) -> list[Checkout]:
        open_ = [
            c for c in self._state.checkouts.values() if c.status is CheckoutStatus.OPEN and c.id > after_id
        ]
        return sorted(open_, key=lambda c: c.id)[:limit]

    async def mark(self, checkout_id: str, status: CheckoutStatus, now: datetime) -> bool:
        checkout = self._state.checkouts.get(checkout_id)
        if checkout is None or checkout.status is status:
            return False
        paid_at = now if status is CheckoutStatus.PAID else checkout.paid_at
        self._state.checkouts[checkout_id] = replace(checkout, status=status, paid_at=paid_at)
        return True


class FakePaymentEvents:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def record(self, provider: str, event_id: str, event_type: str, now: datetime) -> bool:
        if (provider, event_id) in self._state.payment_events:
            return False
        self._state.payment_events[(provider, event_id)] = now
        return True

    async def forget_before(self, cutoff: datetime) -> int:
        old = [key for key, processed_at in self._state.payment_events.items() if processed_at < cutoff]
        for key in old:
            del self._state.payment_events[key]
        return len(old)


class FakeChallenges:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def consume(self, nonce: str, expires_at: datetime) -> bool:
        if nonce in self._state.used_challenges:
            return False
        self._state.used_challenges[nonce] = expires_at
        return True

    async def purge_expired(self, now: datetime) -> int:
        old = [nonce for nonce, expires_at in self._state.used_challenges.items() if expires_at < now]
        for nonce in old:
            del self._state.used_challenges[nonce]
        return len(old)


class FakeOutbox:
    def __init__(self, state: MemoryState, uow: FakeUnitOfWork) -> None:
        self._state = state
        self._uow = uow

    async def enqueue(self, notification: Notification, now: datetime) -> None:
        self._state.outbox.append(QueuedRow(self._state.next_id("outbox"), notification, now, now))
        self._uow.record(NotificationQueued())

    async def recently_queued(self, dedupe_key: str, since: datetime) -> bool:
        return any(
            r.notification.dedupe_key == dedupe_key and r.created_at >= since for r in self._state.outbox
        )

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[QueuedNotification]:
        due = [r for r in self._state.outbox if r.status == PENDING and r.next_attempt_at <= now][:limit]
        for row in due:
            row.next_attempt_at = lease_until
        return [QueuedNotification(r.id, r.notification, r.attempts, r.created_at) for r in due]

    async def mark_sent(self, notification_id: int, now: datetime) -> None:
        row = self._row(notification_id)
        row.status, row.attempts, row.last_error = SENT, row.attempts + 1, None
        row.notification = _without_body(row.notification)

    async def mark_failed(
        self, notification_id: int, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        row = self._row(notification_id)
        row.attempts, row.last_error = row.attempts + 1, error[:2000]
        if retry_at is None:
            row.status, row.notification = FAILED, _without_body(row.notification)
        else:
            row.next_attempt_at = retry_at

    async def drop_finished_bodies(self) -> int:
        kept = [r for r in self._state.outbox if r.status != PENDING and r.notification.text != DROPPED_BODY]
        for row in kept:
            row.notification = _without_body(row.notification)
        return len(kept)

    def _row(self, notification_id: int) -> QueuedRow:
        return next(r for r in self._state.outbox if r.id == notification_id)


def _without_body(notification: Notification) -> Notification:
    return replace(notification, text=DROPPED_BODY, html=DROPPED_BODY)


class FakeAccounts:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def add(self, account: Account, api_token_hash: str) -> None:
        if await self.get_by_email(account.owner_email) is not None or account.id in self._state.accounts:
            raise Conflict("an account with this owner e-mail already exists")
        self._state.accounts[account.id] = account
        self._state.api_token_hashes[account.id] = api_token_hash

    async def get(self, account_id: str) -> Account | None:
        return self._state.accounts.get(account_id)

    async def get_by_email(self, owner_email: str) -> Account | None:
        return next((a for a in self._state.accounts.values() if a.owner_email == owner_email), None)

    async def get_by_api_token_hash(self, api_token_hash: str) -> Account | None:
        found = (i for i, h in self._state.api_token_hashes.items() if h == api_token_hash)
        return self._state.accounts.get(next(found, ""))

    async def set_api_token_hash(self, account_id: str, api_token_hash: str, now: datetime) -> None:
        if account_id in self._state.accounts:
            self._state.api_token_hashes[account_id] = api_token_hash
            self._state.accounts[account_id] = replace(self._state.accounts[account_id], updated_at=now)

    async def update(self, account: Account) -> None:
        if account.id in self._state.accounts:
            self._state.accounts[account.id] = account

    async def claim_recovery_slot(self, account_id: str, sent_before: datetime, now: datetime) -> bool:
        account = self._state.accounts.get(account_id)
        if account is None or (
            account.recovery_sent_at is not None and account.recovery_sent_at > sent_before
        ):
            return False
        self._state.accounts[account_id] = replace(account, recovery_sent_at=now)
        return True

    async def mailboxes(self, account_id: str) -> list[Mailbox]:
        mine = [m for m in self._state.mailboxes.values() if m.account_id == account_id]
        return sorted(mine, key=lambda m: m.created_at)

    async def pending_mailbox(self, account_id: str) -> Mailbox | None:
        pending = [m for m in await self.mailboxes(account_id) if m.status is MailboxStatus.PENDING_PAYMENT]
        return pending[0] if pending else None

    async def activate_mailboxes(self, account_id: str, paid_at: datetime, expires_at: datetime) -> None:
        for mailbox in await self.mailboxes(account_id):
            self._state.mailboxes[mailbox.id] = mailbox.paid_until(expires_at, paid_at)


class FakeAccountTokens:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def add(
        self, token_hash: str, account_id: str, kind: AccountTokenKind, expires_at: datetime, now: datetime
    ) -> None:
        if token_hash in self._state.account_tokens:
            raise Conflict("token exists")
        self._state.account_tokens[token_hash] = TokenRow(account_id, kind, expires_at)

    async def usable_account(self, token_hash: str, kind: AccountTokenKind, now: datetime) -> str | None:
        row = self._state.account_tokens.get(token_hash)
        usable = row is not None and row.kind is kind and row.used_at is None and row.expires_at > now
        return row.account_id if usable and row is not None else None

    async def use(self, token_hash: str, kind: AccountTokenKind, now: datetime) -> str | None:
        account_id = await self.usable_account(token_hash, kind, now)
        if account_id is not None:
            self._state.account_tokens[token_hash].used_at = now
        return account_id

    async def revoke_all(self, account_id: str, kind: AccountTokenKind, now: datetime) -> int:
        unused = [
            row
            for row in self._state.account_tokens.values()
            if row.account_id == account_id and row.kind is kind and row.used_at is None
        ]
        for row in unused:
            row.used_at = now
        return len(unused)


class FakeSupportMessages:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def add(self, key_fingerprint: str, subject: str, now: datetime) -> None:
        self._state.support_messages.append((key_fingerprint, now))

    async def count_since(self, key_fingerprint: str, since: datetime) -> int:
        return sum(1 for key, at in self._state.support_messages if key == key_fingerprint and at > since)


class FakeAdmin:
    def __init__(self, state: MemoryState, uow: FakeUnitOfWork) -> None:
        self._state = state
        self._uow = uow

    async def counts(self) -> dict[str, dict[str, int]]:
        def by_status(statuses: list[str]) -> dict[str, int]:
            return {status: statuses.count(status) for status in sorted(set(statuses))}

        return {
            "mailboxes": by_status([m.status.value for m in self._state.mailboxes.values()]),
            "checkouts": by_status([c.status.value for c in self._state.checkouts.values()]),
            "outbox": by_status([r.status for r in self._state.outbox]),
            "webhook_deliveries": {},
            "accounts": {"total": len(self._state.accounts)},
        }

    async def oldest_pending_notification(self) -> datetime | None:
        return min((r.created_at for r in self._state.outbox if r.status == PENDING), default=None)

    async def mailbox_ids(self) -> list[str]:
        return sorted(self._state.mailboxes)

    async def ensure_inbox(self, mailbox_id: str, now: datetime) -> bool:
        if mailbox_id in self._state.inboxes:
            return False
        self._state.new_inbox(mailbox_id)
        return True

    async def rotate_credentials(self, mailbox_id: str, now: datetime) -> None:
        mailbox = self._state.mailboxes.get(mailbox_id)
        if mailbox is not None:
            self._state.mailboxes[mailbox_id] = replace(
                mailbox, credential_epoch=mailbox.credential_epoch + 1, updated_at=now
            )
        self._uow.record(AccessRevoked(mailbox_id))


class FakeEventLog:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def read_after(self, mailbox_id: str, after: int, limit: int) -> list[LoggedEvent]:
        found = [e for e in self._state.event_log if e.mailbox_id == mailbox_id and e.id > after]
        return found[:limit]

    async def latest_id(self, mailbox_id: str) -> int:
        return max((e.id for e in self._state.event_log if e.mailbox_id == mailbox_id), default=0)

    async def delete_before(self, cutoff: datetime, limit: int) -> int:
        waited_for = {
            d.event_id for d in self._state.webhook_deliveries.values() if d.status is DeliveryStatus.PENDING
        }
        doomed = [e for e in self._state.event_log if e.occurred_at < cutoff and e.id not in waited_for][
            :limit
        ]
        doomed_ids = {e.id for e in doomed}
        self._state.event_log = [e for e in self._state.event_log if e.id not in doomed_ids]
        deliveries = self._state.webhook_deliveries
        for delivery_id in [i for i, d in deliveries.items() if d.event_id in doomed_ids]:
            del deliveries[delivery_id]
        return len(doomed)

    def append(self, events: list[AgentEvent]) -> None:
        """Log the events, and queue one webhook delivery per enabled endpoint that wants each."""
        for event in events:
            logged = LoggedEvent(
                self._state.next_id("event_log"), event.mailbox_id, event.type, event.occurred_at, event.data
            )
            self._state.event_log.append(logged)
            for endpoint in self._subscribed(event):
                self._state.queue_delivery(endpoint.id, logged.id, event.type, event.occurred_at)

    def _subscribed(self, event: AgentEvent) -> list[WebhookEndpoint]:
        return [
            endpoint
            for endpoint in sorted(self._state.webhook_endpoints.values(), key=lambda e: e.id)
            if endpoint.mailbox_id == event.mailbox_id
            and endpoint.disabled_at is None
            and event.type in endpoint.events
        ]


class FakeWebhooks:
    def __init__(self, state: MemoryState, uow: FakeUnitOfWork) -> None:
        self._state = state
        self._uow = uow
        self._attempts = state.webhook_attempts

    async def add(self, endpoint: WebhookEndpoint) -> None:
        if endpoint.id in self._state.webhook_endpoints:
            raise Conflict("endpoint exists")
        self._state.webhook_endpoints[endpoint.id] = endpoint

    async def endpoints(self, mailbox_id: str) -> list[WebhookEndpoint]:
        mine = [e for e in self._state.webhook_endpoints.values() if e.mailbox_id == mailbox_id]
        return sorted(mine, key=lambda e: (e.created_at, e.id))

    async def endpoints_for_update(self, mailbox_id: str) -> list[WebhookEndpoint]:
        return await self.endpoints(mailbox_id)

    async def endpoint(self, mailbox_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        found = self._state.webhook_endpoints.get(endpoint_id)
        return found if found is not None and found.mailbox_id == mailbox_id else None

    async def remove(self, mailbox_id: str, endpoint_id: str) -> bool:
        if await self.endpoint(mailbox_id, endpoint_id) is None:
            return False
        del self._state.webhook_endpoints[endpoint_id]
        deliveries = self._state.webhook_deliveries
        for delivery_id in [i for i, d in deliveries.items() if d.endpoint_id == endpoint_id]:
            del deliveries[delivery_id]
            self._attempts.pop(delivery_id, None)
        return True

    async def add_test_delivery(self, endpoint_id: str, now: datetime) -> int:
        delivery_id = self._state.queue_delivery(endpoint_id, None, WEBHOOK_TEST, now)
        self._uow.record(WebhookQueued())
        return delivery_id

    async def deliveries(
        self, endpoint_id: str, limit: int, before_id: int | None = None
    ) -> list[WebhookDelivery]:
        mine = [
            d
            for d in self._state.webhook_deliveries.values()
            if d.endpoint_id == endpoint_id and (before_id is None or d.id < before_id)
        ]
        return [self._with_history(d) for d in sorted(mine, key=lambda d: -d.id)[:limit]]

    async def delivery(self, endpoint_id: str, delivery_id: int) -> WebhookDelivery | None:
        found = self._state.webhook_deliveries.get(delivery_id)
        return self._with_history(found) if found is not None and found.endpoint_id == endpoint_id else None

    async def send_again(self, delivery_id: int, now: datetime) -> None:
        found = self._state.webhook_deliveries.get(delivery_id)
        if found is not None:
            self._state.webhook_deliveries[delivery_id] = replace(
                found, status=DeliveryStatus.PENDING, next_attempt_at=now
            )
        self._uow.record(WebhookQueued())

    async def record_attempt(
        self, delivery: WebhookDelivery, attempt: Attempt, status: DeliveryStatus, next_attempt_at: datetime
    ) -> None:
        current = self._state.webhook_deliveries.get(delivery.id)
        if current is None:
            return  # it went with its endpoint while it was being sent
        self._state.webhook_deliveries[delivery.id] = replace(
            current, attempts=current.attempts + 1, status=status, next_attempt_at=next_attempt_at
        )
        error = None if attempt.error is None else attempt.error[:500]
        self._attempts.setdefault(delivery.id, []).append(replace(attempt, error=error))

    async def mark_skipped(self, delivery_id: int) -> None:
        found = self._state.webhook_deliveries.get(delivery_id)
        if found is not None:
            self._state.webhook_deliveries[delivery_id] = replace(found, status=DeliveryStatus.SKIPPED)

    async def endpoint_answered(self, endpoint_id: str, ok: bool, now: datetime) -> datetime | None:
        endpoint = self._state.webhook_endpoints.get(endpoint_id)
        if endpoint is None:
            return None
        failing_since = None if ok else endpoint.failing_since or now
        self._state.webhook_endpoints[endpoint_id] = replace(endpoint, failing_since=failing_since)
        return failing_since

    async def disable(self, endpoint_id: str, now: datetime) -> bool:
        endpoint = self._state.webhook_endpoints.get(endpoint_id)
        if endpoint is None or endpoint.disabled_at is not None:
            return False
        self._state.webhook_endpoints[endpoint_id] = replace(endpoint, disabled_at=now)
        return True

    async def enable(self, endpoint_id: str) -> None:
        endpoint = self._state.webhook_endpoints.get(endpoint_id)
        if endpoint is not None:
            self._state.webhook_endpoints[endpoint_id] = replace(
                endpoint, disabled_at=None, failing_since=None
            )
        self._uow.record(WebhookQueued())

    def _with_history(self, delivery: WebhookDelivery) -> WebhookDelivery:
        return replace(delivery, history=tuple(self._attempts.get(delivery.id, ())))


class FakeDeliveryQueue:
    """The worker's side of webhook deliveries (`DeliveryQueue`) over the same state as the fake unit of
    work: each call applies whole, as the SQL queue's one transaction does."""

    def __init__(self, factory: FakeUnitOfWorkFactory) -> None:
        self._factory = factory

    @property
    def _state(self) -> MemoryState:
        return self._factory.state  # the committed state, replaced at every commit

    async def claim(self, request: ClaimRequest) -> list[ClaimedDelivery]:
        endpoints = self._state.webhook_endpoints
        full = set(request.full_endpoints())
        due = [
            d
            for d in sorted(self._state.webhook_deliveries.values(), key=lambda d: d.id)
            if d.status is DeliveryStatus.PENDING
            and d.next_attempt_at <= request.now
            and endpoints[d.endpoint_id].disabled_at is None
            and d.endpoint_id not in full
        ][: request.limit]
        fitting = [due[i] for i in request.within_room([d.endpoint_id for d in due])]
        return [self._leased(delivery, request.lease_until) for delivery in fitting]

    async def record(
        self, outcomes: Sequence[DeliveryOutcome], then_claim: ClaimRequest | None
    ) -> list[ClaimedDelivery]:
        ordered = sorted(outcomes, key=lambda outcome: outcome.delivery_id)
        self._note_endpoint_health(ordered)
        for outcome in ordered:
            self._record(outcome)
        return [] if then_claim is None else await self.claim(then_claim)

    def _leased(self, delivery: WebhookDelivery, lease_until: datetime) -> ClaimedDelivery:
        leased = self._state.webhook_deliveries[delivery.id] = replace(delivery, next_attempt_at=lease_until)
        event = next((e for e in self._state.event_log if e.id == delivery.event_id), None)
        return ClaimedDelivery(leased, self._state.webhook_endpoints[delivery.endpoint_id], event)

    def _note_endpoint_health(self, ordered: Sequence[DeliveryOutcome]) -> None:
        """An endpoint's last attempt in the batch decides whether it is failing, as in the SQL queue."""
        last_ok = {outcome.endpoint_id: outcome.ok for outcome in ordered}
        now = max((outcome.attempt.at for outcome in ordered), default=None)
        for endpoint_id, ok in last_ok.items():
            endpoint = self._state.webhook_endpoints.get(endpoint_id)
            if endpoint is not None:
                failing_since = None if ok else endpoint.failing_since or now
                self._state.webhook_endpoints[endpoint_id] = replace(endpoint, failing_since=failing_since)

    def _record(self, outcome: DeliveryOutcome) -> None:
        current = self._state.webhook_deliveries.get(outcome.delivery_id)
        if current is None:
            return  # it went with its endpoint while it was being sent
        self._state.webhook_deliveries[outcome.delivery_id] = replace(
            current,
            attempts=current.attempts + 1,
            status=outcome.status,
            next_attempt_at=outcome.next_attempt_at,
        )
        attempt = outcome.attempt
        error = None if attempt.error is None else attempt.error[:500]
        self._state.webhook_attempts.setdefault(outcome.delivery_id, []).append(replace(attempt, error=error))


class FakeUnitOfWork:
    mailboxes: MailboxRepository
    folders: FolderRepository
    messages: MessageRepository
    checkouts: CheckoutRepository
    payment_events: PaymentEventRepository
    challenges: UsedChallengeRepository
    outbox: OutboxRepository
    accounts: AccountRepository
    account_tokens: AccountTokenRepository
    support_messages: SupportMessageRepository
    admin: AdminRepository
    event_log: EventLogRepository
    webhooks: WebhookRepository
    """Declared as the ports, so the type checker holds every fake repository to its port."""

    def __init__(self, factory: FakeUnitOfWorkFactory) -> None:
        self._factory = factory
        self._recorded: list[DomainEvent] = []
        self._committed: list[DomainEvent] = []
        self._state = copy.deepcopy(factory.state)
        self.mailboxes = FakeMailboxes(self._state, self)
        self.folders = FakeFolders(self._state)
        self.messages = FakeMessages(self._state, self)
        self.checkouts = FakeCheckouts(self._state)
        self.payment_events = FakePaymentEvents(self._state)
        self.challenges = FakeChallenges(self._state)
        self.outbox = FakeOutbox(self._state, self)
        self.accounts = FakeAccounts(self._state)
        self.account_tokens = FakeAccountTokens(self._state)
        self.support_messages = FakeSupportMessages(self._state)
        self.admin = FakeAdmin(self._state, self)
        self._log = FakeEventLog(self._state)
        self.event_log = self._log
        self.webhooks = FakeWebhooks(self._state, self)

    def record(self, event: DomainEvent) -> None:
        self._recorded.append(event)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._recorded.clear()
        committed, self._committed = self._committed, []
        if committed:
            await self._factory.publisher.publish(committed)

    async def commit(self) -> None:
        if self._factory.fail_commits:
            raise StorageUnavailable("the fake database refuses to commit")
        self._log.append([e for e in self._recorded if isinstance(e, AgentEvent)])
        self._factory.state = self._state
        self._factory.commits += 1
        self._committed += self._recorded
        self._recorded.clear()


class FakeRetention:
    """The `RetentionStore` port over the same state: each call is a transaction of its own, as in SQL."""

    def __init__(self, factory: FakeUnitOfWorkFactory, default: RetentionPolicy) -> None:
        self._factory = factory
        self._default = default

    async def get(self, mailbox_id: str) -> MailboxRetention:
        chosen = self._factory.state.retention.get(mailbox_id)
        return MailboxRetention(self._default, True) if chosen is None else MailboxRetention(chosen, False)

    async def set(self, mailbox_id: str, policy: RetentionPolicy) -> None:
        self._factory.state.retention[mailbox_id] = policy

    async def can_make_room(self, mailbox_id: str) -> bool:
        if not (await self.get(mailbox_id)).policy.delete_oldest_read_when_full:
            return False
        return any(m.seen for (owner, _), m in self._factory.state.messages.items() if owner == mailbox_id)

    async def delete_expired(self, now: datetime, limit: int) -> int:
        state = self._factory.state
        doomed = [key for key, message in state.messages.items() if self._past_age(key[0], message, now)][
            :limit
        ]
        for key in doomed:
            del state.messages[key]
            state.raw.pop(key, None)
        changed = []
        for mailbox_id in sorted({mailbox_id for mailbox_id, _ in doomed}):
            inbox = state.inboxes[mailbox_id]
            inbox.highestmodseq += 1
            changed.append(FolderChanged(mailbox_id, inbox.id, inbox.highestmodseq))
        await self._factory.publisher.publish(changed)
        return len(doomed)

    def _past_age(self, mailbox_id: str, message: StoredMessage, now: datetime) -> bool:
        cutoff = self._factory.state.retention.get(mailbox_id, self._default).cutoff(now)
        return cutoff is not None and message.internal_date < cutoff


class FakeUnitOfWorkFactory:
    def __init__(self, publisher: EventPublisher) -> None:
        self.publisher = publisher
        self.state = MemoryState()
        self.fail_commits = False
        self.commits = 0

    def __call__(self, read_only: bool = False) -> UnitOfWork:
        return FakeUnitOfWork(self)
