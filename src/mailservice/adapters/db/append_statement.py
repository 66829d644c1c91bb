"""PostgreSQL: an IMAP APPEND written by one statement, committed alone.

Through the group-commit store an APPEND is a transaction of seven round trips (BEGIN, the quota, the
folder's lock, the rows, the webhook endpoints, the events, COMMIT), five of them under its folder's row
lock, run by the one writer connection of the process; every STORE, EXPUNGE and COPY of that folder
waits for it meanwhile. Here the folder's lock, the quota, the UIDs, the rows, the events and their
webhook deliveries are one statement, a transaction of its own: the lock is held for the statement and
its commit, APPENDs of different folders run side by side, and the APPENDs of one folder that a node
has waiting go together in one statement (`folder_appends`). Its commit waits for the WAL's flush as
any other delivery's.

It writes nothing when the folder is missing or the mailbox has no room: the caller then takes the
group-commit path, which answers `FolderNotFound`, makes room where the mailbox's policy allows, or
answers `MailboxFull`.

The sub-statements see one snapshot, taken before the statement waited for the folder's row; only the
rows locked or changed (the folder's, the mailbox's) are read as they are after the wait, so the UIDs
come from the folder row as locked (see the lock order in `message_changes`: the folder, then the
mailbox). The mailbox row is locked once, by the UPDATE that counts the bytes where they fit: locking
it first in a sub-statement of its own (as COPY's statement does) and then updating it made two APPENDs
of one mailbox deadlock now and then (the UPDATE, starting again from the row as in the snapshot, queued
behind the other APPEND waiting there). Its condition is checked on the row as in the snapshot and, when
that passed, again on the row as after the wait; room freed meanwhile is not seen, and the group path
then stores the message. The events are inserted after the mailbox's row is
locked, so a mailbox's event ids become visible in increasing order (`event_log`). The webhook
endpoints are read after that too, by a function that reads them as committed then (migration 0021),
so an endpoint registered while the APPEND waited gets its event, as through the group path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Boolean, String, Text, bindparam, column, text

from mailservice.adapters.db import prepared
from mailservice.adapters.db.event_log import event_data_text, message_received
from mailservice.adapters.db.prepared import Prepared, unnested, unnested_values
from mailservice.adapters.db.tables import event_log, header_fields, message_raw, messages
from mailservice.domain.agent_events import MESSAGE_RECEIVED
from mailservice.domain.messages import Delivery, MessageCopy, StoredCopy
from mailservice.domain.webhooks import DeliveryStatus
from mailservice.mime.common_fields import common_fields

MESSAGES_PER_STATEMENT = 1000
"""A MULTIAPPEND of more messages goes through the group-commit store: the statement's parameters grow
with their count (about a kilobyte a message besides its bytes)."""
_PLACED = ("folder_id", "uid", "modseq")
"""The columns of a message row that the statement fills in from its folder's locked row."""
RAW_KEYS = ("id", "raw")
FIELD_KEYS = ("raw_id", "fields", "layout")
"""The columns of a raw message's row and of its header fields' row, as stored at delivery."""
_statements: dict[tuple[str, ...], Prepared] = {}


@dataclass(frozen=True)
class AppendWritten:
    """What the statement stored (`append_written` gives None when it stored nothing)."""

    copies: list[StoredCopy]
    webhooks_queued: bool


def appended_in_one_statement(delivery: Delivery) -> bool:
    """An APPEND this statement takes: copies for one folder of one mailbox, into a folder that must
    exist already; at most `MESSAGES_PER_STATEMENT` of at most `prepared.ONE_STATEMENT_BYTES` in all."""
    first = delivery.copies[0]
    return (
        delivery.into_existing_folders
        and len(delivery.copies) <= MESSAGES_PER_STATEMENT
        and sum(len(copy.raw) for copy in delivery.copies) <= prepared.ONE_STATEMENT_BYTES
        and all(
            copy.mailbox_id == first.mailbox_id and copy.folder == first.folder for copy in delivery.copies
        )
    )


def append_parameters(
    delivery: Delivery,
    message_row: Callable[[MessageCopy, str], dict[str, Any]],
    now: datetime,
    default_quota: int,
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The message columns the statement writes (for `append_statement`) and its parameters;
    `message_row(copy, raw_id)` is a copy's row, whose columns of `_PLACED` the statement fills in."""
    copies = delivery.copies
    raw_ids = [uuid.uuid4().hex for _ in copies]
    rows = [
        {key: value for key, value in message_row(copy, raw_id).items() if key not in _PLACED}
        for copy, raw_id in zip(copies, raw_ids, strict=True)
    ]
    keys = tuple(rows[0])
    raws, fields = zip(
        *(raw_rows(copy, raw_id) for copy, raw_id in zip(copies, raw_ids, strict=True)), strict=True
    )
    return keys, {
        **unnested_values(raws, RAW_KEYS, "raw_"),
        **unnested_values(fields, FIELD_KEYS, "field_"),
        **unnested_values(rows, keys, "message_"),
        "event_tails": [_event_data_after_uid(copy, now) for copy in copies],
        "mailbox_id": copies[0].mailbox_id,
        "folder": copies[0].folder,
        "count": len(copies),
        "added": sum(len(copy.raw) for copy in copies),
        "default_quota": default_quota,
        "now": now,
        "pending": DeliveryStatus.PENDING.value,
    }


def raw_rows(copy: MessageCopy, raw_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A copy's raw message row and its header fields' row (`RAW_KEYS`, `FIELD_KEYS`)."""
    block, layout = common_fields(copy.raw[: copy.parsed.header_end])
    return {"id": raw_id, "raw": copy.raw}, {"raw_id": raw_id, "fields": block, "layout": layout}


def append_statement(message_keys: tuple[str, ...]) -> Prepared:
    statement = _statements.get(message_keys)
    if statement is None:
        statement = _statements[message_keys] = _append_statement(message_keys)
    return statement


def append_written(found: Any, copies: Sequence[MessageCopy]) -> AppendWritten | None:
    """The copies stored, from the statement's row; None when it stored nothing."""
    if found is None or not found.counted:
        return None
    return AppendWritten(
        [
            StoredCopy(
                copy.mailbox_id,
                found.folder_id,
                found.first_uid + place,
                found.first_modseq + place,
                len(copy.raw),
                found.uidvalidity,
            )
            for place, copy in enumerate(copies)
        ],
        webhooks_queued=found.queued > 0,
    )


def _event_data_after_uid(copy: MessageCopy, now: datetime) -> str:
    """The event's data as `event_log` stores it, less its first member, the uid, which the statement
    writes in front: `{"uid":` + uid + `,` + this without its `{`."""
    placeholder = StoredCopy(copy.mailbox_id, 0, 0, 0, len(copy.raw), 0)
    data = message_received(copy, placeholder, now).data
    first = next(iter(data))
    assert first == "uid", "the statement writes the uid as the event's first member"
    return event_data_text({key: value for key, value in data.items() if key != "uid"})


def _append_statement(message_keys: tuple[str, ...]) -> Prepared:
    raw_rows, raw_parameters = unnested(message_raw, RAW_KEYS, "raw_")
    field_rows, field_parameters = unnested(header_fields, FIELD_KEYS, "field_")
    _, message_parameters = unnested(messages, message_keys, "message_")
    arrays = ", ".join(f":{parameter.key}" for parameter in message_parameters)
    columns = ", ".join(message_keys)
    return Prepared(
        text(
            f"""
            WITH locked AS (
                SELECT id, uidnext, highestmodseq, uidvalidity FROM folders
                WHERE mailbox_id = :mailbox_id AND name = :folder
                FOR NO KEY UPDATE
            ), counted AS (
                UPDATE mailboxes SET used_bytes = used_bytes + :added
                WHERE id = :mailbox_id AND EXISTS (SELECT FROM locked)
                    AND used_bytes + :added <= coalesce(nullif(quota_bytes, 0), :default_quota)
                RETURNING used_bytes
            ), advanced AS (
                UPDATE folders
                SET uidnext = locked.uidnext + :count, highestmodseq = locked.highestmodseq + :count
                FROM locked
                WHERE folders.id = locked.id AND EXISTS (SELECT FROM counted)
            ), raw AS (
                INSERT INTO message_raw ({", ".join(RAW_KEYS)})
                SELECT * FROM ({raw_rows}) AS given WHERE EXISTS (SELECT FROM counted)
            ), fields AS (
                INSERT INTO header_fields ({", ".join(FIELD_KEYS)})
                SELECT * FROM ({field_rows}) AS given WHERE EXISTS (SELECT FROM counted)
            ), added AS (
                INSERT INTO messages ({columns}, {", ".join(_PLACED)})
                SELECT {columns}, locked.id, locked.uidnext + place - 1, locked.highestmodseq + place
                FROM unnest({arrays}) WITH ORDINALITY AS given ({columns}, place), locked
                WHERE EXISTS (SELECT FROM counted)
            ), logged AS (
                INSERT INTO {event_log.name} (mailbox_id, type, occurred_at, data)
                SELECT :mailbox_id, '{MESSAGE_RECEIVED}', :now,
                    '{{"uid":' || (locked.uidnext + place - 1) || ',' || substr(tail, 2)
                FROM unnest(:event_tails) WITH ORDINALITY AS given (tail, place), locked
                WHERE EXISTS (SELECT FROM counted)
                ORDER BY place
                RETURNING id
            ), endpoints AS (
                SELECT id FROM endpoints_subscribed(:mailbox_id, '{MESSAGE_RECEIVED}') AS id
                WHERE EXISTS (SELECT FROM counted)
            ), queued AS (
                INSERT INTO webhook_deliveries
                    (endpoint_id, event_id, event_type, status, attempts, next_attempt_at, created_at)
                SELECT endpoints.id, logged.id, '{MESSAGE_RECEIVED}', :pending, 0, :now, :now
                FROM logged, endpoints
                RETURNING 1
            )
            SELECT
                locked.id AS folder_id,
                locked.uidvalidity,
                locked.uidnext AS first_uid,
                locked.highestmodseq + 1 AS first_modseq,
                EXISTS (SELECT FROM counted) AS counted,
                (SELECT count(*) FROM queued) AS queued
            FROM locked
            """
        )
        .bindparams(
            *raw_parameters,
            *field_parameters,
            *message_parameters,
            bindparam("mailbox_id", type_=String),
            bindparam("folder", type_=String),
            bindparam("count", type_=BigInteger),
            bindparam("added", type_=BigInteger),
            bindparam("default_quota", type_=BigInteger),
            bindparam("event_tails", type_=ARRAY(Text)),
            bindparam("now", type_=event_log.c.occurred_at.type),
            bindparam("pending", type_=String),
        )
        .columns(
            column("folder_id", BigInteger),
            column("uidvalidity", BigInteger),
            column("first_uid", BigInteger),
            column("first_modseq", BigInteger),
            column("counted", Boolean),
            column("queued", BigInteger),
        )
    )
