"""aiosmtpd handler: recipients are checked at RCPT time, the message is stored before the 250."""

from __future__ import annotations

import logging
from typing import Any

from mailservice.domain.errors import DomainError, RecipientRejected
from mailservice.protocols.smtp.replies import (
    NO_VALID_RECIPIENTS,
    RCPT_OK,
    TEMPORARY_FAILURE,
    accepted,
    reply_for,
)
from mailservice.services.delivery import AcceptedRecipient, DeliveryService, IncomingMessage, Trace

log = logging.getLogger(__name__)


class InboundHandler:
    def __init__(self, delivery: DeliveryService, protocol: str) -> None:
        self._delivery = delivery
        self._protocol = protocol

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
        try:
            recipient = await self._delivery.check_recipient(address)
        except RecipientRejected as error:
            log.info("smtp.rcpt_refused to=%s reason=%s", address, error.code)
            return reply_for(error)
        except Exception:
            log.exception("smtp.rcpt_failed to=%s", address)
            return TEMPORARY_FAILURE
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        _accepted(envelope).append(recipient)
        return RCPT_OK

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipients = _accepted(envelope)
        if not recipients:
            return NO_VALID_RECIPIENTS
        trace = Trace(
            protocol=self._trace_protocol(session),
            helo=session.host_name,
            peer_ip=_peer_ip(session.peer),
            mail_from=_reverse_path(envelope.mail_from),
        )
        if self.is_lmtp:
            return await self._deliver_each(bytes(envelope.content), recipients, trace)
        incoming = IncomingMessage(envelope.content)
        envelope.content = envelope.original_content = None
        return await self._deliver_all(incoming, recipients, trace)

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

    async def _deliver_each(self, raw: bytes, recipients: list[AcceptedRecipient], trace: Trace) -> str:
        try:
            outcomes = await self._delivery.deliver_per_recipient(raw, recipients, trace)
        except Exception:
            log.exception("lmtp.data_failed")
            return "\r\n".join(TEMPORARY_FAILURE for _ in recipients)
        return "\r\n".join(
            accepted(r.login) if o is None else reply_for(o)
            for r, o in zip(recipients, outcomes, strict=True)
        )

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


def _reverse_path(mail_from: str | None) -> str:
    """The MAIL FROM address; empty for the null sender, which aiosmtpd hands over as `<>`."""
    return "" if mail_from in (None, "<>") else str(mail_from)


def _peer_ip(peer: Any) -> str | None:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return None
