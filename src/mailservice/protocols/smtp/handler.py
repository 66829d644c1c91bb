"""aiosmtpd handler: recipients are checked at RCPT time, the message is stored before the 250."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from mailservice.domain.errors import DomainError, RecipientRejected
from mailservice.protocols.smtp.replies import (
    FORWARDED_TO_POSTMASTER,
    NO_VALID_RECIPIENTS,
    POSTMASTER_BUSY,
    RCPT_OK,
    TEMPORARY_FAILURE,
    TOO_MANY_RECIPIENTS,
    TOO_MANY_REFUSED,
    accepted,
    reply_for,
)
from mailservice.services.delivery import AcceptedRecipient, DeliveryService, IncomingMessage, Trace
from mailservice.services.metrics import SmtpSeries
from mailservice.services.postmaster import PostmasterService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecipientLimits:
    max_recipients: int
    max_refused: int


class InboundHandler:
    def __init__(
        self,
        delivery: DeliveryService,
        postmaster: PostmasterService,
        protocol: str,
        limits: RecipientLimits,
        metrics: SmtpSeries,
    ) -> None:
        self._delivery = delivery
        self._postmaster = postmaster
        self._protocol = protocol
        self._limits = limits
        self._label = protocol.lower().removeprefix("e")  # smtp or lmtp
        self._metrics = metrics

    @property
    def is_lmtp(self) -> bool:
        return self._protocol == "LMTP"

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """The EHLO reply without AUTH: mail is only received here, so there is nothing to log in to."""
        session.host_name = hostname
        return [line for line in responses if not line[4:].upper().startswith("AUTH")]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self._limits.max_recipients:
            return TOO_MANY_RECIPIENTS
        if self._postmaster.is_postmaster(address):
            return self._accept_postmaster(envelope, address, rcpt_options)
        try:
            recipient = await self._delivery.check_recipient(address)
        except RecipientRejected as error:
            log.info("smtp.rcpt_refused to=%s reason=%s", address, error.code)
            return self._refused(server, session, reply_for(error))
        except Exception:
            log.exception("smtp.rcpt_failed to=%s", address)
            return TEMPORARY_FAILURE
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        _accepted(envelope).append(recipient)
        return RCPT_OK

    def _refused(self, server: Any, session: Any, reply: str) -> str:
        """The reply to a refused RCPT; past the limit (a harvest of addresses) the connection ends."""
        session.refused_recipients = getattr(session, "refused_recipients", 0) + 1
        if session.refused_recipients < self._limits.max_refused:
            return reply
        log.warning("smtp.too_many_refused_recipients peer=%s", _peer_ip(session.peer))
        # Closing flushes what is written; the reply is written before the loop runs this callback.
        asyncio.get_running_loop().call_soon(server.transport.close)
        return TOO_MANY_REFUSED

    def _accept_postmaster(self, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if not self._postmaster.take_turn():
            log.warning("smtp.rcpt_refused to=%s reason=postmaster_busy", address)
            return POSTMASTER_BUSY
        _postmaster_positions(envelope).append(len(envelope.rcpt_tos))
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return RCPT_OK

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """The reply to DATA, counted: bytes received, 250s given and how long each took to give."""
        started = time.perf_counter()
        self._metrics.received_bytes.labels(self._label).inc(len(envelope.content or b""))
        reply = await self._data_reply(session, envelope)
        accepted_count = sum(line.startswith("250") for line in reply.split("\r\n"))
        if accepted_count:
            self._metrics.accepted.labels(self._label).inc(accepted_count)
            self._metrics.time_to_accept.labels(self._label).observe(time.perf_counter() - started)
        return reply

    async def _data_reply(self, session: Any, envelope: Any) -> str:
        recipients = _accepted(envelope)
        postmaster = _postmaster_positions(envelope)
        if not recipients and not postmaster:
            return NO_VALID_RECIPIENTS
        trace = Trace(
            protocol=self._trace_protocol(session),
            helo=session.host_name,
            peer_ip=_peer_ip(session.peer),
            mail_from=_reverse_path(envelope.mail_from),
        )
        forwarded = await self._forward(bytes(envelope.content), trace) if postmaster else None
        if self.is_lmtp:
            replies = await self._deliver_each(bytes(envelope.content), recipients, trace)
            for position in postmaster:  # LMTP answers every accepted recipient, in order
                replies.insert(position, forwarded or TEMPORARY_FAILURE)
            return "\r\n".join(replies)
        if forwarded is not None and (not recipients or forwarded == TEMPORARY_FAILURE):
            return forwarded
        incoming = IncomingMessage(envelope.content)
        envelope.content = envelope.original_content = None
        return await self._deliver_all(incoming, recipients, trace)

    async def _forward(self, raw: bytes, trace: Trace) -> str:
        try:
            await self._postmaster.forward(raw, trace)
        except Exception:
            log.exception("smtp.postmaster_failed")
            return TEMPORARY_FAILURE
        return FORWARDED_TO_POSTMASTER

    async def _deliver_all(
        self, incoming: IncomingMessage, recipients: list[AcceptedRecipient], trace: Trace
    ) -> str:
        try:
            stored = await self._delivery.deliver(incoming, recipients, trace)
        except DomainError as error:
            log.info("smtp.data_refused reason=%s", error.code)
            return reply_for(error)
        except Exception:
            log.exception("smtp.data_failed")
            return TEMPORARY_FAILURE
        return accepted(f"{stored[0].mailbox_id[:8]}.{stored[0].uid}")

    async def _deliver_each(self, raw: bytes, recipients: list[AcceptedRecipient], trace: Trace) -> list[str]:
        if not recipients:
            return []
        try:
            outcomes = await self._delivery.deliver_per_recipient(raw, recipients, trace)
        except Exception:
            log.exception("lmtp.data_failed")
            return [TEMPORARY_FAILURE for _ in recipients]
        return [
            accepted(r.login) if o is None else reply_for(o)
            for r, o in zip(recipients, outcomes, strict=True)
        ]

    def _trace_protocol(self, session: Any) -> str:
        if self.is_lmtp:
            return "LMTP"
        return "ESMTPS" if session.ssl is not None else "ESMTP"


def _accepted(envelope: Any) -> list[AcceptedRecipient]:
    recipients: list[AcceptedRecipient] | None = getattr(envelope, "accepted_recipients", None)
    if recipients is None:
        recipients = []
        envelope.accepted_recipients = recipients
    return recipients


def _postmaster_positions(envelope: Any) -> list[int]:
    """Where, among the accepted recipients, postmaster was named (LMTP answers each in order)."""
    positions: list[int] | None = getattr(envelope, "postmaster_positions", None)
    if positions is None:
        positions = []
        envelope.postmaster_positions = positions
    return positions


def _reverse_path(mail_from: str | None) -> str:
    """The MAIL FROM address; empty for the null sender, which aiosmtpd hands over as `<>`."""
    return "" if mail_from in (None, "<>") else str(mail_from)


def _peer_ip(peer: Any) -> str | None:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return None
