"""The event log: every event an agent sees, written in the transaction of the change that causes it.

`append_events` is the one way in, used by the unit of work (at its commit), the group-commit message
store and through it IMAP APPEND; but on PostgreSQL an APPEND's one statement (`append_statement.py`)
inserts its events and their webhook deliveries itself, their data made by `event_data_text`. It writes
all the events it is given with one multi-row insert, and in the same transaction one webhook delivery
per event and endpoint of its mailbox subscribed to its type.

Readers page through one mailbox's events by id (`read_after`). PostgreSQL hands out ids when rows are
inserted, not when they commit, so two transactions could commit a mailbox's events out of id order and
a reader that saw the later id first would skip the earlier one. Every writer therefore inserts a
mailbox's events while holding that mailbox's row lock (`FOR UPDATE`, taken here unless the caller holds
it already, as the group-commit store does): a second writer of the same mailbox waits for the first to
commit before it takes its ids, so within a mailbox ids become visible in increasing order. SQLite has
one writer at a time, so its ids are in commit order anyway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, exists, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.prepared import Prepared, insert_rows
from mailservice.adapters.db.tables import event_log, mailboxes, webhook_deliveries, webhook_endpoints
from mailservice.domain.agent_events import MESSAGE_RECEIVED, AgentEvent, LoggedEvent
from mailservice.domain.messages import MessageCopy, StoredCopy
from mailservice.domain.timestamps import rfc3339
from mailservice.domain.webhooks import DeliveryStatus


def append_events(
    connection: Connection, events: Sequence[AgentEvent], mailboxes_locked: bool = False
) -> bool:
    """Write `events` in the caller's transaction; `mailboxes_locked` when their mailbox rows are locked.
    True when webhook deliveries were queued for them (the caller then publishes `WebhookQueued`)."""
    if not events:
        return False
    mailbox_ids = {event.mailbox_id for event in events}
    if not mailboxes_locked:
        _lock_mailboxes(connection, mailbox_ids)
    rows = [_row(event) for event in events]
    endpoints = _subscribed_endpoints(connection, mailbox_ids)
    if not endpoints:  # the usual case: no id needs to be read back
        insert_rows(connection, event_log, rows)
        return False
    ids = connection.execute(_INSERT_RETURNING_ID, rows).scalars().all()
    deliveries = [
        delivery_row(endpoint_id, event_id, event.type, event.occurred_at)
        for event, event_id in zip(events, ids, strict=True)
        for endpoint_id, types in endpoints.get(event.mailbox_id, ())
        if event.type in types
    ]
    insert_rows(connection, webhook_deliveries, deliveries)
    return bool(deliveries)


def delivery_row(endpoint_id: str, event_id: int | None, event_type: str, due: datetime) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "event_type": event_type,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": due,
        "created_at": due,
    }


def message_received(copy: MessageCopy, stored: StoredCopy, now: datetime) -> AgentEvent:
    """The `message.received` event of a stored copy, with what an agent needs to decide what to read."""
    parsed = copy.parsed
    sender = {"address": parsed.from_address, "name": parsed.from_name} if parsed.from_address else None
    data: dict[str, Any] = {
        "uid": stored.uid,
        "folder": copy.folder,
        "from": sender,
        "to": [{"address": address, "name": name} for name, address in parsed.to],
        "subject": parsed.subject,
        "received_at": rfc3339(copy.internal_date),
        "size": stored.size,
        "preview": parsed.preview,
        "codes": [
            {"code": c.code, "score": c.score, "context": c.context, "source": c.source} for c in parsed.codes
        ],
        "links": [{"url": link.url, "text": link.text, "kind": link.kind} for link in parsed.links],
        "tags": list(copy.tags),
        "auth": copy.auth.as_dict() if copy.auth is not None else None,
        "verified_domain": copy.auth.verified_domain if copy.auth is not None else None,
    }
    return AgentEvent(copy.mailbox_id, MESSAGE_RECEIVED, now, data)


class SqlEventLogRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def read_after(self, mailbox_id: str, after: int, limit: int) -> list[LoggedEvent]:
        """The mailbox's events with an id above `after`, oldest first."""
        query = (
            select(event_log)
            .where(event_log.c.mailbox_id == mailbox_id, event_log.c.id > after)
            .order_by(event_log.c.id)
            .limit(limit)
        )
        rows = (await self._connection.execute(query)).mappings().all()
        return [logged_event(row) for row in rows]

    async def latest_id(self, mailbox_id: str) -> int:
        """The id of the mailbox's newest event, 0 when it has none."""
        query = select(func.max(event_log.c.id)).where(event_log.c.mailbox_id == mailbox_id)
        return int((await self._connection.execute(query)).scalar() or 0)

    async def delete_before(self, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` of the oldest events that happened before `cutoff`, except those a webhook
        delivery still waits to send; how many were deleted."""
        doomed = (
            select(event_log.c.id)
            .where(event_log.c.occurred_at < cutoff, ~exists().where(_PENDING_DELIVERY))
            .order_by(event_log.c.id)
            .limit(limit)
        )
        ids = (await self._connection.execute(doomed)).scalars().all()
        if ids:
            await self._connection.execute(delete(event_log).where(event_log.c.id.in_(ids)))
        return len(ids)


def logged_event(row: Any) -> LoggedEvent:
    return LoggedEvent(
        id=row["id"],
        mailbox_id=row["mailbox_id"],
        type=row["type"],
        occurred_at=row["occurred_at"],
        data=json.loads(row["data"]),
    )


_PENDING_DELIVERY = (webhook_deliveries.c.event_id == event_log.c.id) & (
    webhook_deliveries.c.status == DeliveryStatus.PENDING.value
)
_INSERT_RETURNING_ID = event_log.insert().returning(event_log.c.id, sort_by_parameter_order=True)


# FOR SHARE (PostgreSQL): an endpoint deleted meanwhile would make its delivery rows fail the whole commit.
def _subscribed(of_mailboxes: ColumnElement[bool]) -> Select[Any]:
    return (
        select(webhook_endpoints.c.id, webhook_endpoints.c.mailbox_id, webhook_endpoints.c.events)
        .where(of_mailboxes, webhook_endpoints.c.disabled_at.is_(None))
        .with_for_update(read=True)
    )


_SUBSCRIBED = _subscribed(webhook_endpoints.c.mailbox_id.in_(bindparam("ids", expanding=True)))
_SUBSCRIBED_ONE = Prepared(_subscribed(webhook_endpoints.c.mailbox_id == bindparam("id")))
"""The usual case, one mailbox, prepared (an expanding IN list is compiled again for every use)."""


def _subscribed_endpoints(
    connection: Connection, mailbox_ids: set[str]
) -> dict[str, list[tuple[str, set[str]]]]:
    """Each mailbox's enabled endpoints with the event types they want."""
    found: dict[str, list[tuple[str, set[str]]]] = {}
    if len(mailbox_ids) == 1:
        rows = _SUBSCRIBED_ONE.rows(connection, {"id": next(iter(mailbox_ids))})
    else:
        rows = list(connection.execute(_SUBSCRIBED, {"ids": sorted(mailbox_ids)}))
    for row in rows:
        found.setdefault(row.mailbox_id, []).append((row.id, set(row.events.split())))
    return found


def _lock_mailboxes(connection: Connection, mailbox_ids: set[str]) -> None:
    if connection.dialect.name == "sqlite":
        return  # one writer at a time already
    query = select(mailboxes.c.id).where(mailboxes.c.id.in_(sorted(mailbox_ids))).order_by(mailboxes.c.id)
    connection.execute(query.with_for_update(key_share=True))


def _row(event: AgentEvent) -> dict[str, Any]:
    return {
        "mailbox_id": event.mailbox_id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "data": event_data_text(event.data),
    }


def event_data_text(data: dict[str, Any]) -> str:
    """An event's data as stored (PostgreSQL text cannot hold NUL; json.dumps writes it as an escape)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
