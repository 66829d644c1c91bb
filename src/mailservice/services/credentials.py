"""Derived credentials: the IMAP/POP3 password and the access token are never stored.

Each is HMAC-SHA256(secret, purpose | mailbox_id | credential_epoch); checking recomputes and compares in
constant time, and incrementing a mailbox's credential_epoch revokes both. A webhook endpoint's signing
secret is derived the same way from its id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from mailservice.domain.mailbox import Mailbox

ACCESS_TOKEN_PREFIX = "mat_"
WEBHOOK_SECRET_PREFIX = "whsec_"  # Standard Webhooks: base64 of the key after the prefix
_MAILBOX_ID_LENGTH = 32


class Credentials:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def mail_password(self, mailbox: Mailbox) -> str:
        return self._derive("mail-password", mailbox)

    def access_token(self, mailbox: Mailbox) -> str:
        return f"{ACCESS_TOKEN_PREFIX}{mailbox.id}.{self._derive('access-token', mailbox)}"

    def check_mail_password(self, mailbox: Mailbox, password: str) -> bool:
        return hmac.compare_digest(self.mail_password(mailbox).encode(), password.encode("utf-8", "replace"))

    def check_access_token(self, mailbox: Mailbox, token: str) -> bool:
        return hmac.compare_digest(self.access_token(mailbox).encode(), token.encode("utf-8", "replace"))

    def webhook_secret(self, endpoint_id: str) -> str:
        key = self._digest(f"webhook-secret|{endpoint_id}")
        return WEBHOOK_SECRET_PREFIX + base64.b64encode(key).decode("ascii")

    def _derive(self, purpose: str, mailbox: Mailbox) -> str:
        digest = self._digest(f"{purpose}|{mailbox.id}|{mailbox.credential_epoch}")
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def _digest(self, message: str) -> bytes:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).digest()


def mailbox_id_of_access_token(token: str) -> str | None:
    """The mailbox an access token claims to belong to; the token still has to be checked."""
    if not token.startswith(ACCESS_TOKEN_PREFIX):
        return None
    mailbox_id, dot, _ = token[len(ACCESS_TOKEN_PREFIX) :].partition(".")
    if (
        not dot
        or len(mailbox_id) != _MAILBOX_ID_LENGTH
        or not all(c in "0123456789abcdef" for c in mailbox_id)
    ):
        return None
    return mailbox_id
