"""What an IMAP APPEND writes, alike on both databases (on PostgreSQL one statement writes it, on SQLite
the group-commit store): consecutive UIDs and modseqs, each message's event exactly as a delivery logs
it, one webhook delivery per endpoint that wants it, and nothing at all when the mailbox has no room or
the folder does not exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select, update

from mailservice.adapters.db.event_log import event_data_text, message_received
from mailservice.adapters.db.tables import (
    event_log,
    folders,
    mailboxes,
    message_raw,
    messages,
    webhook_deliveries,
    webhook_endpoints,
)
from mailservice.adapters.message_parsing import parse_message
from mailservice.bootstrap import Runtime
from mailservice.domain.clock import FixedClock
from mailservice.domain.errors import FolderNotFound, MailboxFull
from mailservice.domain.mail_session import MailSession, NewMessage
from mailservice.domain.messages import MessageCopy, StoredCopy
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import text_message

SEEN = "\\Seen"


def message(subject: str, body: str = "Your code is 482913.\nSee https://example.com/a?b=c\n") -> bytes:
    raw = text_message("agent@example.org", subject, body, "Shop <shop@example.org>")
    return raw.replace(b"\n", b"\r\n")


async def logged_in(client: httpx.AsyncClient, runtime: Runtime) -> tuple[MailSession, str]:
    details = await claim_and_pay(client, AgentKey.generate())
    address, password = str(details["email"]), str(details["password"])
    return await runtime.services.mail_access.login(address, password, "127.0.0.1"), str(
        details["mailbox_id"]
    )


async def rows(runtime: Runtime, query: Any) -> list[Any]:
    async with runtime.engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def test_a_multiappend_takes_consecutive_uids_and_logs_each_message_as_a_delivery_would(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    mail, mailbox_id = await logged_in(client, runtime)
    await mail.append("INBOX", message("first"), frozenset(), None)
    raws = [message(f"m{n}", body=f"Body {n}, with ü and a NUL \x00.\n") for n in range(3)]
    dated = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    appended = await mail.append_all(
        "INBOX",
        [
            NewMessage(raws[0], frozenset({SEEN}), None),
            *(NewMessage(r, frozenset(), dated) for r in raws[1:]),
        ],
    )

    assert appended.uids == (2, 3, 4)
    [folder] = await rows(runtime, select(folders).where(folders.c.mailbox_id == mailbox_id))
    assert appended.uidvalidity == folder.uidvalidity
    stored = await rows(
        runtime, select(messages).where(messages.c.mailbox_id == mailbox_id).order_by(messages.c.uid)
    )
    modseqs = [row.modseq for row in stored]
    assert modseqs == list(range(modseqs[0], modseqs[0] + 4))
    assert (folder.uidnext, folder.highestmodseq) == (5, modseqs[-1])
    assert [row.flags for row in stored[1:]] == [SEEN, "", ""]
    assert [row.internal_date for row in stored[1:]] == [clock.now(), dated, dated]
    [used] = await rows(runtime, select(mailboxes.c.used_bytes).where(mailboxes.c.id == mailbox_id))
    assert used.used_bytes == sum(row.size for row in stored)

    logged = await rows(
        runtime, select(event_log).where(event_log.c.mailbox_id == mailbox_id).order_by(event_log.c.id)
    )
    expected = [
        event_data_text(
            message_received(
                MessageCopy(
                    mailbox_id, raw, parse_message(raw), row.internal_date, flags=tuple(row.flags.split())
                ),
                StoredCopy(mailbox_id, folder.id, row.uid, row.modseq, row.size, folder.uidvalidity),
                clock.now(),
            ).data
        )
        for raw, row in zip(raws, stored[1:], strict=True)
    ]
    assert [row.data for row in logged[1:]] == expected
    assert {(row.type, row.occurred_at) for row in logged} == {("message.received", clock.now())}


async def test_an_append_queues_a_webhook_delivery_for_each_enabled_endpoint_that_wants_new_mail(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    mail, mailbox_id = await logged_in(client, runtime)
    now = clock.now()
    wanted = [("wants", "mailbox.renewed  message.received", None), ("other", "mailbox.renewed", None)]
    endpoints = [*wanted, ("disabled", "message.received", now - timedelta(days=1))]
    async with runtime.engine.begin() as connection:
        for name, events, disabled_at in endpoints:
            await connection.execute(
                insert(webhook_endpoints).values(
                    id=name + mailbox_id[:20],
                    mailbox_id=mailbox_id,
                    url=f"https://example.com/{name}",
                    events=events,
                    created_at=now,
                    disabled_at=disabled_at,
                )
            )

    await mail.append_all("INBOX", [NewMessage(message(f"m{n}"), frozenset(), None) for n in range(2)])

    event_ids = [
        row.id
        for row in await rows(runtime, select(event_log.c.id).where(event_log.c.mailbox_id == mailbox_id))
    ]
    queued = await rows(runtime, select(webhook_deliveries).order_by(webhook_deliveries.c.event_id))
    assert [(row.endpoint_id, row.event_id, row.event_type) for row in queued] == [
        ("wants" + mailbox_id[:20], event_id, "message.received") for event_id in sorted(event_ids)
    ]
    assert {(row.status, row.attempts, row.next_attempt_at, row.created_at) for row in queued} == {
        ("pending", 0, now, now)
    }


async def nothing_written(runtime: Runtime, mailbox_id: str) -> None:
    assert await rows(runtime, select(messages.c.id).where(messages.c.mailbox_id == mailbox_id)) == []
    assert await rows(runtime, select(event_log.c.id).where(event_log.c.mailbox_id == mailbox_id)) == []
    assert await rows(runtime, select(func.count()).select_from(message_raw)) == [(0,)]
    [mailbox] = await rows(runtime, select(mailboxes.c.used_bytes).where(mailboxes.c.id == mailbox_id))
    assert mailbox.used_bytes == 0
    [inbox] = await rows(runtime, select(folders.c.uidnext).where(folders.c.mailbox_id == mailbox_id))
    assert inbox.uidnext == 1


async def test_an_append_that_does_not_fit_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    mail, mailbox_id = await logged_in(client, runtime)
    raw = message("big")
    async with runtime.engine.begin() as connection:
        await connection.execute(
            update(mailboxes).where(mailboxes.c.id == mailbox_id).values(quota_bytes=len(raw) - 1)
        )

    with pytest.raises(MailboxFull):
        await mail.append("INBOX", raw, frozenset(), None)

    await nothing_written(runtime, mailbox_id)
    async with runtime.engine.begin() as connection:
        await connection.execute(
            update(mailboxes).where(mailboxes.c.id == mailbox_id).values(quota_bytes=len(raw))
        )
    assert (await mail.append("INBOX", raw, frozenset(), None)).uid == 1  # exactly the room left


async def test_an_append_to_a_missing_folder_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    mail, mailbox_id = await logged_in(client, runtime)

    with pytest.raises(FolderNotFound):
        await mail.append("Nowhere", message("lost"), frozenset(), None)

    await nothing_written(runtime, mailbox_id)
