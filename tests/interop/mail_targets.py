"""Mailboxes that real IMAP clients are pointed at: ours (engine, store and SMTP), or Dovecot's.

Every client scenario also runs against Dovecot, so a scenario that fails only against ours points at
our server, not at the scenario. Ours gets its mail over SMTP, as in production (the stored message
then starts with our Received and Delivered-To headers); Dovecot gets it over APPEND.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from tests.interop.engine_thread import RunningEngine, engine_in_thread
from tests.support.dovecot import ImapAccount, StoredMessage, load_messages, running_dovecot
from tests.support.mail import text_message

SENDER = "sender@example.org"


@dataclass(frozen=True)
class MailTarget:
    """One empty mailbox: where to log in, its address, and how to deliver a message to it."""

    account: ImapAccount
    address: str
    deliver: Callable[[bytes], None]
    kind: str


MailboxFactory = Callable[[], MailTarget]


def crlf_message(to: str, subject: str, body: str = "Hi there.\n") -> bytes:
    """A plain text message with CRLF line ends, as it is stored after SMTP delivery."""
    return text_message(to, subject, body).replace(b"\n", b"\r\n")


def dovecot_mailboxes(stack: ExitStack) -> MailboxFactory:
    """Each call starts a fresh Dovecot (one user each), stopped when `stack` closes."""

    def new_mailbox() -> MailTarget:
        _, account = stack.enter_context(running_dovecot())
        return MailTarget(
            account,
            f"{account.user}@dovecot.test",
            lambda raw: load_messages(account, [StoredMessage(raw)]),
            "dovecot",
        )

    return new_mailbox


def our_mailboxes(engine: RunningEngine, kind: str) -> MailboxFactory:
    """Each call pays for a new mailbox on the running engine; mail reaches it over SMTP."""

    def new_mailbox() -> MailTarget:
        account = engine.new_account()
        return MailTarget(account, account.user, lambda raw: _send(engine.smtp_port, account.user, raw), kind)

    return new_mailbox


def _send(port: int, address: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail(SENDER, [address], raw)


def mailbox_factory(kind: str, database_dsn: str | None, workdir: Path) -> Iterator[MailboxFactory]:
    with ExitStack() as stack:
        if database_dsn is None:
            yield dovecot_mailboxes(stack)
        else:
            engine = stack.enter_context(engine_in_thread(database_dsn, workdir))
            yield our_mailboxes(engine, kind)
