"""Checkouts for mailboxes: reuse an open one, open a new one, and apply a payment exactly once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from mailservice.domain.agent_events import MAILBOX_RENEWED, mailbox_event
from mailservice.domain.errors import NotFound, NotPaidYet
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.payment import Checkout, CheckoutRequest, CheckoutStatus
from mailservice.keyed_locks import KeyedLocks
from mailservice.ports import Clock, PaymentGateway, UnitOfWork, UnitOfWorkFactory
from mailservice.services.accounts import apply_account_payment
from mailservice.services.notifications import (
    PAYMENT_LINK_SUBJECT,
    RENEWAL_LINK_SUBJECT,
    compose,
    queue_once,
)

log = logging.getLogger(__name__)

MONTHS_PER_PAYMENT = 1


class PaymentService:
    def __init__(
        self,
        gateway: PaymentGateway,
        uow: UnitOfWorkFactory,
        clock: Clock,
        mail_domain: str,
        link_resend_interval: timedelta,
    ) -> None:
        self._gateway = gateway
        self._link_resend_interval = link_resend_interval
        self._uow = uow
        self._clock = clock
        self._mail_domain = mail_domain
        self._locks = KeyedLocks()

    @property
    def provider(self) -> str:
        return self._gateway.provider

    async def request_payment(
        self, mailbox: Mailbox, billing_email: str, renewal: bool = False
    ) -> Checkout | None:
        """Make sure an open checkout exists and its link is e-mailed; None when it turned out to be paid.

        A `renewal` is asked for a mailbox that was paid before; only the wording of the e-mail differs.
        """
        async with self._locks.hold(mailbox.id):
            checkout = await self._reusable_checkout(mailbox)
            if checkout is None:
                return None
            if checkout.status is CheckoutStatus.OPEN and checkout.mailbox_id == mailbox.id:
                await self._send_link(mailbox, checkout, billing_email, renewal)
            return checkout

    async def open_checkout_url(self, mailbox: Mailbox) -> str | None:
        """The link of the mailbox's latest open checkout, if it has one."""
        async with self._uow(read_only=True) as uow:
            latest = await uow.checkouts.latest_for_mailbox(mailbox.id)
        return latest.url if latest is not None and latest.is_open(self._clock.now()) else None

    async def complete(self, checkout_id: str) -> Mailbox:
        """Apply a paid checkout to its mailbox; applying the same checkout again changes nothing."""
        async with self._uow() as uow:
            mailbox = await apply_checkout_payment(uow, checkout_id, self._clock.now())
            await uow.commit()
        return mailbox

    async def confirm(self, checkout_id: str) -> Mailbox:
        """A buyer came back from the provider: trust only the provider's live answer, and apply it."""
        async with self._uow(read_only=True) as uow:
            checkout = await uow.checkouts.get(checkout_id)
        if checkout is None:
            raise NotFound("checkout not found")
        if checkout.status is not CheckoutStatus.PAID:
            live = await self._gateway.checkout_status(checkout)
            if live is not CheckoutStatus.PAID:
                if live is CheckoutStatus.EXPIRED:
                    await self._mark(checkout_id, live)
                raise NotPaidYet(
                    "the payment is not complete yet", checkout_id=checkout_id, status=live.value
                )
        return await self.complete(checkout_id)

    async def _reusable_checkout(self, mailbox: Mailbox) -> Checkout | None:
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            latest = await uow.checkouts.latest_for_mailbox(mailbox.id)
        if latest is not None and latest.is_open(now):
            live = await self._gateway.checkout_status(latest)
            if live is CheckoutStatus.OPEN:
                return latest
            if live is CheckoutStatus.PAID:
                await self.complete(latest.id)
                return None
            await self._mark(latest.id, live)
        return await self._new_checkout(mailbox)

    async def _new_checkout(self, mailbox: Mailbox) -> Checkout:
        request = CheckoutRequest(mailbox.id, mailbox.billing_email, MONTHS_PER_PAYMENT)
        opened = await self._gateway.create_checkout(request)
        checkout = Checkout(
            id=opened.id,
            mailbox_id=mailbox.id,
            provider=self._gateway.provider,
            url=opened.url,
            status=CheckoutStatus.OPEN,
            months=MONTHS_PER_PAYMENT,
            created_at=self._clock.now(),
            expires_at=opened.expires_at,
        )
        async with self._uow() as uow:
            await uow.checkouts.add(checkout)
            await uow.commit()
        log.info(
            "checkout.opened checkout=%s mailbox=%s provider=%s", checkout.id, mailbox.id, checkout.provider
        )
        return checkout

    async def _mark(self, checkout_id: str, status: CheckoutStatus) -> None:
        async with self._uow() as uow:
            await uow.checkouts.mark(checkout_id, status, self._clock.now())
            await uow.commit()

    async def _send_link(
        self, mailbox: Mailbox, checkout: Checkout, billing_email: str, renewal: bool
    ) -> None:
        notification = compose(
            "renewal_link" if renewal else "payment_link",
            billing_email,
            RENEWAL_LINK_SUBJECT if renewal else PAYMENT_LINK_SUBJECT,
            dedupe_key=f"payment_link:{checkout.id}:{billing_email}",
            address=mailbox.address(self._mail_domain),
            payment_url=checkout.url,
        )
        async with self._uow() as uow:
            # Claiming is safe to repeat, so a repeated claim must not repeat the e-mail every time.
            if not await queue_once(uow, notification, self._clock, self._link_resend_interval):
                return
            await uow.commit()


async def apply_checkout_payment(uow: UnitOfWork, checkout_id: str, now: datetime) -> Mailbox:
    """Mark a checkout paid and extend its mailbox, inside the caller's transaction; once per checkout.

    A mailbox paid before is renewed, and its agent is told (`mailbox.renewed`)."""
    checkout = await uow.checkouts.get(checkout_id)
    if checkout is None:
        raise NotFound("checkout not found")
    mailbox = await uow.mailboxes.get(checkout.mailbox_id)
    if mailbox is None:
        raise NotFound("mailbox not found")
    if not await uow.checkouts.mark(checkout_id, CheckoutStatus.PAID, now):
        return mailbox
    extended = mailbox.extend(checkout.months, now)
    if mailbox.account_id is not None:
        extended = await apply_account_payment(uow, mailbox, checkout.months, now)
    await uow.mailboxes.update(extended)
    if mailbox.paid_at is not None and extended.expires_at is not None:
        uow.record(mailbox_event(mailbox.id, MAILBOX_RENEWED, now, extended.expires_at))
    log.info(
        "payment.applied checkout=%s mailbox=%s expires_at=%s", checkout_id, mailbox.id, extended.expires_at
    )
    return extended
