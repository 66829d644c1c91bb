"""IMAP SORT's keys (`SortKeys`) in the messages table: written with each message, read for SORT. A
message stored before they were kept has none; its keys are computed from its header block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from mailservice.adapters.db.message_changes import uid_conditions
from mailservice.adapters.db.raw_reads import HEADER_BLOCK, raw_contents
from mailservice.adapters.db.tables import messages
from mailservice.domain.messages import SortKeys
from mailservice.mime.sort_keys import sort_keys_of

_KEY_COLUMNS = (
    messages.c.sort_subject,
    messages.c.sort_date,
    messages.c.sort_from,
    messages.c.sort_to,
    messages.c.sort_cc,
    messages.c.sort_display_from,
    messages.c.sort_display_to,
)


def sort_key_columns(keys: SortKeys | None) -> dict[str, Any]:
    """The columns of a new message's row (none when its keys were not computed)."""
    if keys is None:
        return {}
    return {
        "sort_subject": _text(keys.subject),
        "sort_date": keys.sent,
        "sort_from": _text(keys.from_),
        "sort_to": _text(keys.to),
        "sort_cc": _text(keys.cc),
        "sort_display_from": _text(keys.display_from),
        "sort_display_to": _text(keys.display_to),
    }


def stored_sort_keys(
    connection: Connection, mailbox_id: str, folder_id: int, uids: Sequence[int]
) -> dict[int, SortKeys]:
    """Each existing message's keys by uid, from the header block where none were stored."""
    found: dict[int, SortKeys] = {}
    missing: list[int] = []
    for condition in uid_conditions(uids):
        query = select(messages.c.uid, *_KEY_COLUMNS).where(
            messages.c.mailbox_id == mailbox_id, messages.c.folder_id == folder_id, condition
        )
        for uid, subject, sent, from_, to, cc, display_from, display_to in connection.execute(query).all():
            if subject is None:
                missing.append(uid)
            else:
                found[uid] = SortKeys(subject, sent, from_, to, cc, display_from, display_to)
    found.update(_computed(connection, mailbox_id, folder_id, missing))
    return found


def _computed(
    connection: Connection, mailbox_id: str, folder_id: int, uids: list[int]
) -> dict[int, SortKeys]:
    headers = raw_contents(connection, mailbox_id, folder_id, uids, HEADER_BLOCK)
    return {uid: sort_keys_of(header) for uid, header in headers.items()}


def _text(value: str) -> str:
    return value.replace("\x00", "")  # PostgreSQL text cannot hold NUL
