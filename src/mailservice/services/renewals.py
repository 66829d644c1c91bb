"""Renewal of a key-bound mailbox: a new checkout, proven by the mailbox's key, paid on top of what is left."""

from __future__ import annotations

import logging

from mailservice.domain.email_address import normalize_billing_email
from mailservice.domain.errors import NotFound
from mailservice.domain.identity import KeyProof
from mailservice.domain.mailbox import Mailbox, MailboxStatus
from mailservice.ports import Clock, UnitOfWorkFactory
from mailservice.services.credentials import Credentials
from mailservice.services.key_proofs import KeyProofs
from mailservice.services.mailboxes import ClaimResult, MailboxService
from mailservice.services.payments import PaymentService

log = logging.getLogger(__name__)


class RenewalService:
    def __init__(
        self,
        proofs: KeyProofs,
        mailboxes: MailboxService,
        payments: PaymentService,
        credentials: Credentials,
        uow: UnitOfWorkFactory,
        clock: Clock,
    ) -> None:
        self._proofs = proofs
        self._mailboxes = mailboxes
        self._payments = payments
        self._credentials = credentials
        self._uow = uow
        self._clock = clock

    async def renew(self, proof: KeyProof, billing_email: str | None = None) -> ClaimResult:
        """Open (or reuse) a checkout for the key's mailbox and e-mail its link.

        Active or expired: paying adds a month from the later of now and the current expiry. Never paid:
        the same checkout a claim would give. A `billing_email` becomes the mailbox's billing e-mail.
        """
        email = normalize_billing_email(billing_email) if billing_email is not None else None
        key = await self._proofs.prove(proof)
        mailbox = await self._mailbox_of(key.fingerprint, email)
        renewal = mailbox.status is not MailboxStatus.PENDING_PAYMENT
        checkout = await self._payments.request_payment(mailbox, mailbox.billing_email, renewal=renewal)
        if checkout is None:  # an open checkout turned out to be paid: the renewal is already applied
            mailbox = await self._reload(mailbox.id)
        log.info(
            "mailbox.renewal_requested mailbox=%s status=%s checkout=%s",
            mailbox.id,
            mailbox.status.value,
            checkout.id if checkout else "paid",
        )
        usable = mailbox.is_usable(self._clock.now())
        return ClaimResult(
            mailbox=mailbox,
            created=False,
            usable=usable,
            payment_url=checkout.url if checkout else None,
            access_token=self._credentials.access_token(mailbox) if usable else None,
        )

    async def _mailbox_of(self, fingerprint: str, billing_email: str | None) -> Mailbox:
        """The key's mailbox with the lazy expiry applied and, when one was given, the new billing e-mail."""
        async with self._uow(read_only=True) as uow:
            found = await uow.mailboxes.get_by_fingerprint(fingerprint)
        if found is None:
            raise NotFound("mailbox not found")
        mailbox = await self._reload(found.id)
        if billing_email is None or billing_email == mailbox.billing_email:
            return mailbox
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.mailboxes.set_billing_email(mailbox.id, billing_email, now)
            await uow.commit()
        return mailbox.with_billing_email(billing_email, now)

    async def _reload(self, mailbox_id: str) -> Mailbox:
        mailbox = await self._mailboxes.current(mailbox_id)
        if mailbox is None:
            raise NotFound("mailbox not found")
        return mailbox
