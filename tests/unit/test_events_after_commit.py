"""Services record events on the unit of work; the one publisher sends them after commit, never after a
rollback. No database: the fake unit of work and the in-process event bus."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from mailservice.adapters.events.local import InProcessEventBus
from mailservice.domain.errors import StorageUnavailable
from mailservice.domain.messages import AccessRevoked, FolderChanged
from mailservice.ports import Subscription
from tests.support.fake_unit_of_work import INBOX_FOLDER_ID
from tests.support.service_wiring import Wiring


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
