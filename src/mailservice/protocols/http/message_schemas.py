"""The message JSON (`mailservice.wire.messages`) built from stored messages."""

from __future__ import annotations

import json

from mailservice.domain.messages import StoredMessage
from mailservice.domain.sender_auth import SenderAuth
from mailservice.wire.messages import AttachmentInfo, MessageAddress, MessageCode, MessageLink, MessageOut
from mailservice.wire.sender_auth import DkimSignatureOut, DmarcOut, SenderAuthOut, SpfOut


def message_out(message: StoredMessage, include_text: bool) -> MessageOut:
    return MessageOut(
        uid=message.uid,
        from_=MessageAddress(address=message.from_address, name=message.from_name)
        if message.from_address
        else None,
        to=[MessageAddress(address=address, name=name) for name, address in message.to],
        cc=[MessageAddress(address=address, name=name) for name, address in message.cc],
        subject=message.subject,
        date=message.date,
        received_at=message.internal_date,
        size=message.size,
        flags=sorted(message.flags),
        seen=message.seen,
        flagged=message.flagged,
        has_attachments=message.has_attachments,
        attachments=attachments_of(message.parts_json),
        tags=list(message.tags),
        message_id=message.message_id,
        codes=[MessageCode(**code.__dict__) for code in message.codes],
        links=[MessageLink(**link.__dict__) for link in message.links],
        text=message.text if include_text else None,
        envelope_from=message.envelope_from,
        auth=sender_auth_out(message.auth),
        verified_domain=message.verified_domain,
    )


def attachments_of(parts_json: str) -> list[AttachmentInfo]:
    return [
        AttachmentInfo(
            part=part["section"],
            filename=part["filename"],
            content_type=part["content_type"],
            size=part["body_end"] - part["body_start"],
        )
        for part in json.loads(parts_json)
        if part["is_attachment"]
    ]


def sender_auth_out(auth: SenderAuth | None) -> SenderAuthOut | None:
    if auth is None:
        return None
    return SenderAuthOut(
        spf=SpfOut(
            result=auth.spf.result,
            domain=auth.spf.domain,
            helo=auth.spf.helo,
            helo_result=auth.spf.helo_result,
        ),
        dkim=[
            DkimSignatureOut(domain=s.domain, selector=s.selector, algorithm=s.algorithm, result=s.result)
            for s in auth.dkim
        ],
        dmarc=DmarcOut(
            result=auth.dmarc.result, policy=auth.dmarc.policy, from_domain=auth.dmarc.from_domain
        ),
        arc=auth.arc,
    )
