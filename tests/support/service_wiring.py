"""The services over the fake unit of work, the real publisher and an in-process event bus: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from mailservice.adapters.events.local import InProcessEventBus
from mailservice.adapters.identity import ChallengeCodec, EdproofVerifier
from mailservice.adapters.message_reader import RawMessageReader
from mailservice.adapters.payments.mock import MockPaymentGateway
from mailservice.domain.agent_events import MAILBOX_RENEWED, LoggedEvent
from mailservice.domain.clock import FixedClock
from mailservice.domain.identity import KeyProof
from mailservice.domain.mailbox import Mailbox, new_mailbox
from mailservice.domain.messages import StoredMessage
from mailservice.domain.notification import Notification
from mailservice.domain.retention import RetentionPolicy
from mailservice.ports import RetentionStore
from mailservice.services.accounts import AccountService
from mailservice.services.admin import AdminService
from mailservice.services.announce import AfterCommitPublisher
from mailservice.services.credentials import Credentials
from mailservice.services.event_feed import EventFeed
from mailservice.services.inbox import InboxService
from mailservice.services.key_proofs import KeyProofs
from mailservice.services.live_sessions import LiveSessions
from mailservice.services.mailboxes import AdvertisedMailServer, MailboxService
from mailservice.services.metrics import ServiceMetrics
from mailservice.services.payments import PaymentService
from mailservice.services.reminders import ExpiryNotices, NoticeSettings
from mailservice.services.retention import RetentionService
from mailservice.services.webhooks import WebhookPolicy, WebhookService
from tests.support.fake_unit_of_work import FakeRetention, FakeUnitOfWorkFactory
from tests.support.keys import AgentKey

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
SECRET = b"a-secret-for-service-tests-0123456789"


class Wiring:
    """The services under test over the fake unit of work, the real publisher and an in-process bus."""

    def __init__(self, recheck_seconds: float = 60.0) -> None:
        self.clock = FixedClock(NOW)
        self.bus = InProcessEventBus()
        self.publisher = AfterCommitPublisher(self.bus)
        self.outbox_wakes = 0
        self.publisher.wake_outbox_with(self._wake)
        self.uow = FakeUnitOfWorkFactory(self.publisher)
        credentials = Credentials(SECRET)
        self.proofs = KeyProofs(EdproofVerifier(ChallengeCodec(SECRET)), self.uow, self.clock)
        self.payments = PaymentService(
            MockPaymentGateway("http://test"), self.uow, self.clock, "agents.test", timedelta(hours=24)
        )
        self.notices = ExpiryNotices(self.uow, self.clock, NoticeSettings("agents.test", "http://test", 7))
        self.mailboxes = MailboxService(
            self.proofs,
            self.payments,
            credentials,
            self.uow,
            self.clock,
            AdvertisedMailServer("agents.test", "imap", 143, 110),
            self.notices,
        )
        self.accounts = AccountService(self.uow, self.clock, "http://test")
        self.webhook_policy = WebhookPolicy(
            per_mailbox=3,
            allow_private=False,
            disable_after=timedelta(days=3),
            endpoint_concurrency=2,
            concurrency=8,
            lease=timedelta(minutes=1),
            mail_domain="agents.test",
            public_base_url="http://test",
        )
        self.retention_store: RetentionStore = FakeRetention(self.uow, RetentionPolicy(30, False))
        self.retention = RetentionService(self.retention_store, self.clock)
        self.webhooks = WebhookService(self.uow, self.clock, credentials.webhook_secret, self.webhook_policy)
        self.live_sessions = LiveSessions(self.mailboxes, self.bus, recheck_seconds)
        self.inbox = InboxService(
            self.uow, self.bus, credentials, self.mailboxes, RawMessageReader(), self.live_sessions
        )
        self.event_feed = EventFeed(self.uow, self.bus, self.live_sessions, self.clock, timedelta(days=7))
        self.admin = AdminService(self.uow, self.clock, self.mailboxes, self.bus, ServiceMetrics())

    def proof(self, key: AgentKey) -> KeyProof:
        """A fresh signed proof of `key`, as an agent makes one."""
        challenge = self.proofs.issue_challenge(key.public_line).text
        return KeyProof(key.public_line, challenge, key.sign(challenge))

    def queued(self, kind: str) -> list[Notification]:
        """The notifications of one kind waiting in the committed outbox, oldest first."""
        return [row.notification for row in self.uow.state.outbox if row.notification.kind == kind]

    def _wake(self) -> None:
        self.outbox_wakes += 1

    def paid_mailbox(self, expires_in: timedelta = timedelta(days=30)) -> Mailbox:
        mailbox = new_mailbox("sha256:ab", "ssh-ed25519 AAAA", "payer@example.com", NOW).extend(1, NOW)
        mailbox = replace(mailbox, key_fingerprint=f"sha256:{mailbox.id}", expires_at=NOW + expires_in)
        self.uow.state.mailboxes[mailbox.id] = mailbox
        self.uow.state.new_inbox(mailbox.id)
        return mailbox

    def logged_event(self, mailbox: Mailbox, type: str = MAILBOX_RENEWED) -> LoggedEvent:
        """An event in the log, as if a committed change had written it."""
        event = LoggedEvent(len(self.uow.state.event_log) + 1, mailbox.id, type, self.clock.now(), {})
        self.uow.state.event_log.append(event)
        return event

    def message(self, mailbox: Mailbox, uid: int, received_at: datetime = NOW) -> StoredMessage:
        message = StoredMessage(
            uid=uid,
            flags=frozenset(),
            internal_date=received_at,
            size=10,
            subject="hello",
            from_address="a@example.org",
            from_name=None,
            to=(),
            cc=(),
            date=None,
            message_id=None,
            has_attachments=False,
            tags=(),
            codes=(),
            links=(),
            parts_json="[]",
        )
        self.uow.state.messages[(mailbox.id, uid)] = message
        return message
