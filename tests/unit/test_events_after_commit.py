"""Services record events on the unit of work; the one publisher sends them after commit, never after a
rollback. No database: the fake unit of work and the in-process event bus."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mailservice.adapters.events.local import InProcessEventBus
from mailservice.adapters.identity import ChallengeCodec, EdproofVerifier
from mailservice.adapters.message_reader import RawMessageReader
from mailservice.adapters.payments.mock import MockPaymentGateway
from mailservice.domain.clock import FixedClock
from mailservice.domain.errors import StorageUnavailable
from mailservice.domain.mailbox import Mailbox, new_mailbox
from mailservice.domain.messages import AccessRevoked, FolderChanged, StoredMessage
from mailservice.ports import Subscription
from mailservice.services.announce import AfterCommitPublisher
from mailservice.services.credentials import Credentials
from mailservice.services.inbox import InboxService
from mailservice.services.key_proofs import KeyProofs
from mailservice.services.mailboxes import MailboxService, MailHost
from mailservice.services.payments import PaymentService
from mailservice.services.reminders import ExpiryNotices, NoticeSettings
from tests.support.fake_unit_of_work import INBOX_FOLDER_ID, FakeUnitOfWorkFactory

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
SECRET = b"a-secret-for-service-tests-0123456789"


class Wiring:
    """The services under test over the fake unit of work, the real publisher and an in-process bus."""

    def __init__(self) -> None:
        self.clock = FixedClock(NOW)
        self.bus = InProcessEventBus()
        self.publisher = AfterCommitPublisher(self.bus)
        self.outbox_wakes = 0
        self.publisher.wake_outbox_with(self._wake)
        self.uow = FakeUnitOfWorkFactory(self.publisher)
        credentials = Credentials(SECRET)
        proofs = KeyProofs(EdproofVerifier(ChallengeCodec(SECRET)), self.uow, self.clock)
        payments = PaymentService(MockPaymentGateway("http://test"), self.uow, self.clock, "agents.test")
        self.mailboxes = MailboxService(
            proofs, payments, credentials, self.uow, self.clock, MailHost("agents.test", "imap", 143, 110)
        )
        self.inbox = InboxService(self.uow, self.bus, credentials, self.mailboxes, RawMessageReader())
        self.notices = ExpiryNotices(self.uow, self.clock, NoticeSettings("agents.test", "http://test", 7))

    def _wake(self) -> None:
        self.outbox_wakes += 1

    def paid_mailbox(self, expires_in: timedelta = timedelta(days=30)) -> Mailbox:
        mailbox = new_mailbox("sha256:ab", "ssh-ed25519 AAAA", "payer@example.com", NOW).extend(1, NOW)
        mailbox = replace(mailbox, expires_at=NOW + expires_in)
        self.uow.state.mailboxes[mailbox.id] = mailbox
        return mailbox

    def message(self, mailbox: Mailbox, uid: int) -> StoredMessage:
        message = StoredMessage(
            uid=uid,
            flags=frozenset(),
            internal_date=NOW,
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


@pytest.fixture
def wiring() -> Wiring:
    return Wiring()


async def next_is_marker(bus: InProcessEventBus, subscription: Subscription, mailbox_id: str) -> bool:
    """Whether nothing was published before now: a marker published now is the next event seen."""
    marker = AccessRevoked(mailbox_id)
    await bus.publish([marker])
    return await asyncio.wait_for(anext(subscription), 1) == marker


async def test_marking_a_message_seen_publishes_folder_changed_after_commit(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()
    wiring.message(mailbox, 1)
    subscription = wiring.bus.subscribe(mailbox.id)

    updated = await wiring.inbox.update(mailbox, 1, seen=True)

    assert updated.seen
    assert await asyncio.wait_for(anext(subscription), 1) == FolderChanged(mailbox.id, INBOX_FOLDER_ID, 2)
    assert wiring.uow.commits == 1


async def test_a_change_that_is_rolled_back_publishes_nothing(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()
    wiring.message(mailbox, 1)
    subscription = wiring.bus.subscribe(mailbox.id)
    wiring.uow.fail_commits = True

    with pytest.raises(StorageUnavailable):
        await wiring.inbox.delete(mailbox, 1)

    assert await next_is_marker(wiring.bus, subscription, mailbox.id)
    assert (mailbox.id, 1) in wiring.uow.state.messages


async def test_a_publish_failure_is_logged_and_the_committed_change_stands(
    wiring: Wiring, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = wiring.paid_mailbox()
    wiring.message(mailbox, 1)

    async def broken(_events: object) -> None:
        raise ConnectionError("event bus down")

    monkeypatch.setattr(wiring.bus, "publish", broken)

    await wiring.inbox.delete(mailbox, 1)

    assert (mailbox.id, 1) not in wiring.uow.state.messages
    assert "events.publish_failed" in caplog.text


async def test_a_queued_notice_wakes_the_outbox_once_after_commit(wiring: Wiring) -> None:
    wiring.paid_mailbox(expires_in=timedelta(days=3))
    wiring.paid_mailbox(expires_in=timedelta(days=4))

    queued = await wiring.notices.queue_due()

    assert queued.reminders == 2
    assert len(wiring.uow.state.outbox) == 2
    assert wiring.outbox_wakes == 1


async def test_a_notice_that_is_rolled_back_wakes_nothing(wiring: Wiring) -> None:
    wiring.paid_mailbox(expires_in=timedelta(days=3))
    wiring.uow.fail_commits = True

    with pytest.raises(StorageUnavailable):
        await wiring.notices.queue_due()

    assert wiring.uow.state.outbox == []
    assert wiring.outbox_wakes == 0
