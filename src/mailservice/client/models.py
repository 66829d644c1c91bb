"""What the client returns: the service's response models (`mailservice.wire`), and the few the client adds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mailservice.wire.common import Timestamp
from mailservice.wire.events import EventOut, EventPageOut
from mailservice.wire.mailboxes import ChallengeResponse, ClaimResponse, ResolveResponse
from mailservice.wire.messages import (
    AttachmentInfo,
    MessageAddress,
    MessageCode,
    MessageEnvelope,
    MessageLink,
    MessageListOut,
    MessageOut,
    SafeTextOut,
    WaitOut,
)
from mailservice.wire.retention import RetentionOut
from mailservice.wire.webhooks import (
    AttemptOut,
    DeliveryListOut,
    DeliveryOut,
    WebhookCreated,
    WebhookListOut,
    WebhookOut,
)

__all__ = [
    "AttachmentInfo",
    "AttemptOut",
    "ChallengeResponse",
    "ClaimResponse",
    "DeliveryListOut",
    "DeliveryOut",
    "EventOut",
    "EventPageOut",
    "MailboxStatus",
    "MessageAddress",
    "MessageCode",
    "MessageEnvelope",
    "MessageLink",
    "MessageListOut",
    "MessageOut",
    "Proof",
    "ResolveResponse",
    "RetentionOut",
    "SafeTextOut",
    "VerificationCode",
    "WaitOut",
    "WebhookCreated",
    "WebhookListOut",
    "WebhookOut",
]

# The mailbox statuses the service reports (claim, renew, account mailboxes), plus `not_claimed` for a key
# with no mailbox yet. Resolve's 409 says `waiting_payment`, as the original did; it is read as `pending_payment`.
StatusName = Literal["active", "pending_payment", "expired", "not_claimed"]


class Proof(BaseModel):
    """A signed challenge: proof that the sender holds the private key of `edproof`. Single use."""

    edproof: str
    challenge: str
    signature: str


class MailboxStatus(BaseModel):
    """Where the key's mailbox stands; `payment_url` is set while it waits for payment.

    Known by an access token alone (no key), there is no fingerprint.
    """

    status: StatusName
    fingerprint: str | None = None
    mailbox_id: str | None = None
    email: str | None = None
    expires_at: Timestamp | None = None
    payment_url: str | None = None
    expired_at: Timestamp | None = None


class VerificationCode(BaseModel):
    """What a verification e-mail carries: its best code, its verify or magic link, or both, with the
    phrase around them and where the message came from."""

    code: str | None = Field(description="The best one-time code (spaced or dashed codes without spaces)")
    link: str | None = Field(default=None, description="The verify or magic link, when there is one")
    link_kind: str | None = Field(default=None, description="verify or magic-link")
    uid: int
    subject: str | None
    sender: str | None = Field(description="The From address; anyone can forge it")
    context: str
    received_at: Timestamp
