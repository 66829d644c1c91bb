"""The HTTP API's `q` searched in SQL over one large mailbox: the time of each query.

Run: .venv/bin/python -m bench.q_search_sql [--database DSN] [--messages 20000] [--rounds 15]

Without `--database` a new SQLite file in a temporary directory; with it, an existing empty migrated
database (`mailservice migrate` first; PostgreSQL: create a database of its own). One message is
delivered through the store, then its row is copied until the INBOX holds `--messages` (0.2% unread,
0.1% flagged, internal dates two minutes apart from 2026-03-01), so the flag queries find fewer than
50 and the database reads the whole folder for them. Each query runs through the repository the API
uses (`SqlMessageRepository.find`, 50 at most, newest first), the queries interleaved, `--rounds`
times; prints the median wall time and this process's CPU time of each (on SQLite the query runs in
this process), and the load average. It runs on older code too (PYTHONPATH=old/src).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, make_url

from mailservice.adapters.db.database import Database
from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.message_store import GroupCommitMessageStore
from mailservice.adapters.db.migrate import upgrade_to_head
from mailservice.adapters.db.sealed_text import TextSealer
from mailservice.adapters.db.tables import messages
from mailservice.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from mailservice.adapters.parser_processes import InlineParser
from mailservice.domain.clock import FixedClock
from mailservice.domain.events import DomainEvent
from mailservice.domain.mailbox import new_mailbox
from mailservice.domain.messages import Delivery, MessageCopy
from mailservice.domain.search import parse_query

QUERIES = [
    "is:unread",
    "is:flagged",
    "is:read is:flagged",
    "after:2026-03-20",
    "before:2026-03-02",
    "is:unread after:2026-03-10 before:2026-03-12",
    "subject:nothing-like-this",
]
NOW = datetime(2026, 4, 1, tzinfo=UTC)
RAW = (
    b"From: Sender <sender@example.org>\r\nTo: reader@bench.test\r\nSubject: Your code\r\n"
    b"Message-ID: <bench@example.org>\r\n\r\nYour code is 123456.\r\n"
)


class NoPublisher:
    async def publish(self, events: Sequence[DomainEvent]) -> None:
        pass


async def filled_mailbox(database: Database, uow: SqlUnitOfWorkFactory, count: int) -> str:
    store = GroupCommitMessageStore(database, FixedClock(NOW), 10**12, NoPublisher())
    mailbox = new_mailbox("sha256:be", "ssh-ed25519 AAAA", "payer@example.com", NOW)
    async with uow() as unit:
        await unit.mailboxes.add(mailbox)
        await unit.folders.create_inbox(mailbox.id, NOW)
        await unit.commit()
    parsed = await InlineParser().parse(RAW)
    await store.store(Delivery((MessageCopy(mailbox.id, RAW, parsed, NOW),)))
    await store.close()

    def copy_rows(connection: Connection) -> None:
        first = dict(
            connection.execute(select(messages).where(messages.c.mailbox_id == mailbox.id)).mappings().one()
        )
        del first["id"]
        rows = [_copy(first, uid) for uid in range(2, count + 1)]
        for start in range(0, len(rows), 1000):
            connection.execute(messages.insert(), rows[start : start + 1000])

    await database.run_write(copy_rows)
    return mailbox.id


def _copy(row: dict[str, Any], uid: int) -> dict[str, Any]:
    flags = "" if uid % 500 == 0 else "\\Seen"  # 0.2% unread
    if uid % 997 == 0:
        flags += " \\Flagged"  # 0.1% flagged
    when = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=uid * 40_000 // 20_000)
    return {
        **row,
        "uid": uid,
        "modseq": uid,
        "flags": flags.strip(),
        "internal_date": when,
        "size": 500 + uid % 3000,
    }


async def run(dsn: str, count: int, rounds: int) -> None:
    database = Database(async_database_url(dsn))
    uow = SqlUnitOfWorkFactory(
        database, NoPublisher(), TextSealer(b"a-secret-for-the-q-benchmark-0123456789")
    )
    try:
        mailbox_id = await filled_mailbox(database, uow, count)
        print(f"{count} messages; load average before: {os.getloadavg()}")
        walls: dict[str, list[float]] = {q: [] for q in QUERIES}
        cpus: dict[str, list[float]] = {q: [] for q in QUERIES}
        found: dict[str, int] = {}
        for _ in range(rounds):
            for q in QUERIES:
                query = parse_query(q)
                wall, cpu = time.perf_counter(), time.process_time()
                async with uow(read_only=True) as unit:
                    found[q] = len(await unit.messages.find(mailbox_id, query, limit=50))
                walls[q].append(time.perf_counter() - wall)
                cpus[q].append(time.process_time() - cpu)
        for q in QUERIES:
            wall_ms, cpu_ms = statistics.median(walls[q]) * 1000, statistics.median(cpus[q]) * 1000
            print(f"{q:48} {found[q]:3} found  {wall_ms:8.2f} ms wall  {cpu_ms:8.2f} ms CPU")
        print(f"load average after: {os.getloadavg()}")
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="an empty migrated database (default: a new SQLite file)")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="q-bench-") as directory:
        dsn = options.database
        if dsn is None:
            dsn = f"sqlite:///{Path(directory) / 'mailservice.db'}"
            upgrade_to_head(make_url(async_database_url(dsn)))
        asyncio.run(run(dsn, options.messages, options.rounds))


if __name__ == "__main__":
    main()
