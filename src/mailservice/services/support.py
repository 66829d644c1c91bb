"""Support messages from agents: signed with the agent's key, limited per key, forwarded by e-mail."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from mailservice.domain.errors import InvalidInput, NotConfigured, RateLimited
from mailservice.domain.identity import KeyProof
from mailservice.domain.key_fingerprint import ssh_fingerprint
from mailservice.ports import Clock, UnitOfWorkFactory
from mailservice.services.key_proofs import KeyProofs
from mailservice.services.notifications import compose

log = logging.getLogger(__name__)

MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 10_000
MESSAGES_PER_WINDOW = 3
WINDOW = timedelta(hours=1)


class SupportService:
    def __init__(
        self,
        proofs: KeyProofs,
        uow: UnitOfWorkFactory,
        clock: Clock,
        support_email: str | None,
        mail_domain: str,
    ) -> None:
        self._proofs = proofs
        self._uow = uow
        self._clock = clock
        self._support_email = support_email
        self._mail_domain = mail_domain

    async def send(self, proof: KeyProof, subject: str, body: str) -> None:
        """Queue the message for SUPPORT_EMAIL, with reply-to set to the key's mailbox when it has one."""
        if not self._support_email:
            raise NotConfigured("support messages are not configured on this server")
        subject, body = _checked(subject, body)
        key = await self._proofs.prove(proof)
        now = self._clock.now()
        async with self._uow() as uow:
            if await uow.support_messages.count_since(key.fingerprint, now - WINDOW) >= MESSAGES_PER_WINDOW:
                raise RateLimited(f"at most {MESSAGES_PER_WINDOW} support messages per key per hour")
            mailbox = await uow.mailboxes.get_by_fingerprint(key.fingerprint)
            address = mailbox.address(self._mail_domain) if mailbox is not None else None
            notification = compose(
                "support_message",
                self._support_email,
                f"Support: {subject}",
                dedupe_key=None,
                topic=subject,
                body=body,
                fingerprint=ssh_fingerprint(key.fingerprint),
                address=address or "(no mailbox)",
            )
            await uow.support_messages.add(key.fingerprint, subject, now)
            await uow.outbox.enqueue(replace(notification, reply_to=address), now)
            await uow.commit()
        log.info("support.queued fingerprint=%s", ssh_fingerprint(key.fingerprint))


def _checked(subject: str, body: str) -> tuple[str, str]:
    subject = " ".join(subject.split())  # one line: no header folding, no injected headers
    body = body.strip()
    if not subject or not body:
        raise InvalidInput("subject and body are required")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidInput(f"subject must be at most {MAX_SUBJECT_CHARS} characters")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"body must be at most {MAX_BODY_CHARS} characters")
    return subject, body
