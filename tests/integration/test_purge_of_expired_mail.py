"""The purge of an expired mailbox's mail, on SQLite and PostgreSQL: a mailbox renewed after the purge
found it keeps its mail, whether the renewal came before the purge took its locks or while it waited
for the mailbox's row."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from sqlalchemy import select, update

from mailservice.adapters.db.mailboxes import _lapsed, _purge
from mailservice.adapters.db.tables import mailboxes, messages
from mailservice.bootstrap import Runtime
from mailservice.domain.mailbox import MailboxStatus
from tests.integration.test_folder_snapshots import message
from tests.integration.test_write_locks import waiting_for_a_lock
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def mailbox_with_mail(runtime: Runtime, client: httpx.AsyncClient, status: MailboxStatus) -> str:
    details = await claim_and_pay(client, AgentKey.generate())
    session = await runtime.services.mail_access.login(
        str(details["email"]), str(details["password"]), "127.0.0.1"
    )
    await session.append("INBOX", message("kept or purged"), frozenset(), None)
    mailbox_id = str(details["mailbox_id"])
    now = (
        update(mailboxes).where(mailboxes.c.id == mailbox_id).values(status=status.value, expires_at=LONG_AGO)
    )
    await runtime.database.run_write(lambda c: c.execute(now))
    return mailbox_id


async def test_a_mailbox_renewed_after_it_was_found_keeps_its_mail(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    lapsed = await mailbox_with_mail(runtime, client, MailboxStatus.EXPIRED)
    renewed = await mailbox_with_mail(runtime, client, MailboxStatus.ACTIVE)  # found expired, then paid
    still_lapsed = _lapsed(datetime.now(UTC) - timedelta(days=1))

    purged = await runtime.database.run_write(lambda c: _purge(c, [lapsed, renewed], still_lapsed))

    assert [(mailbox_id, removed) for mailbox_id, removed, _ in purged] == [(lapsed, 1)]
    left = select(messages.c.mailbox_id).where(messages.c.mailbox_id.in_([lapsed, renewed]))
    assert await runtime.database.run_read(lambda c: list(c.execute(left).scalars())) == [renewed]


async def test_a_mailbox_renewed_while_the_purge_waits_for_its_row_keeps_its_mail(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """PostgreSQL: the renewal holds the mailbox's row as the purge comes to it; once the renewal commits,
    the purge reads the row again and leaves the mailbox alone."""
    if runtime.database.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: a renewal cannot come between")
    lapsed = await mailbox_with_mail(runtime, client, MailboxStatus.EXPIRED)
    renewed = await mailbox_with_mail(runtime, client, MailboxStatus.EXPIRED)
    still_lapsed = _lapsed(datetime.now(UTC) - timedelta(days=1))
    renewal = await asyncpg.connect(runtime.settings.database_dsn)
    try:
        paying = renewal.transaction()
        await paying.start()
        await renewal.execute(
            "UPDATE mailboxes SET status = $1 WHERE id = $2", MailboxStatus.ACTIVE.value, renewed
        )
        purging = asyncio.create_task(
            runtime.database.run_write(lambda c: _purge(c, [lapsed, renewed], still_lapsed))
        )
        await waiting_for_a_lock(runtime, purging)
        await paying.commit()
        purged = await purging
    finally:
        await renewal.close()

    assert [(mailbox_id, removed) for mailbox_id, removed, _ in purged] == [(lapsed, 1)]
    left = select(messages.c.mailbox_id).where(messages.c.mailbox_id.in_([lapsed, renewed]))
    assert await runtime.database.run_read(lambda c: list(c.execute(left).scalars())) == [renewed]
