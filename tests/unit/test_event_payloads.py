"""Every event a node publishes through PostgreSQL comes out of its notification as it went in."""

from __future__ import annotations

import json

import pytest

from mailservice.adapters.events.postgres import RESYNC_NOTICE, _decode, _encode
from mailservice.domain.messages import (
    AccessRevoked,
    EventLogged,
    FolderChanged,
    MailboxEvent,
    MessageReceived,
)

EVENTS: list[MailboxEvent] = [
    MessageReceived("m-1", 3, 17, 42),
    FolderChanged("m-1", 3, 43),
    AccessRevoked("m-2"),
    EventLogged("m-3"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.type)
def test_an_event_comes_out_of_its_payload_as_it_went_in(event: MailboxEvent) -> None:
    payload = _encode(event)
    assert _decode(payload) == event
    assert json.loads(payload)["type"] == event.type


def test_a_resync_notice_decodes_to_none() -> None:
    assert _decode(RESYNC_NOTICE) is None
