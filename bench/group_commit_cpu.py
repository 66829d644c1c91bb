"""CPU time of the group-commit writer alone, in one process: no sockets, no parsing, no load generator.

Run: .venv/bin/python -m bench.group_commit_cpu [--messages 4000] [--database postgresql://...]
With PYTHONPATH=/path/to/other/src in front, the same run measures another version of the code, so two
versions can be compared in turns on a busy machine, where CPU time per message moves far less than rates.
Stores `--messages` copies of one parsed 5 KB message into 20 mailboxes, 200 at a time (so the writer
takes groups of up to 200), and prints the process's CPU milliseconds (user and system, every thread)
per stored message.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from mailservice.adapters.db.database import Database
from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.message_store import GroupCommitMessageStore
from mailservice.adapters.db.migrate import upgrade_to_head_async
from mailservice.adapters.db.sealed_text import TextSealer
from mailservice.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from mailservice.adapters.parser_processes import InlineParser
from mailservice.domain.clock import FixedClock
from mailservice.domain.events import DomainEvent
from mailservice.domain.mailbox import new_mailbox
from mailservice.domain.messages import Delivery, MessageCopy

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
MAILBOXES = 20
AT_ONCE = 200


class Discard:
    async def publish(self, events: Sequence[DomainEvent]) -> None:
        pass


def message(size: int = 5000) -> bytes:
    body = ("All work and no play makes a dull message. " * (size // 44 + 1))[:size]
    return (
        f"From: load@example.org\r\nTo: x@bench.test\r\nSubject: load\r\nMessage-ID: <1@example.org>\r\n\r\n"
        f"{body}\r\n"
    ).encode()


async def measure(dsn: str, count: int) -> float:
    await upgrade_to_head_async(async_database_url(dsn))
    database = Database(async_database_url(dsn))
    uow = SqlUnitOfWorkFactory(database, Discard(), TextSealer(b"bench-secret-0123456789abcdef0123"))
    ids = []
    async with uow() as unit:
        for number in range(MAILBOXES):
            mailbox = new_mailbox(f"sha256:{number:02d}", "ssh-ed25519 AAAA", "payer@example.com", NOW)
            await unit.mailboxes.add(mailbox)
            await unit.folders.create_inbox(mailbox.id, NOW)
            ids.append(mailbox.id)
        await unit.commit()
    raw = message()
    parsed = await InlineParser().parse(raw)
    store = GroupCommitMessageStore(database, FixedClock(NOW), 10**12, Discard())
    copies = [Delivery((MessageCopy(ids[i % MAILBOXES], raw, parsed, NOW),)) for i in range(count)]
    try:
        await asyncio.gather(*(store.store(d) for d in copies[:AT_ONCE]))  # warm-up
        started = time.process_time()
        for first in range(0, count, AT_ONCE):
            await asyncio.gather(*(store.store(d) for d in copies[first : first + AT_ONCE]))
        return (time.process_time() - started) / count * 1000
    finally:
        await store.close()
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--database", help="an empty PostgreSQL database (default: a new SQLite file)")
    args = parser.parse_args()
    dsn = args.database or str(Path(tempfile.mkdtemp(prefix="bench-group-")) / "mailservice.db")
    print(f"{asyncio.run(measure(dsn, args.messages)):.4f} ms CPU per stored message")


if __name__ == "__main__":
    main()
