"""`mailservice agent webhooks ...`: register URLs that receive this mailbox's events, and follow them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailservice.client.cli_options import DEFAULT_KEY, DEFAULT_URL, Json, KeyPath, Query, Url, client_for
from mailservice.client.models import DeliveryOut, WebhookOut
from mailservice.client.output import print_fields, print_json
from mailservice.domain.timestamps import rfc3339

webhooks = typer.Typer(
    help="Have this mailbox's events POSTed to a URL, signed as Standard Webhooks.", no_args_is_help=True
)

WebhookIdArg = Annotated[str, typer.Argument(help="The webhook's id (wh_...).")]


@webhooks.command("add")
def add(
    target: Annotated[str, typer.Argument(metavar="URL", help="http(s) URL to POST events to.")],
    event: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="An event type to send (repeat); default: all.")
    ] = None,
    query: Query = None,
    url: Url = DEFAULT_URL,
    key: KeyPath = Path(DEFAULT_KEY),
    as_json: Json = False,
) -> None:
    """Register a webhook; its signing secret is printed only now."""
    with client_for(url, key, as_json) as mail:
        created = mail.create_webhook(target, event or None, query)
    if as_json:
        print_json(created)
        return
    _print_webhook(created)
    print_fields([("secret", created.secret), ("", "keep the secret: it is shown only once")])


@webhooks.command("list")
def list_(url: Url = DEFAULT_URL, key: KeyPath = Path(DEFAULT_KEY), as_json: Json = False) -> None:
    """The mailbox's webhooks."""
    with client_for(url, key, as_json) as mail:
        found = mail.list_webhooks()
    if as_json:
        print_json(found)
        return
    for webhook in found.webhooks:
        _print_webhook(webhook)


@webhooks.command("show")
def show(
    webhook_id: WebhookIdArg, url: Url = DEFAULT_URL, key: KeyPath = Path(DEFAULT_KEY), as_json: Json = False
) -> None:
    """One webhook."""
    with client_for(url, key, as_json) as mail:
        found = mail.get_webhook(webhook_id)
    print_json(found) if as_json else _print_webhook(found)


@webhooks.command("delete")
def delete(
    webhook_id: WebhookIdArg, url: Url = DEFAULT_URL, key: KeyPath = Path(DEFAULT_KEY), as_json: Json = False
) -> None:
    """Stop sending to a webhook and forget it."""
    with client_for(url, key, as_json) as mail:
        mail.delete_webhook(webhook_id)
    print_json({"deleted": webhook_id}) if as_json else print_fields([("deleted", webhook_id)])


@webhooks.command("enable")
def enable(
    webhook_id: WebhookIdArg, url: Url = DEFAULT_URL, key: KeyPath = Path(DEFAULT_KEY), as_json: Json = False
) -> None:
    """Turn a webhook on again after it was turned off for failing for days."""
    with client_for(url, key, as_json) as mail:
        found = mail.enable_webhook(webhook_id)
    print_json(found) if as_json else _print_webhook(found)


@webhooks.command("test")
def test(
    webhook_id: WebhookIdArg, url: Url = DEFAULT_URL, key: KeyPath = Path(DEFAULT_KEY), as_json: Json = False
) -> None:
    """Queue a webhook.test event to the webhook; follow it with `deliveries`."""
    with client_for(url, key, as_json) as mail:
        queued = mail.test_webhook(webhook_id)
    print_json(queued) if as_json else _print_delivery(queued)


@webhooks.command("deliveries")
def deliveries(
    webhook_id: WebhookIdArg,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many, newest first.")] = 20,
    url: Url = DEFAULT_URL,
    key: KeyPath = Path(DEFAULT_KEY),
    as_json: Json = False,
) -> None:
    """Recent deliveries with every attempt: time, status code, latency, error."""
    with client_for(url, key, as_json) as mail:
        found = mail.webhook_deliveries(webhook_id, limit)
    if as_json:
        print_json(found)
        return
    for delivery in found.deliveries:
        _print_delivery(delivery)


@webhooks.command("retry")
def retry(
    webhook_id: WebhookIdArg,
    delivery_id: Annotated[int, typer.Argument(help="The delivery's id, from `deliveries`.")],
    url: Url = DEFAULT_URL,
    key: KeyPath = Path(DEFAULT_KEY),
    as_json: Json = False,
) -> None:
    """Send a delivery again now, with the same webhook-id."""
    with client_for(url, key, as_json) as mail:
        queued = mail.retry_webhook_delivery(webhook_id, delivery_id)
    print_json(queued) if as_json else _print_delivery(queued)


def _print_webhook(webhook: WebhookOut) -> None:
    state = "off since " + rfc3339(webhook.disabled_at) if webhook.disabled_at else "on"
    print_fields(
        [
            ("id", webhook.id),
            ("url", webhook.url),
            ("events", " ".join(webhook.events)),
            ("q", webhook.q),
            ("state", state),
        ]
    )


def _print_delivery(delivery: DeliveryOut) -> None:
    print_fields([("delivery", delivery.id), ("type", delivery.type), ("status", delivery.status)])
    for attempt in delivery.attempts:
        outcome = attempt.error or f"HTTP {attempt.status_code}"
        print_fields([("attempt", f"{rfc3339(attempt.at)} {outcome} {attempt.latency_ms} ms")])
