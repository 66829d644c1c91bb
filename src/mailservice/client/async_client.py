"""The asyncio client."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Literal

import httpx

from mailservice.client.drivers import run_async
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


class AsyncMailClient:
    """`async with AsyncMailClient(url, key=AgentKey.load(path)) as mail: await mail.claim(...)`.

    With a key, the client proves it with a fresh signed challenge whenever the service asks for one,
    and fetches the access token itself (by resolve) before the first read. With only an access token
    it can read, but not claim or resolve.
    """

    def __init__(
        self,
        base_url: str,
        key: AgentKey | None = None,
        access_token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._ops = Operations(key, access_token)
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)

    @property
    def access_token(self) -> str | None:
        return self._ops.access_token

    async def challenge(self, public_key: str) -> ChallengeResponse:
        return await run_async(self._http, self._ops.challenge(public_key))

    async def proof(self) -> Proof:
        return await run_async(self._http, self._ops.proof())

    async def claim(
        self, billing_email: str, coupon_code: str | None = None, proof: Proof | None = None
    ) -> ClaimResponse:
        return await run_async(self._http, self._ops.claim(billing_email, coupon_code, proof))

    async def renew(self, billing_email: str | None = None) -> ClaimResponse:
        """A payment link for one more month, e-mailed to `billing_email` or the one on file."""
        return await run_async(self._http, self._ops.renew(billing_email))

    async def resolve(self, protocol: str = "imap") -> ResolveResponse:
        return await run_async(self._http, self._ops.resolve(protocol))

    async def status(self) -> MailboxStatus:
        return await run_async(self._http, self._ops.status())

    async def list_messages(
        self,
        limit: int = 20,
        q: str | None = None,
        unread_only: bool = False,
        after_uid: int | None = None,
        before_uid: int | None = None,
        include_text: bool = False,
    ) -> MessageListOut:
        operation = self._ops.list_messages(limit, q, unread_only, after_uid, before_uid, include_text)
        return await run_async(self._http, operation)

    async def events(self, after: int = 0, limit: int = 100) -> EventPageOut:
        """The mailbox's events (new mail, expiry and renewal) after the cursor `after`, oldest first."""
        return await run_async(self._http, self._ops.events(after, limit))

    async def get_message(self, uid: int, mark_seen: bool = False) -> MessageOut:
        return await run_async(self._http, self._ops.get_message(uid, mark_seen))

    async def safe_text(self, uid: int, max_chars: int = 20_000) -> SafeTextOut:
        return await run_async(self._http, self._ops.safe_text(uid, max_chars))

    async def mark(self, uid: int, seen: bool | None = None, flagged: bool | None = None) -> MessageOut:
        return await run_async(self._http, self._ops.mark(uid, seen, flagged))

    async def wait(
        self,
        seconds: float = 30.0,
        q: str | None = None,
        after_uid: int | None = None,
        since: datetime | None = None,
    ) -> MessageOut | None:
        return await run_async(self._http, self._ops.wait(seconds, q, after_uid, since))

    async def verification_code(
        self,
        seconds: float = 60.0,
        q: str | None = None,
        require_verified: bool = False,
        from_domain: str | None = None,
    ) -> VerificationCode | None:
        return await run_async(
            self._http, self._ops.verification_code(seconds, q, require_verified, from_domain)
        )

    async def create_webhook(
        self, url: str, events: list[str] | None = None, q: str | None = None
    ) -> WebhookCreated:
        """Register `url` for this mailbox's events; the returned `secret` is shown only once."""
        return await run_async(self._http, self._ops.create_webhook(url, events, q))

    async def list_webhooks(self) -> WebhookListOut:
        return await run_async(self._http, self._ops.list_webhooks())

    async def get_webhook(self, webhook_id: str) -> WebhookOut:
        return await run_async(self._http, self._ops.get_webhook(webhook_id))

    async def delete_webhook(self, webhook_id: str) -> None:
        await run_async(self._http, self._ops.delete_webhook(webhook_id))

    async def enable_webhook(self, webhook_id: str) -> WebhookOut:
        """Turn a webhook on again after it was turned off for failing for days."""
        return await run_async(self._http, self._ops.enable_webhook(webhook_id))

    async def test_webhook(self, webhook_id: str) -> DeliveryOut:
        return await run_async(self._http, self._ops.test_webhook(webhook_id))

    async def webhook_deliveries(
        self, webhook_id: str, limit: int = 20, before_id: int | None = None
    ) -> DeliveryListOut:
        return await run_async(self._http, self._ops.webhook_deliveries(webhook_id, limit, before_id))

    async def retry_webhook_delivery(self, webhook_id: str, delivery_id: int) -> DeliveryOut:
        return await run_async(self._http, self._ops.retry_webhook_delivery(webhook_id, delivery_id))

    async def retention(self) -> RetentionOut:
        """The mailbox's retention policy: how long mail is kept, and what happens when it is full."""
        return await run_async(self._http, self._ops.retention())

    async def set_retention(
        self,
        max_age_days: int | Literal["forever"] | None = None,
        delete_oldest_read_when_full: bool | None = None,
    ) -> RetentionOut:
        """Change what is given (None: unchanged); `max_age_days="forever"` keeps mail without limit."""
        return await run_async(
            self._http, self._ops.set_retention(max_age_days, delete_oldest_read_when_full)
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMailClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()
