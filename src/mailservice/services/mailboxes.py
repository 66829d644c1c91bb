"""The key-bound mailbox lifecycle: claim (create or find, then ask for payment) and resolve access."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from mailservice.domain.email_address import normalize_billing_email
from mailservice.domain.errors import Conflict, InvalidInput, MailboxExpired, NotFound, PaymentRequired
from mailservice.domain.identity import KeyProof, VerifiedKey
from mailservice.domain.mailbox import Mailbox, MailboxStatus, new_mailbox
from mailservice.domain.timestamps import rfc3339_or_none
from mailservice.ports import Clock, UnitOfWorkFactory
from mailservice.services.credentials import Credentials
from mailservice.services.key_proofs import KeyProofs
from mailservice.services.payments import PaymentService
from mailservice.services.reminders import ExpiryNotices

log = logging.getLogger(__name__)

SUPPORTED_PROTOCOLS = ("imap", "pop3")
_CREATE_ATTEMPTS = 3


@dataclass(frozen=True)
class ClaimResult:
    mailbox: Mailbox
    created: bool
    usable: bool
    payment_url: str | None
    access_token: str | None


@dataclass(frozen=True)
class AccessDetails:
    mailbox: Mailbox
    host: str
    port: int
    username: str
    password: str
    email: str
    access_token: str


@dataclass(frozen=True)
class AdvertisedMailServer:
    """The domain that mailbox addresses belong to, and the IMAP/POP3 server clients are told to connect to.

    Advertised, not listened on: behind a load balancer these are the public name and ports
    (`Settings.advertised_imap_host` and the like: IMAP_HOST, IMAP_PORT, POP3_PORT).
    """

    domain: str
    imap_host: str
    imap_port: int
    pop3_port: int


class MailboxService:
    def __init__(
        self,
        proofs: KeyProofs,
        payments: PaymentService,
        credentials: Credentials,
        uow: UnitOfWorkFactory,
        clock: Clock,
        mail_server: AdvertisedMailServer,
        expiry_notices: ExpiryNotices,
    ) -> None:
        self._proofs = proofs
        self._expiry_notices = expiry_notices
        self._payments = payments
        self._credentials = credentials
        self._uow = uow
        self._clock = clock
        self._mail_server = mail_server

    async def claim(self, billing_email: str, proof: KeyProof) -> ClaimResult:
        email = normalize_billing_email(billing_email)
        key = await self._proofs.prove(proof)
        mailbox, created = await self._find_or_create(key, email)
        if not mailbox.is_usable(self._clock.now()):
            renewal = mailbox.status is MailboxStatus.EXPIRED
            checkout = await self._payments.request_payment(mailbox, email, renewal=renewal)
            if checkout is not None:
                return ClaimResult(mailbox, created, False, checkout.url, None)
            mailbox = await self._current(mailbox.id)
        return ClaimResult(mailbox, created, True, None, self._credentials.access_token(mailbox))

    async def resolve(self, protocol: str, proof: KeyProof) -> AccessDetails:
        if protocol not in SUPPORTED_PROTOCOLS:
            raise InvalidInput(f"protocol must be one of: {', '.join(SUPPORTED_PROTOCOLS)}")
        key = await self._proofs.prove(proof)
        mailbox = await self._by_fingerprint(key.fingerprint)
        if mailbox is None:
            raise NotFound("mailbox not found")
        await self.require_usable(mailbox)
        return self.access_details(mailbox, protocol)

    def access_details(self, mailbox: Mailbox, protocol: str = "imap") -> AccessDetails:
        """Where and how to read the mailbox: the IMAP (or POP3) login and the HTTP access token."""
        return AccessDetails(
            mailbox=mailbox,
            host=self._mail_server.imap_host,
            port=self._mail_server.pop3_port if protocol == "pop3" else self._mail_server.imap_port,
            username=mailbox.login,
            password=self._credentials.mail_password(mailbox),
            email=self._address(mailbox),
            access_token=self._credentials.access_token(mailbox),
        )

    async def require_usable(self, mailbox: Mailbox) -> None:
        """Raise the error that says why a mailbox cannot be used, if it cannot."""
        if mailbox.is_usable(self._clock.now()):
            return
        if mailbox.status is MailboxStatus.EXPIRED:
            expired_at = rfc3339_or_none(mailbox.expires_at)
            raise MailboxExpired(expired_at=expired_at, mailbox_id=mailbox.id, email=self._address(mailbox))
        raise PaymentRequired(
            payment_url=await self._payments.open_checkout_url(mailbox),
            mailbox_id=mailbox.id,
            email=self._address(mailbox),
        )

    def _address(self, mailbox: Mailbox) -> str:
        return mailbox.address(self._mail_server.domain)

    async def expire_lapsed(self) -> int:
        async with self._uow() as uow:
            count = await uow.mailboxes.expire_lapsed(self._clock.now())
            await uow.challenges.purge_expired(self._clock.now())
            await uow.commit()
        if count:
            log.info("mailboxes.expired count=%d", count)
        return count

    async def purge_mail_of_expired(self, retention: timedelta) -> int:
        """Delete the mail of mailboxes expired longer than `retention`; the mailbox rows stay."""
        async with self._uow() as uow:
            count = await uow.mailboxes.purge_mail_of_expired(self._clock.now() - retention)
            await uow.commit()
        if count:
            log.info("retention.purged messages=%d", count)
        return count

    async def _find_or_create(self, key: VerifiedKey, billing_email: str) -> tuple[Mailbox, bool]:
        for _ in range(_CREATE_ATTEMPTS):
            existing = await self._by_fingerprint(key.fingerprint, billing_email)
            if existing is not None:
                return existing, False
            mailbox = new_mailbox(key.fingerprint, key.public_key, billing_email, self._clock.now())
            try:
                async with self._uow() as uow:
                    await uow.mailboxes.add(mailbox)
                    await uow.folders.create_inbox(mailbox.id, mailbox.created_at)
                    await uow.commit()
            except Conflict:
                continue  # a concurrent claim of the same key won, or the random login collided
            log.info("mailbox.created mailbox=%s login=%s", mailbox.id, mailbox.login)
            return mailbox, True
        raise Conflict("could not create the mailbox; try again")

    async def _by_fingerprint(self, fingerprint: str, billing_email: str | None = None) -> Mailbox | None:
        """Load a mailbox, applying the lazy expiry check and, while unpaid, the latest billing e-mail."""
        now = self._clock.now()
        async with self._uow() as uow:
            mailbox = await uow.mailboxes.get_by_fingerprint(fingerprint)
            if mailbox is None:
                return None
            updated = mailbox.expire(now) if mailbox.has_lapsed(now) else mailbox
            if (
                billing_email is not None
                and not updated.is_usable(now)
                and updated.billing_email != billing_email
            ):
                updated = updated.with_billing_email(billing_email, now)
            if updated != mailbox:
                await uow.mailboxes.update(updated)
                if mailbox.has_lapsed(now):
                    await self._expiry_notices.queue_expired(uow, updated, now)
                await uow.commit()
            return updated

    async def current(self, mailbox_id: str) -> Mailbox | None:
        """The mailbox as stored now, with the lazy expiry applied."""
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            mailbox = await uow.mailboxes.get(mailbox_id)
        if mailbox is None or not mailbox.has_lapsed(now):
            return mailbox
        expired = mailbox.expire(now)
        async with self._uow() as uow:
            await uow.mailboxes.update(expired)
            await self._expiry_notices.queue_expired(uow, expired, now)
            await uow.commit()
        return expired

    async def _current(self, mailbox_id: str) -> Mailbox:
        mailbox = await self.current(mailbox_id)
        if mailbox is None:
            raise NotFound("mailbox not found")
        return mailbox
