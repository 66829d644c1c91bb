"""Domain errors. Each edge (HTTP, SMTP, IMAP) maps them once to its own replies."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the domain and services raise on purpose."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    """The caller sent something malformed or out of range."""

    code = "invalid_request"


class InvalidPublicKey(InvalidInput):
    code = "invalid_public_key"


class ProofRequired(InvalidInput):
    """A key was presented without the challenge and signature that prove possession."""

    code = "proof_required"


class InvalidProof(DomainError):
    """The challenge or signature does not prove possession of the key."""

    code = "invalid_proof"


class AuthenticationFailed(DomainError):
    code = "authentication_failed"


class NotFound(DomainError):
    code = "not_found"


class MailboxNotUsable(DomainError):
    """The mailbox exists but cannot be used right now; `status` says why."""

    code = "mailbox_not_usable"

    def __init__(self, message: str, status: str, **details: Any) -> None:
        super().__init__(message, status=status, **details)
        self.status = status


class PaymentRequired(MailboxNotUsable):
    code = "waiting_payment"

    def __init__(self, payment_url: str | None = None, **details: Any) -> None:
        super().__init__(
            "mailbox is waiting for payment", "waiting_payment", payment_url=payment_url, **details
        )


class MailboxExpired(MailboxNotUsable):
    code = "expired"

    def __init__(self, expired_at: str | None = None, **details: Any) -> None:
        super().__init__(
            "mailbox subscription has expired; renew it to restore access",
            "expired",
            expired_at=expired_at,
            **details,
        )


class Conflict(DomainError):
    code = "conflict"


class RateLimited(DomainError):
    code = "rate_limited"


class Busy(DomainError):
    """Too much work in flight to take more now; come back later."""

    code = "busy"


class WebhookLimitReached(Conflict):
    code = "webhook_limit_reached"


class WebhookDisabled(Conflict):
    code = "webhook_disabled"


class UnsafeWebhookUrl(InvalidInput):
    """A webhook URL that is not http(s), or names an address webhooks may not reach."""

    code = "unsafe_webhook_url"


class FolderNotFound(NotFound):
    code = "folder_not_found"


class FolderExists(Conflict):
    code = "folder_exists"


class FolderNotAllowed(DomainError):
    """The folder operation is not allowed (deleting INBOX, a name that cannot exist)."""

    code = "folder_not_allowed"


class ConfigurationError(Exception):
    """Start-up refuses to run with a missing or half-configured setting."""


class RecipientRejected(DomainError):
    """A recipient this server will not accept mail for; the SMTP edge picks the reply code."""

    code = "recipient_rejected"


class UnknownRecipient(RecipientRejected):
    code = "unknown_recipient"


class RelayDenied(RecipientRejected):
    code = "relay_denied"


class RecipientExpired(RecipientRejected):
    code = "recipient_expired"


class MailboxFull(RecipientRejected):
    code = "mailbox_full"


class MessageTooLarge(DomainError):
    code = "message_too_large"


class StorageUnavailable(DomainError):
    """The store could not take the message now; the sender should retry."""

    code = "storage_unavailable"


class PaymentProviderUnavailable(DomainError):
    """The payment provider failed or could not be reached; nothing was changed, the caller may retry."""

    code = "payment_provider_unavailable"


class NotPaidYet(DomainError):
    """A checkout that the provider does not (yet) report as paid."""

    code = "not_paid"


class InvalidWebhook(DomainError):
    """A webhook whose signature, timestamp or body does not verify; it is ignored."""

    code = "invalid_signature"


class NotificationFailed(DomainError):
    """A notification provider refused or failed a message; the outbox retries it."""

    code = "notification_failed"


class Forbidden(DomainError):
    """The caller is known but may not touch this resource."""

    code = "forbidden"


class NotConfigured(DomainError):
    """A feature this request needs is not configured on this server."""

    code = "not_configured"


def may_have_committed(error: BaseException) -> bool:
    """Whether a write that failed with `error` may have committed all the same: any failure but one the
    domain raised on purpose before writing (a refusal such as `MailboxFull`), except
    `StorageUnavailable`, which a store raises when it cannot tell."""
    return not isinstance(error, DomainError) or isinstance(error, StorageUnavailable)
