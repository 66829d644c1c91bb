"""The blocking client."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Literal

import httpx

from mailservice.client.drivers import run_sync
from mailservice.client.keys import AgentKey
from mailservice.client.models import (
    ChallengeResponse,
    ClaimResponse,
    DeliveryListOut,
    DeliveryOut,
    EventPageOut,
    MailboxStatus,
    MessageListOut,
    MessageOut,
    Proof,
    ResolveResponse,
    RetentionOut,
    SafeTextOut,
    VerificationCode,
    WebhookCreated,
    WebhookListOut,
    WebhookOut,
)
from mailservice.client.operations import Operations

DEFAULT_TIMEOUT_SECONDS = 30.0


class MailClient:
    """`with MailClient(url, key=AgentKey.load(path)) as mail: mail.claim(...)`; the same as AsyncMailClient."""

    def __init__(
        self,
        base_url: str,
        key: AgentKey | None = None,
        access_token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        http: httpx.Client | None = None,
    ) -> None:
        self._ops = Operations(key, access_token)
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)

    @property
    def access_token(self) -> str | None:
        return self._ops.access_token

    def challenge(self, public_key: str) -> ChallengeResponse:
        return run_sync(self._http, self._ops.challenge(public_key))

    def proof(self) -> Proof:
        return run_sync(self._http, self._ops.proof())

    def claim(
        self, billing_email: str, coupon_code: str | None = None, proof: Proof | None = None
    ) -> ClaimResponse:
        return run_sync(self._http, self._ops.claim(billing_email, coupon_code, proof))

    def renew(self, billing_email: str | None = None) -> ClaimResponse:
        """A payment link for one more month, e-mailed to `billing_email` or the one on file."""
        return run_sync(self._http, self._ops.renew(billing_email))

    def resolve(self, protocol: str = "imap") -> ResolveResponse:
        return run_sync(self._http, self._ops.resolve(protocol))

    def status(self) -> MailboxStatus:
        return run_sync(self._http, self._ops.status())

    def list_messages(
        self,
        limit: int = 20,
        q: str | None = None,
        unread_only: bool = False,
        after_uid: int | None = None,
        before_uid: int | None = None,
        include_text: bool = False,
    ) -> MessageListOut:
        operation = self._ops.list_messages(limit, q, unread_only, after_uid, before_uid, include_text)
        return run_sync(self._http, operation)

    def events(self, after: int = 0, limit: int = 100) -> EventPageOut:
        """The mailbox's events (new mail, expiry and renewal) after the cursor `after`, oldest first."""
        return run_sync(self._http, self._ops.events(after, limit))

    def get_message(self, uid: int, mark_seen: bool = False) -> MessageOut:
        return run_sync(self._http, self._ops.get_message(uid, mark_seen))

    def safe_text(self, uid: int, max_chars: int = 20_000) -> SafeTextOut:
        return run_sync(self._http, self._ops.safe_text(uid, max_chars))

    def mark(self, uid: int, seen: bool | None = None, flagged: bool | None = None) -> MessageOut:
        return run_sync(self._http, self._ops.mark(uid, seen, flagged))

    def wait(
        self,
        seconds: float = 30.0,
        q: str | None = None,
        after_uid: int | None = None,
        since: datetime | None = None,
    ) -> MessageOut | None:
        return run_sync(self._http, self._ops.wait(seconds, q, after_uid, since))

    def verification_code(
        self,
        seconds: float = 60.0,
        q: str | None = None,
        require_verified: bool = False,
        from_domain: str | None = None,
    ) -> VerificationCode | None:
        return run_sync(self._http, self._ops.verification_code(seconds, q, require_verified, from_domain))

    def create_webhook(
        self, url: str, events: list[str] | None = None, q: str | None = None
    ) -> WebhookCreated:
        """Register `url` for this mailbox's events; the returned `secret` is shown only once."""
        return run_sync(self._http, self._ops.create_webhook(url, events, q))

    def list_webhooks(self) -> WebhookListOut:
        return run_sync(self._http, self._ops.list_webhooks())

    def get_webhook(self, webhook_id: str) -> WebhookOut:
        return run_sync(self._http, self._ops.get_webhook(webhook_id))

    def delete_webhook(self, webhook_id: str) -> None:
        run_sync(self._http, self._ops.delete_webhook(webhook_id))

    def enable_webhook(self, webhook_id: str) -> WebhookOut:
        """Turn a webhook on again after it was turned off for failing for days."""
        return run_sync(self._http, self._ops.enable_webhook(webhook_id))

    def test_webhook(self, webhook_id: str) -> DeliveryOut:
        return run_sync(self._http, self._ops.test_webhook(webhook_id))

    def webhook_deliveries(
        self, webhook_id: str, limit: int = 20, before_id: int | None = None
    ) -> DeliveryListOut:
        return run_sync(self._http, self._ops.webhook_deliveries(webhook_id, limit, before_id))

    def retry_webhook_delivery(self, webhook_id: str, delivery_id: int) -> DeliveryOut:
        return run_sync(self._http, self._ops.retry_webhook_delivery(webhook_id, delivery_id))

    def retention(self) -> RetentionOut:
        """The mailbox's retention policy: how long mail is kept, and what happens when it is full."""
        return run_sync(self._http, self._ops.retention())

    def set_retention(
        self,
        max_age_days: int | Literal["forever"] | None = None,
        delete_oldest_read_when_full: bool | None = None,
    ) -> RetentionOut:
        """Change what is given (None: unchanged); `max_age_days="forever"` keeps mail without limit."""
        return run_sync(self._http, self._ops.set_retention(max_age_days, delete_oldest_read_when_full))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MailClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
