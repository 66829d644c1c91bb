"""The sending side of webhook deliveries: leasing due ones and recording how their attempts went.

The worker does this for every few POSTs (the outcomes of sends that ended and the claim of what they
leave room for go together), so each call is one write transaction run whole as blocking
work (`Database.run_write`: on SQLite one hop to the writer thread, not one per statement), and a batch
of outcomes costs a fixed handful of statements whatever its size: the endpoints whose health changed,
then the deliveries and their attempts, each as one executemany. Rows are touched in one order
everywhere (endpoints by id, then deliveries by id; deleting an endpoint locks it, then its deliveries),
so two nodes' batches and a deletion never wait on each other in a circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, bindparam, select, update
from sqlalchemy.engine import Connection

from mailservice.adapters.db.database import Database
from mailservice.adapters.db.event_log import logged_event
from mailservice.adapters.db.leases import lease_due_rows
from mailservice.adapters.db.tables import event_log, webhook_attempts, webhook_deliveries, webhook_endpoints
from mailservice.adapters.db.webhooks import MAX_ERROR_CHARS, delivery_of_row, endpoint_of_row
from mailservice.domain.webhooks import ClaimedDelivery, ClaimRequest, DeliveryOutcome, DeliveryStatus

# Labels of the endpoint's and the event's columns when joined to a delivery's, whose names they share.
_ENDPOINT = "endpoint__"
_EVENT = "event__"


class SqlDeliveryQueue:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def claim(self, request: ClaimRequest) -> list[ClaimedDelivery]:
        """Lease due deliveries of enabled endpoints as far as `request` has room, with what they send."""
        return await self._database.run_write(lambda connection: _claim(connection, request))

    async def record(
        self, outcomes: Sequence[DeliveryOutcome], then_claim: ClaimRequest | None
    ) -> list[ClaimedDelivery]:
        """Record attempts that ended (none of them a delivery's last failure, which turns its endpoint
        off and goes through the unit of work; a delivery gone with its endpoint is passed over), then
        lease what `then_claim` has room for, in the same transaction: a send that ends makes room for
        the next one at the cost of one commit for both."""

        def record_and_claim(connection: Connection) -> list[ClaimedDelivery]:
            if outcomes:
                _record(connection, outcomes)
            return [] if then_claim is None else _claim(connection, then_claim)

        if not outcomes and then_claim is None:
            return []
        return await self._database.run_write(record_and_claim)


def _claim(connection: Connection, request: ClaimRequest) -> list[ClaimedDelivery]:
    enabled = select(webhook_endpoints.c.id).where(webhook_endpoints.c.disabled_at.is_(None))
    waiting = (
        webhook_deliveries.c.status == DeliveryStatus.PENDING.value
    ) & webhook_deliveries.c.endpoint_id.in_(enabled)
    full = request.full_endpoints()
    if full:
        waiting = waiting & webhook_deliveries.c.endpoint_id.not_in(full)

    def within_room(rows: Sequence[RowMapping]) -> list[RowMapping]:
        return [rows[i] for i in request.within_room([row["endpoint_id"] for row in rows])]

    rows = lease_due_rows(
        connection, webhook_deliveries, waiting, request.now, request.lease_until, request.limit, within_room
    )
    return _claimed(connection, [row["id"] for row in rows])


def _claimed(connection: Connection, ids: list[int]) -> list[ClaimedDelivery]:
    if not ids:
        return []
    rows = connection.execute(_CLAIMED, {"ids": ids}).mappings().all()
    return [
        ClaimedDelivery(
            delivery=delivery_of_row(row, ()),
            endpoint=endpoint_of_row(_unprefixed(row, _ENDPOINT)),
            event=None if row["event_id"] is None else logged_event(_unprefixed(row, _EVENT)),
            event_data_json=row[_EVENT + "data"],
        )
        for row in rows
    ]


def _record(connection: Connection, outcomes: Sequence[DeliveryOutcome]) -> None:
    ordered = sorted(outcomes, key=lambda outcome: outcome.delivery_id)
    _note_endpoint_health(connection, ordered)
    present = set(
        connection.execute(_PRESENT, {"ids": [outcome.delivery_id for outcome in ordered]}).scalars()
    )
    kept = [outcome for outcome in ordered if outcome.delivery_id in present]
    if not kept:
        return
    connection.execute(
        _UPDATE_DELIVERY,
        [
            {"delivery_id": o.delivery_id, "new_status": o.status.value, "due": o.next_attempt_at}
            for o in kept
        ],
    )
    connection.execute(webhook_attempts.insert(), [_attempt_row(outcome) for outcome in kept])


def _note_endpoint_health(connection: Connection, ordered: Sequence[DeliveryOutcome]) -> None:
    """An endpoint's last attempt in the batch decides: a success clears `failing_since`, a failure sets
    it unless it is set already. Rows already in that state are not written."""
    last_ok = {outcome.endpoint_id: outcome.ok for outcome in ordered}
    healthy = sorted(endpoint_id for endpoint_id, ok in last_ok.items() if ok)
    failing = sorted(endpoint_id for endpoint_id, ok in last_ok.items() if not ok)
    now = max(outcome.attempt.at for outcome in ordered)
    if healthy:
        connection.execute(_HEALED, [{"endpoint_id": endpoint_id} for endpoint_id in healthy])
    if failing:
        connection.execute(_FAILING, [{"endpoint_id": endpoint_id, "now": now} for endpoint_id in failing])


def _attempt_row(outcome: DeliveryOutcome) -> dict[str, Any]:
    attempt = outcome.attempt
    return {
        "delivery_id": outcome.delivery_id,
        "attempted_at": attempt.at,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": None if attempt.error is None else attempt.error[:MAX_ERROR_CHARS],
    }


def _prefixed(table: Any, prefix: str) -> list[Any]:
    return [column.label(prefix + column.name) for column in table.c]


def _unprefixed(row: RowMapping, prefix: str) -> dict[str, Any]:
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}


_CLAIMED = (
    select(webhook_deliveries, *_prefixed(webhook_endpoints, _ENDPOINT), *_prefixed(event_log, _EVENT))
    .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
    .outerjoin(event_log, event_log.c.id == webhook_deliveries.c.event_id)
    .where(webhook_deliveries.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(webhook_deliveries.c.id)
)
# Locked (PostgreSQL), so a delivery cannot go with its endpoint between this and its attempt's insert.
_PRESENT = (
    select(webhook_deliveries.c.id)
    .where(webhook_deliveries.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(webhook_deliveries.c.id)
    .with_for_update()
)
_UPDATE_DELIVERY = (
    update(webhook_deliveries)
    .where(webhook_deliveries.c.id == bindparam("delivery_id"))
    .values(
        attempts=webhook_deliveries.c.attempts + 1,
        status=bindparam("new_status"),
        next_attempt_at=bindparam("due"),
    )
)
_HEALED = (
    update(webhook_endpoints)
    .where(webhook_endpoints.c.id == bindparam("endpoint_id"), webhook_endpoints.c.failing_since.is_not(None))
    .values(failing_since=None)
)
_FAILING = (
    update(webhook_endpoints)
    .where(webhook_endpoints.c.id == bindparam("endpoint_id"), webhook_endpoints.c.failing_since.is_(None))
    .values(failing_since=bindparam("now"))
)
