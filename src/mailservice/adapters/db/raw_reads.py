"""Reading messages' stored bytes by uid: whole, or only the header block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, func, select
from sqlalchemy.engine import Connection

from mailservice.adapters.db.message_changes import uid_conditions
from mailservice.adapters.db.tables import message_raw, messages

HEADER_BLOCK: ColumnElement[Any] = func.substr(message_raw.c.raw, 1, messages.c.header_end, type_=LargeBinary)


def raw_contents(
    connection: Connection,
    mailbox_id: str,
    folder_id: int,
    uids: Sequence[int],
    content: ColumnElement[Any] = message_raw.c.raw,
) -> dict[int, bytes]:
    """`content` (the whole message unless told) of each existing message, by uid."""
    found: dict[int, bytes] = {}
    for condition in uid_conditions(uids):
        query = (
            select(messages.c.uid, content)
            .join(message_raw, message_raw.c.id == messages.c.raw_id)
            .where(messages.c.mailbox_id == mailbox_id, messages.c.folder_id == folder_id, condition)
        )
        for uid, raw in connection.execute(query).all():
            found[uid] = bytes(raw)
    return found
