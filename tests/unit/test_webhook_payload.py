"""A webhook's body splices in the event's data as the log keeps it: the same bytes as writing it anew."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from mailservice.domain.agent_events import MESSAGE_RECEIVED, LoggedEvent
from mailservice.domain.webhooks import ClaimedDelivery, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from mailservice.services.webhooks import payload_of

AT = datetime(2026, 12, 6, 2, 30, 15, 250000, tzinfo=UTC)
DATA = {"uid": 7, "subject": "Grüße \u2014 code 551234\x00", "codes": [{"code": "551234", "score": 0.75}]}


def claimed(data_json: str | None) -> ClaimedDelivery:
    endpoint = WebhookEndpoint("wh_1", "mb_é", "https://example.org/hook", (MESSAGE_RECEIVED,), None, AT)
    delivery = WebhookDelivery(3, "wh_1", 11, MESSAGE_RECEIVED, DeliveryStatus.PENDING, 0, AT, AT)
    event = LoggedEvent(11, "mb_é", MESSAGE_RECEIVED, AT, json.loads(json.dumps(DATA)))
    return ClaimedDelivery(delivery, endpoint, event, data_json)


def test_the_logged_data_text_is_sent_as_the_same_bytes_as_the_data_written_anew() -> None:
    stored = json.dumps(DATA, ensure_ascii=False, separators=(",", ":"))  # as the event log writes it

    spliced, written = payload_of(claimed(stored)), payload_of(claimed(None))

    assert spliced == written
    assert json.loads(spliced) == {
        "id": 11,
        "type": MESSAGE_RECEIVED,
        "timestamp": json.loads(written)["timestamp"],
        "mailbox_id": "mb_é",
        "data": DATA,
    }


def test_a_test_event_has_no_logged_data() -> None:
    test = replace(claimed(None), event=None)

    body = json.loads(payload_of(test))

    assert body["type"] == "webhook.test" and body["data"] == {"endpoint_id": "wh_1", "delivery_id": 3}
