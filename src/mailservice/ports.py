"""Interfaces the services depend on; adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from mailservice.domain.account import Account, AccountTokenKind
from mailservice.domain.agent_events import LoggedEvent
from mailservice.domain.events import DomainEvent
from mailservice.domain.expiry_notice import ExpiryNotice
from mailservice.domain.identity import IssuedChallenge, VerifiedKey
from mailservice.domain.mail_session import MailFolderStore
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.messages import (
    Delivery,
    MailboxEvent,
    MessageCopy,
    ParsedMessage,
    Signal,
    StoredCopy,
    StoredMessage,
)
from mailservice.domain.notification import Notification, QueuedNotification
from mailservice.domain.payment import Checkout, CheckoutRequest, CheckoutStatus, NewCheckout, PaymentEvent
from mailservice.domain.retention import MailboxRetention, RetentionPolicy
from mailservice.domain.search import MessageQuery
from mailservice.domain.sender_auth import SenderAuth, SmtpSender
from mailservice.domain.webhooks import (
    Attempt,
    ClaimedDelivery,
    ClaimRequest,
    DeliveryOutcome,
    DeliveryStatus,
    SendResult,
    WebhookDelivery,
    WebhookEndpoint,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class KeyProofVerifier(Protocol):
    def issue_challenge(self, public_key: str, now: datetime) -> IssuedChallenge: ...

    def verify(
        self, public_key: str, challenge: str | None, signature: str | None, now: datetime
    ) -> VerifiedKey: ...


class MailboxRepository(Protocol):
    async def get(self, mailbox_id: str) -> Mailbox | None: ...

    async def get_by_fingerprint(self, fingerprint: str) -> Mailbox | None: ...

    async def get_by_login(self, login: str) -> Mailbox | None: ...

    async def add(self, mailbox: Mailbox) -> None:
        """Insert; raises `Conflict` when the key or login is already taken."""
        ...

    async def update(self, mailbox: Mailbox) -> None: ...

    async def set_billing_email(self, mailbox_id: str, billing_email: str, now: datetime) -> None:
        """Change only the billing e-mail, leaving a concurrent payment's changes alone."""
        ...

    async def due_for_notice(
        self, notice: ExpiryNotice, after: datetime, until: datetime, limit: int
    ) -> list[Mailbox]:
        """Key-bound mailboxes whose expiry is in (after, until] and that have not had `notice` for it.

        A reminder is due for active mailboxes, the expired notice for expired ones; earliest expiry first.
        """
        ...

    async def mark_notice_sent(self, mailbox_id: str, notice: ExpiryNotice, expires_at: datetime) -> bool:
        """Record `notice` as sent for this expiry; False when it already was (another node, a retry)."""
        ...

    async def expire_lapsed(self, now: datetime) -> int:
        """Mark every active mailbox past its expiry as expired; return how many."""
        ...

    async def usage(self, mailbox_id: str) -> tuple[int | None, int]:
        """The mailbox's own quota (None: the default) and the bytes it uses."""
        ...

    async def purge_mail_of_expired(self, expired_before: datetime) -> int:
        """Delete every message of mailboxes expired before the cutoff; return how many were deleted."""
        ...


class MessageRepository(Protocol):
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
    ) -> list[StoredMessage]: ...

    async def get(self, mailbox_id: str, uid: int, with_text: bool = True) -> StoredMessage | None: ...

    async def raw(self, mailbox_id: str, uid: int) -> bytes | None: ...

    async def set_flags(
        self, mailbox_id: str, uid: int, add: set[str], remove: set[str]
    ) -> StoredMessage | None: ...

    async def delete(self, mailbox_id: str, uid: int) -> bool:
        """Delete a message, give its bytes back to the quota; False when there was none."""
        ...


class FolderRepository(Protocol):
    async def create_inbox(self, mailbox_id: str, now: datetime) -> None: ...

    async def inbox_state(self, mailbox_id: str) -> tuple[int, int]:
        """The INBOX folder's id and HIGHESTMODSEQ."""
        ...


class CheckoutRepository(Protocol):
    async def get(self, checkout_id: str) -> Checkout | None: ...

    async def latest_for_mailbox(self, mailbox_id: str) -> Checkout | None: ...

    async def add(self, checkout: Checkout) -> None: ...

    async def open_after(self, after_id: str, limit: int) -> list[Checkout]:
        """Checkouts still recorded open, by id, starting after `after_id` ("" for the first page)."""
        ...

    async def mark(self, checkout_id: str, status: CheckoutStatus, now: datetime) -> bool:
        """Move a checkout that is not yet in `status` into it; False when it already was."""
        ...


class PaymentEventRepository(Protocol):
    async def record(self, provider: str, event_id: str, event_type: str, now: datetime) -> bool:
        """Remember a provider event as processed; False when it was processed before."""
        ...

    async def forget_before(self, cutoff: datetime) -> int:
        """Drop events processed before the cutoff; return how many."""
        ...


class UsedChallengeRepository(Protocol):
    async def consume(self, nonce: str, expires_at: datetime) -> bool:
        """Record a challenge nonce as used; False when it was used before."""
        ...

    async def purge_expired(self, now: datetime) -> int: ...


class OutboxRepository(Protocol):
    async def enqueue(self, notification: Notification, now: datetime) -> None: ...

    async def recently_queued(self, dedupe_key: str, since: datetime) -> bool: ...

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[QueuedNotification]:
        """Take due notifications, oldest first, and hide them from other workers until `lease_until`."""
        ...

    async def mark_sent(self, notification_id: int, now: datetime) -> None: ...

    async def mark_failed(
        self, notification_id: int, error: str, retry_at: datetime | None, now: datetime
    ) -> None: ...

    async def drop_finished_bodies(self) -> int:
        """Drop the bodies still kept by sent or abandoned notifications; how many there were."""
        ...


class AccountRepository(Protocol):
    async def add(self, account: Account, api_token_hash: str) -> None:
        """Insert; raises `Conflict` when the owner e-mail already has an account."""
        ...

    async def get(self, account_id: str) -> Account | None: ...

    async def get_by_email(self, owner_email: str) -> Account | None: ...

    async def get_by_api_token_hash(self, api_token_hash: str) -> Account | None: ...

    async def set_api_token_hash(self, account_id: str, api_token_hash: str, now: datetime) -> None: ...

    async def update(self, account: Account) -> None: ...

    async def claim_recovery_slot(self, account_id: str, sent_before: datetime, now: datetime) -> bool:
        """Record a recovery e-mail unless one was sent after `sent_before`; False when one was."""
        ...

    async def mailboxes(self, account_id: str) -> list[Mailbox]: ...

    async def pending_mailbox(self, account_id: str) -> Mailbox | None: ...

    async def activate_mailboxes(self, account_id: str, paid_at: datetime, expires_at: datetime) -> None:
        """Make every mailbox of the account active until `expires_at`."""
        ...


class AccountTokenRepository(Protocol):
    async def add(
        self, token_hash: str, account_id: str, kind: AccountTokenKind, expires_at: datetime, now: datetime
    ) -> None: ...

    async def usable_account(self, token_hash: str, kind: AccountTokenKind, now: datetime) -> str | None:
        """The account of an unused, unexpired token, without using it."""
        ...

    async def use(self, token_hash: str, kind: AccountTokenKind, now: datetime) -> str | None:
        """Spend an unused, unexpired token and return its account; None otherwise (one racer wins)."""
        ...

    async def revoke_all(self, account_id: str, kind: AccountTokenKind, now: datetime) -> int: ...


class SupportMessageRepository(Protocol):
    async def add(self, key_fingerprint: str, subject: str, now: datetime) -> None: ...

    async def count_since(self, key_fingerprint: str, since: datetime) -> int: ...


class AdminRepository(Protocol):
    async def counts(self) -> dict[str, dict[str, int]]:
        """Rows by status of mailboxes, checkouts and the outbox, and the number of accounts."""
        ...

    async def oldest_pending_notification(self) -> datetime | None:
        """When the oldest notification still waiting to be sent was queued."""
        ...

    async def mailbox_ids(self) -> list[str]: ...

    async def ensure_inbox(self, mailbox_id: str, now: datetime) -> bool:
        """Create the mailbox's INBOX if it has none; True when one was created."""
        ...

    async def rotate_credentials(self, mailbox_id: str, now: datetime) -> None: ...


class EventLogRepository(Protocol):
    async def read_after(self, mailbox_id: str, after: int, limit: int) -> list[LoggedEvent]:
        """The mailbox's logged events with an id above `after`, oldest first.

        Within a mailbox, ids become visible in increasing order, so `after` is a safe cursor."""
        ...

    async def latest_id(self, mailbox_id: str) -> int:
        """The id of the mailbox's newest event, 0 when it has none."""
        ...

    async def delete_before(self, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` events older than `cutoff` that no webhook delivery still waits for."""
        ...


class WebhookRepository(Protocol):
    async def add(self, endpoint: WebhookEndpoint) -> None: ...

    async def endpoints(self, mailbox_id: str) -> list[WebhookEndpoint]: ...

    async def endpoints_for_update(self, mailbox_id: str) -> list[WebhookEndpoint]:
        """The mailbox's endpoints, with the mailbox held until the commit: two registrations for one
        mailbox count its endpoints one after the other."""
        ...

    async def endpoint(self, mailbox_id: str, endpoint_id: str) -> WebhookEndpoint | None: ...

    async def remove(self, mailbox_id: str, endpoint_id: str) -> bool: ...

    async def add_test_delivery(self, endpoint_id: str, now: datetime) -> int: ...

    async def deliveries(
        self, endpoint_id: str, limit: int, before_id: int | None = None
    ) -> list[WebhookDelivery]:
        """Newest first, each with its attempts."""
        ...

    async def delivery(self, endpoint_id: str, delivery_id: int) -> WebhookDelivery | None: ...

    async def send_again(self, delivery_id: int, now: datetime) -> None: ...

    async def record_attempt(
        self, delivery: WebhookDelivery, attempt: Attempt, status: DeliveryStatus, next_attempt_at: datetime
    ) -> None: ...

    async def mark_skipped(self, delivery_id: int) -> None: ...

    async def endpoint_answered(self, endpoint_id: str, ok: bool, now: datetime) -> datetime | None:
        """Note a success or a failure; since when the endpoint has been failing (None: it is healthy)."""
        ...

    async def disable(self, endpoint_id: str, now: datetime) -> bool: ...

    async def enable(self, endpoint_id: str) -> None:
        """On again, healthy: its failures so far no longer count towards turning it off."""
        ...


class DeliveryQueue(Protocol):
    """The worker's side of webhook deliveries, each call one transaction of its own."""

    async def claim(self, request: ClaimRequest) -> list[ClaimedDelivery]:
        """Lease due deliveries of enabled endpoints, as far as `request` has room."""
        ...

    async def record(
        self, outcomes: Sequence[DeliveryOutcome], then_claim: ClaimRequest | None
    ) -> list[ClaimedDelivery]:
        """Record attempts that ended (a delivery's last failure goes through the unit of work), and in
        the same transaction lease what `then_claim` has room for."""
        ...


class WebhookSender(Protocol):
    async def send(self, url: str, secret: str, message_id: str, payload: str) -> SendResult:
        """One signed POST; every failure is a result, never an exception."""
        ...

    async def close(self) -> None: ...


class UnitOfWork(Protocol):
    """One transaction over every repository; leaving without commit rolls back."""

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

    def record(self, event: DomainEvent) -> None:
        """Publish `event` once this unit of work commits; a rollback drops it. An `AgentEvent` is
        also written into the event log, in this unit of work's transaction."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, read_only: bool = False) -> UnitOfWork:
        """A new unit of work; a read-only one never waits for writers."""
        ...


class PaymentGateway(Protocol):
    provider: str

    async def create_checkout(self, request: CheckoutRequest) -> NewCheckout: ...

    async def checkout_status(self, checkout: Checkout) -> CheckoutStatus:
        """The provider's live view of a checkout we opened earlier."""
        ...

    async def close(self) -> None: ...


class WebhookVerifier(Protocol):
    provider: str

    def parse(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """Check the signature and its timestamp, then read the event; raise `InvalidWebhook` otherwise."""
        ...


class Notifier(Protocol):
    name: str

    async def send(self, notification: Notification) -> None:
        """Deliver one notification; raise on failure so the outbox retries it."""
        ...


class MessageStore(Protocol):
    async def store(self, delivery: Delivery) -> list[StoredCopy]:
        """Return once every copy is durably stored; raise MailboxFull, StorageUnavailable, or
        FolderNotFound for a delivery `into_existing_folders`."""
        ...


class MessageParser(Protocol):
    async def parse(self, raw: bytes) -> ParsedMessage:
        """Parse a message once: everything the store keeps about it besides its bytes."""
        ...


class Subscription(Protocol):
    def __aiter__(self) -> Subscription: ...

    async def __anext__(self) -> Signal:
        """The mailbox's next event, or a `Resync` when events may have been missed."""
        ...

    def close(self) -> None: ...


class EventBus(Protocol):
    async def publish(self, events: Sequence[MailboxEvent]) -> None:
        """Send events to every node's subscribers (this node's included), in order."""
        ...

    def subscribe(self, mailbox_id: str) -> Subscription:
        """Events of one mailbox from now on, until `close()`. When events may have been lost (a bus
        reconnected, a publish failed), every subscription of the node gets a `Resync` instead."""
        ...

    def subscriber_count(self) -> int:
        """Open subscriptions in this process."""
        ...

    def watch(self, watcher: EventWatcher) -> None:
        """Tell `watcher` of every event this node hears, before its subscribers, and of every resync."""
        ...

    def listening(self) -> bool:
        """Whether this node hears every event now (not before it starts, nor while its listener is away)."""
        ...


class EventWatcher(Protocol):
    def heard(self, event: MailboxEvent) -> None: ...

    def missed(self) -> None:
        """Events may have been missed (what a `Resync` tells subscribers)."""
        ...


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[DomainEvent]) -> None:
        """Send the events of a committed change; a failure is logged, never raised (the change stands)."""
        ...


class RetentionStore(Protocol):
    """Mailboxes' retention policies, and the deletions they call for."""

    async def get(self, mailbox_id: str) -> MailboxRetention: ...

    async def set(self, mailbox_id: str, policy: RetentionPolicy) -> None: ...

    async def can_make_room(self, mailbox_id: str) -> bool:
        """Whether the policy deletes read mail when full and the mailbox has read mail to delete."""
        ...

    async def delete_expired(self, now: datetime, limit: int) -> int:
        """Delete up to `limit` messages past their mailbox's age limit; how many were deleted."""
        ...


class MessageReader(Protocol):
    """What needs the raw message parsed again at read time."""

    def attachment(self, raw: bytes, parts_json: str, section: str) -> tuple[bytes, str, str | None] | None:
        """(decoded content, content type, filename) of an attachment part, or None."""
        ...

    def safe_text(self, raw: bytes, max_chars: int) -> tuple[str, list[str], bool]:
        """(visible text with numbered links, the links, truncated) for a language model."""
        ...


class MailboxFolders(MailFolderStore, Protocol):
    """One mailbox's stored folders and messages, as the store keeps them (names already checked)."""

    def stored(self, copies: Sequence[tuple[MessageCopy, StoredCopy]]) -> None:
        """The message store has just committed these messages into this mailbox's folders (APPEND)."""
        ...

    def unsure(self) -> None:
        """A write of this mailbox failed where it may have committed (an APPEND whose commit's outcome
        is unknown): what the store keeps of its folders' changes must be read again."""
        ...


class MailFolders(Protocol):
    """The folders and messages of every mailbox, for IMAP and POP3."""

    def of_mailbox(self, mailbox_id: str) -> MailboxFolders: ...


class SenderAuthenticator(Protocol):
    """SPF, DKIM, DMARC and ARC of a received message, within a bounded time."""

    async def authenticate(self, raw: bytes | bytearray, sender: SmtpSender) -> SenderAuth: ...
