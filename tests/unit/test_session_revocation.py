"""Open sessions end when access is revoked: at the `mailbox.access_revoked` event published after a
rotation's commit, and by the periodic recheck when nothing was published (a lapsed expiry, a lost
event). No database: the fake unit of work and the in-process event bus."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from mailservice.domain.errors import AuthenticationFailed, MailboxExpired, StorageUnavailable
from mailservice.domain.messages import AccessRevoked
from mailservice.domain.search import MessageQuery
from tests.support.service_wiring import Wiring


async def waiting_started(wiring: Wiring) -> None:
    """Until the long poll holds its lease (the mailbox is watched)."""
    async with asyncio.timeout(5):
        while wiring.live_sessions.watch_count() == 0:  # noqa: ASYNC110 -- no "waiting" signal to wait on
            await asyncio.sleep(0.005)


async def test_rotation_publishes_access_revoked_after_commit() -> None:
    wiring = Wiring()
    mailbox = wiring.paid_mailbox()
    subscription = wiring.bus.subscribe(mailbox.id)

    await wiring.admin.reprovision(mailbox.id, rotate_credentials=True)

    assert await asyncio.wait_for(anext(subscription), 1) == AccessRevoked(mailbox.id)
    assert wiring.uow.state.mailboxes[mailbox.id].credential_epoch == 1


async def test_a_rotation_that_fails_to_commit_publishes_nothing_and_ends_no_session() -> None:
    wiring = Wiring()
    mailbox = wiring.paid_mailbox()
    waiting = asyncio.create_task(wiring.inbox.wait(mailbox, 0, 0.5, MessageQuery()))
    await waiting_started(wiring)
    wiring.uow.fail_commits = True

    with pytest.raises(StorageUnavailable):
        await wiring.admin.reprovision(mailbox.id, rotate_credentials=True)

    assert await waiting is None  # timed out as usual: the session was not ended


async def test_a_long_poll_answers_401_once_the_credentials_are_rotated() -> None:
    wiring = Wiring()
    mailbox = wiring.paid_mailbox()
    waiting = asyncio.create_task(wiring.inbox.wait(mailbox, 0, 30, MessageQuery()))
    await waiting_started(wiring)

    await wiring.admin.reprovision(mailbox.id, rotate_credentials=True)

    with pytest.raises(AuthenticationFailed):
        await asyncio.wait_for(waiting, 2)


async def test_an_event_stream_ends_once_the_credentials_are_rotated() -> None:
    wiring = Wiring()
    mailbox = wiring.paid_mailbox()
    wiring.logged_event(mailbox)
    stream = wiring.event_feed.follow(mailbox, 0)
    assert (await anext(stream)).id == 1
    following = asyncio.ensure_future(anext(stream))
    await waiting_started(wiring)

    await wiring.admin.reprovision(mailbox.id, rotate_credentials=True)

    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(following, 2)


async def test_the_recheck_ends_a_long_poll_when_the_mailbox_lapses_without_any_event() -> None:
    wiring = Wiring(recheck_seconds=0.05)
    mailbox = wiring.paid_mailbox(expires_in=timedelta(hours=1))
    waiting = asyncio.create_task(wiring.inbox.wait(mailbox, 0, 30, MessageQuery()))
    await waiting_started(wiring)

    wiring.clock.advance(timedelta(hours=2))

    with pytest.raises(MailboxExpired):
        await asyncio.wait_for(waiting, 2)
    assert wiring.live_sessions.watch_count() == 0


async def test_sessions_that_logged_in_after_a_rotation_go_on() -> None:
    wiring = Wiring()
    mailbox = wiring.paid_mailbox()
    await wiring.admin.reprovision(mailbox.id, rotate_credentials=True)
    rotated = wiring.uow.state.mailboxes[mailbox.id]
    waiting = asyncio.create_task(wiring.inbox.wait(rotated, 0, 0.3, MessageQuery()))
    await waiting_started(wiring)

    await wiring.bus.publish([AccessRevoked(mailbox.id)])  # a late copy of the rotation's event

    assert await waiting is None
