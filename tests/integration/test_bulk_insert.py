"""The delivery path's prepared INSERT stores exactly what SQLAlchemy's own INSERT stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from mailservice.adapters.db.bulk_insert import insert_rows
from mailservice.adapters.db.tables import mailboxes
from mailservice.bootstrap import Runtime

WHEN = datetime(2026, 3, 1, 23, 59, 59, 123456, tzinfo=UTC)


def mailbox_row(number: int) -> dict[str, Any]:
    return {
        "id": f"{number:032x}",
        "login": f"mbx_{number:011x}",
        "key_fingerprint": f"fingerprint-{number}",
        "public_key": "ssh-ed25519 AAAA",
        "billing_email": "billing@example.org",
        "status": "active",
        "credential_epoch": 0,
        "created_at": WHEN,
        "updated_at": WHEN + timedelta(hours=number),
        "expires_at": None if number % 2 else WHEN,
        "used_bytes": 2**40 + number,
    }


async def test_prepared_insert_stores_what_sqlalchemy_stores(runtime: Runtime) -> None:
    prepared = [mailbox_row(n) for n in (1, 2)]
    plain = [mailbox_row(n) for n in (3, 4)]

    def write(connection: Any) -> None:
        insert_rows(connection, mailboxes, prepared)
        connection.execute(mailboxes.insert(), plain)

    await runtime.database.run_write(write)
    async with runtime.database.engine.connect() as connection:
        stored = (await connection.execute(select(mailboxes).order_by(mailboxes.c.id))).mappings().all()

    for row, expected in zip(stored, prepared + plain, strict=True):
        assert {key: row[key] for key in expected} == expected
