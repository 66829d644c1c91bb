"""Mail for postmaster: accepted as RFC 5321 requires, and forwarded to the operator by e-mail.

The service receives mail only, so postmaster has no mailbox here; its mail goes, as text, through the
notification outbox to POSTMASTER_ADDRESS (by default SUPPORT_EMAIL), written before the 250 so that a
crash cannot lose it. Without either address it is accepted and logged. Forwards are limited per node,
because anyone can write to postmaster and every forward is an e-mail the operator's provider sends.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from mailservice.domain.recipient import is_postmaster
from mailservice.ports import Clock, MessageParser, UnitOfWorkFactory
from mailservice.services.delivery import Trace
from mailservice.services.notifications import compose
from mailservice.services.rate_limiter import RateLimiter

log = logging.getLogger(__name__)

MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 10_000
_EVERY_SENDER = "*"


class PostmasterService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        parser: MessageParser,
        clock: Clock,
        local_domains: frozenset[str],
        forward_to: str | None,
        forwards_per_minute: int,
    ) -> None:
        self._uow = uow
        self._parser = parser
        self._clock = clock
        self._local_domains = local_domains
        self._forward_to = forward_to
        self._limiter = RateLimiter(forwards_per_minute, clock)

    def is_postmaster(self, address: str) -> bool:
        return is_postmaster(address, self._local_domains)

    def take_turn(self) -> bool:
        """Whether one more message for postmaster may be accepted now (0 per minute: no limit)."""
        return not self._limiter.enabled or self._limiter.acquire("postmaster", _EVERY_SENDER) is None

    async def forward(self, raw: bytes, trace: Trace) -> None:
        parsed = await self._parser.parse(raw)
        subject = " ".join((parsed.subject or "(no subject)").split())[:MAX_SUBJECT_CHARS]
        if self._forward_to is None:
            log.warning(
                "postmaster.not_forwarded from=%s subject=%r reason=neither POSTMASTER_ADDRESS nor SUPPORT_EMAIL",
                trace.mail_from or "<>",
                subject,
            )
            return
        notification = compose(
            "postmaster_message",
            self._forward_to,
            f"Postmaster: {subject}",
            dedupe_key=None,
            envelope_sender=trace.mail_from or "<>",
            peer=trace.peer_ip or "unknown",
            header_from=parsed.from_address or "",
            topic=subject,
            body=parsed.text[:MAX_BODY_CHARS],
        )
        reply_to = _reply_address(parsed.from_address or trace.mail_from)
        async with self._uow() as uow:
            await uow.outbox.enqueue(replace(notification, reply_to=reply_to), self._clock.now())
            await uow.commit()
        log.info("postmaster.forwarded from=%s", trace.mail_from or "<>")


def _reply_address(address: str | None) -> str | None:
    """An address fit for a Reply-To header, or None."""
    if not address or "@" not in address or any(ch <= " " or ch in '<>,;"\\' for ch in address):
        return None
    return address
