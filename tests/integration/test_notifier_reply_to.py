"""A notification with a reply-to address (a forwarded support message) keeps it with every provider."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from mailservice.ports import Notifier
from tests.integration.test_notifiers import NOTE, PROVIDERS
from tests.support.fake_http import Recorded, Reply, fake_api

AGENT = "mbx_0123456789a@agents.test"


def reply_to_of(request: Recorded) -> Any:
    if request.path.endswith("/messages"):  # Mailgun: a form field naming the header
        return request.form().get("h:Reply-To")
    body = request.json()
    return body.get("replyTo") or body.get("reply_to")


EXPECTED = {"unsend": AGENT, "resend": AGENT, "sendgrid": {"email": AGENT}, "mailgun": [AGENT]}


@pytest.mark.parametrize(("make", "api_handler"), PROVIDERS, ids=list(EXPECTED))
async def test_reply_to_is_passed_to_the_provider(
    make: Callable[[str, str], Notifier], api_handler: Callable[[Recorded], Reply]
) -> None:
    with fake_api(api_handler) as api:
        notifier = make(api.url, "test-api-key")
        await notifier.send(replace(NOTE, reply_to=AGENT))
        await notifier.send(NOTE)

    assert reply_to_of(api.requests[0]) == EXPECTED[notifier.name]
    assert reply_to_of(api.requests[1]) is None
