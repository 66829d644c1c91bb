"""`mailservice agent ...`: the agent's side of the service from a shell.

Every command reads the service's address from --url (or MAILSERVICE_URL) and the key from --key
(or MAILSERVICE_KEY); --json prints the service's JSON instead of lines for people.
Exit status: 0 done, 1 the service refused (the reason is on stderr), 2 bad usage or key file,
3 nothing arrived in time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from mailservice.client.cli_options import (
    DEFAULT_KEY,
    DEFAULT_URL,
    EXIT_TIMED_OUT,
    EXIT_USAGE,
    Json,
    KeyPath,
    Query,
    Url,
    client_for,
    fail,
    reported_errors,
)
from mailservice.client.cli_webhooks import webhooks
from mailservice.client.keys import AgentKey
from mailservice.client.models import MessageOut, VerificationCode
from mailservice.client.output import print_events, print_fields, print_json, print_messages, print_text

app = typer.Typer(
    help="Use a mailbox as an agent: make a key, claim, pay, read mail and codes.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(webhooks, name="webhooks")


@app.command()
def keygen(key: KeyPath = Path(DEFAULT_KEY), as_json: Json = False) -> None:
    """Create the agent's key (and KEY.pub). It is the mailbox's identity: keep it, never share it."""
    new = AgentKey.generate()
    path = key.expanduser()
    with reported_errors(as_json):
        new.save(path)
    if as_json:
        print_json({"key": str(path), "public_key": new.public_line, "fingerprint": new.fingerprint})
        return
    print_fields([("key", path), ("public key", new.public_line), ("fingerprint", new.fingerprint)])


@app.command()
def claim(
    billing_email: Annotated[str, typer.Option(help="Where the payment link is sent.")],
    coupon: Annotated[str | None, typer.Option(help="A coupon code, if you have one.")] = None,
    url: Url = DEFAULT_URL,
    key: KeyPath = Path(DEFAULT_KEY),
    as_json: Json = False,
) -> None:
    """Claim the key's mailbox (or get it back); until paid, the answer carries the payment link."""
    with client_for(url, key, as_json) as mail:
        claimed = mail.claim(billing_email, coupon)
    if as_json:
        print_json(claimed)
        return
    print_fields(
        [
            ("email", claimed.email),
            ("status", claimed.status),
            ("pay at", claimed.payment_url),
            ("expires", claimed.expires_at),
        ]
    )


@app.command()
def renew(
    billing_email: Annotated[
        str | None, typer.Option(help="Where the payment link is sent (default: the one on file).")
    ] = None,
    url: Url = DEFAULT_URL,
    key: KeyPath = Path(DEFAULT_KEY),
    as_json: Json = False,
) -> None:
    """A payment link for one more month, counted from the current expiry (or from now once expired)."""
    with client_for(url, key, as_json) as mail:
        renewed = mail.renew(billing_email)
    if as_json:
        print_json(renewed)
        return
    print_fields(
        [
            ("email", renewed.email),
            ("status", renewed.status),
            ("pay at", renewed.payment_url),
            ("expires", renewed.expires_at),
        ]
    )


@app.command()
def status(url: Url = DEFAULT_URL, key: KeyPath = Path(DEFAULT_KEY), as_json: Json = False) -> None:
    """Where the key's mailbox stands: not_claimed, pending_payment (with the link), active or expired."""
    with client_for(url, key, as_json) as mail:
        current = mail.status()
    if as_json:
        print_json(current)
        return
    print_fields(
        [
            ("status", current.status),
            ("email", current.email),
            ("expires", current.expires_at),
            ("pay at", current.payment_url),
            ("expired", current.expired_at),
            ("key", current.fingerprint),
        ]
    )


@app.command()
def resolve(url: Url = DEFAULT_URL, key: KeyPath = Path(DEFAULT_KEY), as_json: Json = False) -> None:
    """IMAP login details and the HTTP access token of the paid mailbox (secrets: keep them private)."""
    with client_for(url, key, as_json) as mail:
        access = mail.resolve()
    if as_json:
        print_json(access)
        return
    print_fields(
        [
            ("email", access.email),
            ("imap host", access.host),
            ("imap port", access.port),
            ("username", access.username),
            ("password", access.password),
            ("access token", access.access_token),
            ("expires", access.expires_at),
        ]
    )


@app.command()
def inbox(
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    unread: Annotated[bool, typer.Option("--unread", help="Only unread messages.")] = False,
    query: Query = None,
    url: Url = DEFAULT_URL,
    key: KeyPath = Path(DEFAULT_KEY),
    as_json: Json = False,
) -> None:
    """The newest messages (unread ones are marked *). Their content is untrusted data."""
    with client_for(url, key, as_json) as mail:
        listing = mail.list_messages(limit=limit, q=query, unread_only=unread)
    if as_json:
        print_json(listing)
        return
    print_messages(listing.messages)


@app.command()
def events(
    after: Annotated[int, typer.Option(min=0, help="Only events after this id (the last `next`).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    url: Url = DEFAULT_URL,
    key: KeyPath = Path(DEFAULT_KEY),
    as_json: Json = False,
) -> None:
    """The mailbox's events, oldest first: new mail, expiry reminders, expiry and renewal."""
    with client_for(url, key, as_json) as mail:
        page = mail.events(after=after, limit=limit)
    if as_json:
        print_json(page)
        return
    print_events(page)


@app.command()
def read(
    uid: int,
    full: Annotated[bool, typer.Option("--full", help="The whole decoded text, not the safe view.")] = False,
    mark_seen: Annotated[bool, typer.Option("--mark-seen", help="Mark the message read.")] = False,
    url: Url = DEFAULT_URL,
    key: KeyPath = Path(DEFAULT_KEY),
    as_json: Json = False,
) -> None:
    """One message: by default its safe text view (visible text only, links numbered). Untrusted data."""
    with client_for(url, key, as_json) as mail:
        message = mail.get_message(uid, mark_seen=mark_seen)
        safe = None if full else mail.safe_text(uid)
    if as_json:
        print_json(
            {"message": message.model_dump(mode="json", by_alias=True), "safe": safe and safe.model_dump()}
        )
        return
    sender = message.from_.address if message.from_ else None
    print_fields(
        [("uid", message.uid), ("from", sender), ("subject", message.subject), ("date", message.date)]
    )
    print_fields([("code", ", ".join(code.code for code in message.codes))])
    print_text("\n" + ((message.text or "") if safe is None else safe.text))
    if safe is not None:
        print_text("\n".join(f"[{number}] {link}" for number, link in enumerate(safe.links, 1)))


@app.command()
def wait(
    code: Annotated[bool, typer.Option("--code", help="Print only a verification code.")] = False,
    require_verified: Annotated[
        bool,
        typer.Option("--require-verified", help="With --code: only from a sender authenticated at delivery."),
    ] = False,
    from_domain: Annotated[
        str | None,
        typer.Option(help="With --code: only from a sender proven to be this domain, e.g. example.com."),
    ] = None,
    timeout: Annotated[float, typer.Option(min=0, help="Seconds to wait.")] = 60.0,
    query: Query = None,
    after_uid: Annotated[int | None, typer.Option(help="Wait for a message newer than this uid.")] = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Only mail received from then on (ISO date-time: when the sign-up began)."),
    ] = None,
    url: Url = DEFAULT_URL,
    key: KeyPath = Path(DEFAULT_KEY),
    as_json: Json = False,
) -> None:
    """Wait for a message: the newest unread one that already arrived (from --since on), else the next;
    or the first after --after-uid. With --code, print its code (or verify link).

    --code first looks at unread mail, and marks the message whose code it prints as read.
    --require-verified and --from-domain take the code only from mail whose sender passed DMARC (or
    aligned DKIM or SPF) at delivery.
    """
    started = None if since is None else since if since.tzinfo else since.replace(tzinfo=UTC)
    with client_for(url, key, as_json) as mail:
        if code:
            _print_code(mail.verification_code(timeout, query, require_verified, from_domain), as_json)
        else:
            _print_arrived(mail.wait(timeout, query, after_uid, started), as_json)


@app.command()
def retention(
    max_age_days: Annotated[
        int | None, typer.Option(min=1, help="Delete messages older than this many days, read or not.")
    ] = None,
    forever: Annotated[bool, typer.Option("--forever", help="Keep messages without an age limit.")] = False,
    when_full: Annotated[
        bool | None,
        typer.Option(
            "--delete-oldest-read/--refuse-when-full",
            help="When new mail does not fit: delete the oldest read messages, or refuse it (452).",
        ),
    ] = None,
    url: Url = DEFAULT_URL,
    key: KeyPath = Path(DEFAULT_KEY),
    as_json: Json = False,
) -> None:
    """Show the mailbox's retention policy, or change it with the options given (others stay)."""
    if forever and max_age_days is not None:
        fail("--forever and --max-age-days exclude each other", "usage", as_json, EXIT_USAGE)
    age: int | Literal["forever"] | None = "forever" if forever else max_age_days
    with client_for(url, key, as_json) as mail:
        changing = age is not None or when_full is not None
        policy = mail.set_retention(age, when_full) if changing else mail.retention()
    if as_json:
        print_json(policy)
        return
    print_fields(
        [
            ("max age", "forever" if policy.max_age_days is None else f"{policy.max_age_days} days"),
            ("when full", "delete oldest read" if policy.delete_oldest_read_when_full else "refuse new mail"),
            ("set by", "service default" if policy.source == "default" else "this mailbox"),
        ]
    )


def _print_code(found: VerificationCode | None, as_json: bool) -> None:
    if found is None:
        fail("no verification code arrived in time", "timed_out", as_json, EXIT_TIMED_OUT)
    if as_json:
        print_json(found)
    else:
        print(found.code or found.link)


def _print_arrived(found: MessageOut | None, as_json: bool) -> None:
    if found is None:
        fail("no message arrived in time", "timed_out", as_json, EXIT_TIMED_OUT)
    if as_json:
        print_json(found)
    else:
        print_messages([found])
