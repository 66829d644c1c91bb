"""Every request the client makes, written once as steps that yield calls and receive responses.

The sync and async clients only differ in how they send a `Call`; every rule (the challenge and
signature, which token to use, how a long wait is split, how a code is looked for) lives here.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from mailservice.client.errors import Expired, NotFound, PaymentRequired, raise_for_error
from mailservice.client.keys import AgentKey, require_agent_key
from mailservice.client.models import (
    ChallengeResponse,
    ClaimResponse,
    DeliveryListOut,
    DeliveryOut,
    EventPageOut,
    MailboxStatus,
    MessageEnvelope,
    MessageListOut,
    MessageOut,
    Proof,
    ResolveResponse,
    RetentionOut,
    SafeTextOut,
    VerificationCode,
    WaitOut,
    WebhookCreated,
    WebhookListOut,
    WebhookOut,
)
from mailservice.domain.timestamps import rfc3339_or_none

T = TypeVar("T")
Operation = Generator["Call", httpx.Response, T]

WAIT_CHUNK_SECONDS = 60.0  # the longest single wait the service accepts
WAIT_SLACK_SECONDS = 15.0  # how much longer than its wait a long poll may take to answer


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    token: str | None = None
    timeout: float | None = None


class MissingKey(Exception):
    """The operation needs the agent's key (or an access token) and the client has neither."""


class Operations:
    """The client's state (key, access token) and the steps of each operation."""

    def __init__(self, key: AgentKey | None = None, access_token: str | None = None) -> None:
        require_agent_key(key)
        self.key = key
        self.access_token = access_token

    # Identity and mailbox

    def challenge(self, public_key: str) -> Operation[ChallengeResponse]:
        response = yield Call("POST", "/v1/auth/challenge", json={"public_key": public_key})
        return ChallengeResponse.model_validate(_ok(response))

    def proof(self) -> Operation[Proof]:
        key = self._key()
        issued = yield from self.challenge(key.public_line)
        signature = key.sign(issued.challenge)
        return Proof(edproof=key.public_line, challenge=issued.challenge, signature=signature)

    def claim(
        self, billing_email: str, coupon_code: str | None = None, proof: Proof | None = None
    ) -> Operation[ClaimResponse]:
        if proof is None:
            proof = yield from self.proof()
        body: dict[str, Any] = {"billing_email": billing_email, **proof.model_dump()}
        if coupon_code:
            body["coupon_code"] = coupon_code
        claimed = ClaimResponse.model_validate(_ok((yield Call("POST", "/v1/mailboxes/claim", json=body))))
        self.access_token = claimed.access_token or self.access_token
        return claimed

    def renew(self, billing_email: str | None = None) -> Operation[ClaimResponse]:
        """A payment link for one more month (from the current expiry, or from now once expired)."""
        proof = yield from self.proof()
        body: dict[str, Any] = proof.model_dump()
        if billing_email is not None:
            body["billing_email"] = billing_email
        renewed = ClaimResponse.model_validate(_ok((yield Call("POST", "/v1/mailboxes/renew", json=body))))
        self.access_token = renewed.access_token or self.access_token
        return renewed

    def resolve(self, protocol: str = "imap") -> Operation[ResolveResponse]:
        proof = yield from self.proof()
        response = yield Call("POST", "/v1/access/resolve", json={"protocol": protocol, **proof.model_dump()})
        resolved = ResolveResponse.model_validate(_ok(response))
        self.access_token = resolved.access_token
        return resolved

    def status(self) -> Operation[MailboxStatus]:
        """By key proof when the client has the key; else by what the access token may still read."""
        if self.key is None and self.access_token is not None:
            return (yield from self._status_by_token())
        fingerprint = self._key().fingerprint
        try:
            resolved = yield from self.resolve()
        except PaymentRequired as error:
            return _status("pending_payment", fingerprint, error.body, payment_url=error.payment_url)
        except Expired as error:
            return _status("expired", fingerprint, error.body, expired_at=error.expired_at)
        except NotFound:
            return MailboxStatus(status="not_claimed", fingerprint=fingerprint)
        return MailboxStatus(
            status="active",
            fingerprint=fingerprint,
            mailbox_id=resolved.mailbox_id,
            email=resolved.email,
            expires_at=resolved.expires_at,
        )

    def _status_by_token(self) -> Operation[MailboxStatus]:
        body = {"access_token": self.access_token}
        try:
            response = yield Call("POST", "/v1/imap/resolve", json=body)
            resolved = ResolveResponse.model_validate(_ok(response))
        except PaymentRequired as error:
            return _status("pending_payment", None, error.body, payment_url=error.payment_url)
        except Expired as error:
            return _status("expired", None, error.body, expired_at=error.expired_at)
        return MailboxStatus(
            status="active",
            mailbox_id=resolved.mailbox_id,
            email=resolved.email,
            expires_at=resolved.expires_at,
        )

    # Reading

    def list_messages(
        self,
        limit: int = 20,
        q: str | None = None,
        unread_only: bool = False,
        after_uid: int | None = None,
        before_uid: int | None = None,
        include_text: bool = False,
    ) -> Operation[MessageListOut]:
        params = {
            "limit": limit,
            "q": q,
            "unread_only": unread_only,
            "after_uid": after_uid,
            "before_uid": before_uid,
            "include_text": include_text,
        }
        response = yield from self._read("GET", "/v1/messages", params=params)
        return MessageListOut.model_validate(_ok(response))

    def events(self, after: int = 0, limit: int = 100) -> Operation[EventPageOut]:
        """The mailbox's events after the cursor `after`, oldest first; pass `next_after` on."""
        response = yield from self._read("GET", "/v1/events", params={"after": after, "limit": limit})
        return EventPageOut.model_validate(_ok(response))

    def get_message(self, uid: int, mark_seen: bool = False) -> Operation[MessageOut]:
        response = yield from self._read("GET", f"/v1/messages/{uid}", params={"mark_seen": mark_seen})
        return MessageEnvelope.model_validate(_ok(response)).message

    def safe_text(self, uid: int, max_chars: int = 20_000) -> Operation[SafeTextOut]:
        response = yield from self._read("GET", f"/v1/messages/{uid}/safe", params={"max_chars": max_chars})
        return SafeTextOut.model_validate(_ok(response))

    def mark(self, uid: int, seen: bool | None = None, flagged: bool | None = None) -> Operation[MessageOut]:
        body = {name: value for name, value in (("seen", seen), ("flagged", flagged)) if value is not None}
        response = yield from self._read("PATCH", f"/v1/messages/{uid}", json=body)
        return MessageEnvelope.model_validate(_ok(response)).message

    def retention(self) -> Operation[RetentionOut]:
        response = yield from self._read("GET", "/v1/mailbox/retention")
        return RetentionOut.model_validate(_ok(response))

    def set_retention(
        self,
        max_age_days: int | Literal["forever"] | None = None,
        delete_oldest_read_when_full: bool | None = None,
    ) -> Operation[RetentionOut]:
        """Change what is given (None: unchanged); `max_age_days="forever"` keeps mail without limit."""
        body: dict[str, Any] = {}
        if max_age_days is not None:
            body["max_age_days"] = None if max_age_days == "forever" else max_age_days
        if delete_oldest_read_when_full is not None:
            body["delete_oldest_read_when_full"] = delete_oldest_read_when_full
        response = yield from self._read("PUT", "/v1/mailbox/retention", json=body)
        return RetentionOut.model_validate(_ok(response))

    def latest_uid(self) -> Operation[int]:
        newest = yield from self.list_messages(limit=1)
        return newest.messages[0].uid if newest.messages else 0

    def wait(
        self,
        seconds: float = 30.0,
        q: str | None = None,
        after_uid: int | None = None,
        since: datetime | None = None,
    ) -> Operation[MessageOut | None]:
        """A message matching `q`, or None in time: with `after_uid`, the first after it; without, the
        newest unread one that already arrived (received from `since` on, when given), else the next."""
        deadline = time.monotonic() + seconds
        while True:
            seconds = max(0.0, min(WAIT_CHUNK_SECONDS, deadline - time.monotonic()))
            params = {
                "after_uid": after_uid,
                "timeout": round(seconds, 3),
                "q": q,
                "since": rfc3339_or_none(since),
            }
            response = yield from self._read(
                "GET", "/v1/messages/wait", params=params, timeout=seconds + WAIT_SLACK_SECONDS
            )
            waited = WaitOut.model_validate(_ok(response))
            if waited.message is not None or time.monotonic() >= deadline:
                return waited.message

    def verification_code(
        self,
        seconds: float = 60.0,
        q: str | None = None,
        require_verified: bool = False,
        from_domain: str | None = None,
    ) -> Operation[VerificationCode | None]:
        """The code or verify/magic link of the newest unread message that has one, else of the next one
        to arrive.

        With `from_domain`, only a message whose sender was proven at delivery to be that domain counts;
        with `require_verified` alone, one from any proven sender. The message it comes from is marked
        seen, so asking again does not return it twice.
        """
        q = sender_query(q, require_verified, from_domain)
        deadline = time.monotonic() + seconds
        after_uid = yield from self.latest_uid()
        unread = yield from self.list_messages(limit=20, q=q, unread_only=True)
        found = next((secret for message in unread.messages if (secret := _secret_of(message))), None)
        while found is None:
            remaining = deadline - time.monotonic()
            arrived = yield from self.wait(max(0.0, remaining), q, after_uid)
            if arrived is None:
                return None
            after_uid = arrived.uid
            found = _secret_of(arrived)
        yield from self.mark(found.uid, seen=True)
        return found

    # Webhooks

    def create_webhook(
        self, url: str, events: list[str] | None = None, q: str | None = None
    ) -> Operation[WebhookCreated]:
        body = {
            name: value for name, value in (("url", url), ("events", events), ("q", q)) if value is not None
        }
        response = yield from self._read("POST", "/v1/webhooks", json=body)
        return WebhookCreated.model_validate(_ok(response))

    def list_webhooks(self) -> Operation[WebhookListOut]:
        response = yield from self._read("GET", "/v1/webhooks")
        return WebhookListOut.model_validate(_ok(response))

    def get_webhook(self, webhook_id: str) -> Operation[WebhookOut]:
        response = yield from self._read("GET", f"/v1/webhooks/{quote(webhook_id, safe='')}")
        return WebhookOut.model_validate(_ok(response))

    def delete_webhook(self, webhook_id: str) -> Operation[None]:
        response = yield from self._read("DELETE", f"/v1/webhooks/{quote(webhook_id, safe='')}")
        raise_for_error(response)

    def enable_webhook(self, webhook_id: str) -> Operation[WebhookOut]:
        response = yield from self._read("POST", f"/v1/webhooks/{quote(webhook_id, safe='')}/enable")
        return WebhookOut.model_validate(_ok(response))

    def test_webhook(self, webhook_id: str) -> Operation[DeliveryOut]:
        response = yield from self._read("POST", f"/v1/webhooks/{quote(webhook_id, safe='')}/test")
        return DeliveryOut.model_validate(_ok(response))

    def webhook_deliveries(
        self, webhook_id: str, limit: int = 20, before_id: int | None = None
    ) -> Operation[DeliveryListOut]:
        path = f"/v1/webhooks/{quote(webhook_id, safe='')}/deliveries"
        response = yield from self._read("GET", path, params={"limit": limit, "before_id": before_id})
        return DeliveryListOut.model_validate(_ok(response))

    def retry_webhook_delivery(self, webhook_id: str, delivery_id: int) -> Operation[DeliveryOut]:
        path = f"/v1/webhooks/{quote(webhook_id, safe='')}/deliveries/{delivery_id}/retry"
        response = yield from self._read("POST", path)
        return DeliveryOut.model_validate(_ok(response))

    # Helpers

    def _read(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Operation[httpx.Response]:
        if self.access_token is None:
            yield from self.resolve()
        clean = {name: value for name, value in (params or {}).items() if value is not None}
        return (yield Call(method, path, json=json, params=clean, token=self.access_token, timeout=timeout))

    def _key(self) -> AgentKey:
        if self.key is None:
            raise MissingKey("this needs the agent's key: give the client a key or a key file")
        return self.key


SECRET_LINK_KINDS = ("magic-link", "verify")


def sender_query(q: str | None, require_verified: bool, from_domain: str | None) -> str | None:
    """`q` narrowed to mail from an authenticated sender: `from-verified:DOMAIN` for one domain (a domain
    is only worth naming when it was proven), `is:verified` for any."""
    if from_domain is not None:
        domain = from_domain.strip()
        # Quoted when it has spaces, so the service refuses it whole rather than searching for its words.
        term = (
            f'from-verified:"{domain}"'
            if domain == "" or any(c.isspace() for c in domain)
            else f"from-verified:{domain}"
        )
    elif require_verified:
        term = "is:verified"
    else:
        return q
    return term if not q else f"{q} {term}"


def _ok(response: httpx.Response) -> Any:
    raise_for_error(response)
    return response.json()


def _status(status: Any, fingerprint: str | None, body: dict[str, Any], **extra: Any) -> MailboxStatus:
    return MailboxStatus(
        status=status,
        fingerprint=fingerprint,
        mailbox_id=body.get("mailbox_id"),
        email=body.get("email"),
        **extra,
    )


def _secret_of(message: MessageOut) -> VerificationCode | None:
    """The best code and verify or magic link of a message; None when it has neither."""
    code = message.codes[0] if message.codes else None
    link = next((link for link in message.links if link.kind in SECRET_LINK_KINDS), None)
    if code is None and link is None:
        return None
    return VerificationCode(
        code=code.code if code else None,
        link=link.url if link else None,
        link_kind=link.kind if link else None,
        uid=message.uid,
        subject=message.subject,
        sender=message.from_.address if message.from_ else None,
        context=code.context if code else link.text if link else "",
        received_at=message.received_at,
    )
