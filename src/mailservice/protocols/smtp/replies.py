"""The one place where delivery errors become SMTP/LMTP replies."""

from __future__ import annotations

from mailservice.domain.errors import (
    MailboxFull,
    MessageTooLarge,
    RecipientExpired,
    RelayDenied,
    UnknownRecipient,
)

RCPT_OK = "250 2.1.5 Recipient ok"
TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, please try again later"
NO_VALID_RECIPIENTS = "554 5.5.1 No valid recipients"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
TOO_MANY_REFUSED = "421 4.7.0 Too many refused recipients, closing connection"
FORWARDED_TO_POSTMASTER = "250 2.0.0 Ok: forwarded to postmaster"
POSTMASTER_BUSY = "450 4.7.1 Too much mail for postmaster, try again later"

_REPLIES: tuple[tuple[type[Exception], str], ...] = (
    (RelayDenied, "550 5.7.1 Relay access denied"),
    (UnknownRecipient, "550 5.1.1 Mailbox unavailable"),
    (RecipientExpired, "550 5.2.1 Mailbox disabled: subscription expired"),
    (MailboxFull, "452 4.2.2 Mailbox full"),
    (MessageTooLarge, "552 5.3.4 Message too big"),
)


def reply_for(error: Exception) -> str:
    for error_type, reply in _REPLIES:
        if isinstance(error, error_type):
            return reply
    return TEMPORARY_FAILURE


def accepted(queue_id: str) -> str:
    return f"250 2.0.0 Ok: stored as {queue_id}"
