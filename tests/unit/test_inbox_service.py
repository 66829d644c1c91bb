"""Reading and changing the inbox at the service layer, over the in-memory unit of work: the access
token opens only its own usable mailbox, pages never skip or repeat, flags and deletion change what
the next read sees. The HTTP API is tested on both databases in tests/integration/test_read_api.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailservice.domain.errors import AuthenticationFailed, InvalidInput, MailboxExpired, NotFound
from mailservice.domain.search import MessageQuery
from mailservice.services.credentials import Credentials
from tests.support.service_wiring import SECRET, Wiring


@pytest.fixture
def wiring() -> Wiring:
    return Wiring()


async def test_an_access_token_opens_its_own_mailbox_while_it_is_usable(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox(expires_in=timedelta(hours=1))
    other = wiring.paid_mailbox()
    token = Credentials(SECRET).access_token(mailbox)

    opened = await wiring.inbox.authenticate(f" {token} ")
    with pytest.raises(AuthenticationFailed):
        await wiring.inbox.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B"))
    with pytest.raises(AuthenticationFailed):
        await wiring.inbox.authenticate(Credentials(b"another-secret-0123456789abcdef").access_token(other))
    wiring.clock.advance(timedelta(hours=1))
    with pytest.raises(MailboxExpired):
        await wiring.inbox.authenticate(token)

    assert opened.id == mailbox.id


async def test_pages_newest_first_then_by_cursor_never_skip_or_repeat(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()
    for uid in range(1, 6):
        wiring.message(mailbox, uid)

    newest = await wiring.inbox.find(mailbox, MessageQuery(), limit=2)
    older = await wiring.inbox.find(mailbox, MessageQuery(), limit=10, before_uid=newest[-1].uid)
    after = await wiring.inbox.find(mailbox, MessageQuery(), limit=2, after_uid=2)

    assert [m.uid for m in newest] == [5, 4]
    assert [m.uid for m in older] == [3, 2, 1]
    assert [m.uid for m in after] == [3, 4]
    for limit in (0, 101):
        with pytest.raises(InvalidInput):
            await wiring.inbox.find(mailbox, MessageQuery(), limit=limit)


async def test_reading_marks_seen_only_when_asked_and_flags_can_be_cleared(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()
    wiring.message(mailbox, 1)

    read = await wiring.inbox.get(mailbox, 1)
    marked = await wiring.inbox.get(mailbox, 1, mark_seen=True)
    flagged = await wiring.inbox.update(mailbox, 1, seen=False, flagged=True)

    assert (read.seen, marked.seen) == (False, True)
    assert flagged.flags == {"\\Flagged"}


async def test_a_deleted_message_is_gone_and_missing_ones_are_not_found(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()
    wiring.message(mailbox, 1)

    await wiring.inbox.delete(mailbox, 1)

    for missing in (
        wiring.inbox.get(mailbox, 1),
        wiring.inbox.delete(mailbox, 1),
        wiring.inbox.raw(mailbox, 1),
    ):
        with pytest.raises(NotFound):
            await missing
    with pytest.raises(NotFound):
        await wiring.inbox.update(mailbox, 7, seen=True)
    assert await wiring.inbox.find(mailbox, MessageQuery(), limit=10) == []
