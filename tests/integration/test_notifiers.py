"""Each notifier against a local server that follows its provider's documented API."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from mailservice.adapters.notify.mailgun import MailgunNotifier
from mailservice.adapters.notify.resend import ResendNotifier
from mailservice.adapters.notify.sendgrid import SendGridNotifier
from mailservice.adapters.notify.unsend import UnsendNotifier
from mailservice.domain.errors import NotificationFailed
from mailservice.domain.notification import Notification
from mailservice.ports import Notifier
from mailservice.services.notifications import compose
from tests.support.fake_http import Recorded, Reply, fake_api
from tests.support.ports import free_port

KEY = "test-api-key"
NOTE = Notification(
    kind="payment_link",
    recipient="payer@example.com",
    subject="Action needed: complete mailbox payment",
    text="pay here: https://pay.example/1",
    html='<p><a href="https://pay.example/1">pay</a></p>',
)


def unsend_api(request: Recorded) -> Reply:
    if request.method != "POST" or request.path != "/api/v1/emails":
        return Reply(404, {"error": "not found"})
    if request.headers.get("authorization") != f"Bearer {KEY}":
        return Reply(401, {"error": "Invalid API key"})
    body = request.json()
    if not all(body.get(name) for name in ("to", "from", "subject")):
        return Reply(400, {"error": "to, from and subject are required"})
    return Reply(200, {"emailId": "em_1"})


def resend_api(request: Recorded) -> Reply:
    if request.method != "POST" or request.path != "/emails":
        return Reply(404, {"statusCode": 404, "name": "not_found", "message": "not found"})
    if request.headers.get("authorization") != f"Bearer {KEY}":
        return Reply(401, {"statusCode": 401, "name": "validation_error", "message": "API key is invalid"})
    body = request.json()
    if not isinstance(body.get("to"), list) or not body.get("from") or not body.get("subject"):
        return Reply(422, {"statusCode": 422, "name": "validation_error", "message": "missing field"})
    return Reply(200, {"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"})


def sendgrid_api(request: Recorded) -> Reply:
    if request.method != "POST" or request.path != "/v3/mail/send":
        return Reply(404, {"errors": [{"message": "not found"}]})
    if request.headers.get("authorization") != f"Bearer {KEY}":
        return Reply(401, {"errors": [{"message": "The provided authorization grant is invalid"}]})
    body = request.json()
    types = [part["type"] for part in body.get("content", [])]
    if not body.get("personalizations") or types[:1] != ["text/plain"]:
        return Reply(400, {"errors": [{"message": "bad request", "field": "content"}]})
    return Reply(202)


def mailgun_api(request: Recorded) -> Reply:
    if request.method != "POST" or request.path != "/v3/mg.example.com/messages":
        return Reply(404, {"message": "not found"})
    expected = "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()
    if request.headers.get("authorization") != expected:
        return Reply(401, b"Forbidden", {"Content-Type": "text/plain"})
    form = request.form()
    if not all(form.get(name) for name in ("from", "to", "subject")):
        return Reply(400, {"message": "'from' parameter is missing"})
    return Reply(200, {"id": "<20260131.1@mg.example.com>", "message": "Queued. Thank you."})


def unsend(url: str, key: str = KEY) -> Notifier:
    return UnsendNotifier(key, f"{url}/api", "noreply@mail.example", "Mail Service", 5)


def resend(url: str, key: str = KEY) -> Notifier:
    return ResendNotifier(key, url, "noreply@mail.example", "Mail Service", 5)


def sendgrid(url: str, key: str = KEY) -> Notifier:
    return SendGridNotifier(key, url, "noreply@mail.example", "Mail Service", 5)


def mailgun(url: str, key: str = KEY) -> Notifier:
    return MailgunNotifier(key, "mg.example.com", url, "noreply@mail.example", "Mail Service", 5)


PROVIDERS: list[tuple[Callable[[str, str], Notifier], Callable[[Recorded], Reply]]] = [
    (unsend, unsend_api),
    (resend, resend_api),
    (sendgrid, sendgrid_api),
    (mailgun, mailgun_api),
]
IDS = ["unsend", "resend", "sendgrid", "mailgun"]


async def test_unsend_posts_json_with_bearer_key() -> None:
    with fake_api(unsend_api) as api:
        await unsend(api.url).send(NOTE)

    body = api.requests[0].json()
    assert body == {
        "to": "payer@example.com",
        "from": "Mail Service <noreply@mail.example>",
        "subject": NOTE.subject,
        "text": NOTE.text,
        "html": NOTE.html,
    }


async def test_resend_posts_json_with_recipient_list() -> None:
    with fake_api(resend_api) as api:
        await resend(api.url).send(NOTE)

    body = api.requests[0].json()
    assert body["to"] == ["payer@example.com"]
    assert body["from"] == "Mail Service <noreply@mail.example>"
    assert (body["subject"], body["text"], body["html"]) == (NOTE.subject, NOTE.text, NOTE.html)


async def test_sendgrid_posts_personalizations_and_plain_text_first() -> None:
    with fake_api(sendgrid_api) as api:
        await sendgrid(api.url).send(NOTE)

    body = api.requests[0].json()
    assert body["personalizations"] == [{"to": [{"email": "payer@example.com"}]}]
    assert body["from"] == {"email": "noreply@mail.example", "name": "Mail Service"}
    assert body["content"] == [
        {"type": "text/plain", "value": NOTE.text},
        {"type": "text/html", "value": NOTE.html},
    ]


async def test_mailgun_posts_form_fields_with_basic_auth() -> None:
    with fake_api(mailgun_api) as api:
        await mailgun(api.url).send(NOTE)

    request = api.requests[0]
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert request.form() == {
        "from": ["Mail Service <noreply@mail.example>"],
        "to": ["payer@example.com"],
        "subject": [NOTE.subject],
        "text": [NOTE.text],
        "html": [NOTE.html],
    }


@pytest.mark.parametrize(("make", "api_handler"), PROVIDERS, ids=IDS)
async def test_a_wrong_key_is_a_failure_naming_the_status(
    make: Callable[[str, str], Notifier], api_handler: Callable[[Recorded], Reply]
) -> None:
    with fake_api(api_handler) as api, pytest.raises(NotificationFailed) as failure:
        await make(api.url, "wrong-key").send(NOTE)

    assert failure.value.details["status"] == 401


@pytest.mark.parametrize(("make", "api_handler"), PROVIDERS, ids=IDS)
async def test_a_provider_error_is_a_failure(
    make: Callable[[str, str], Notifier], api_handler: Callable[[Recorded], Reply]
) -> None:
    with fake_api(lambda _request: Reply(503, {"message": "unavailable"})) as api:
        with pytest.raises(NotificationFailed, match="HTTP 503"):
            await make(api.url, KEY).send(NOTE)
        assert len(api.requests) == 1


@pytest.mark.parametrize(("make", "api_handler"), PROVIDERS, ids=IDS)
async def test_an_unreachable_provider_is_a_failure(
    make: Callable[[str, str], Notifier], api_handler: Callable[[Recorded], Reply]
) -> None:
    with pytest.raises(NotificationFailed, match="ConnectError"):
        await make(f"http://127.0.0.1:{free_port()}", KEY).send(NOTE)


def test_every_value_in_html_bodies_is_escaped() -> None:
    hostile = '"><script>alert(1)</script>'

    note = compose("payment_link", "p@example.com", "s", None, address=hostile, payment_url=hostile)

    assert "<script>" not in note.html
    assert "&lt;script&gt;" in note.html
    assert "&#34;&gt;" in note.html
    assert hostile in note.text
