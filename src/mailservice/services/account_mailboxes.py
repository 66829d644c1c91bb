"""Mailboxes of the legacy account flow: listed, created and read with the account's api token."""

from __future__ import annotations

import logging

from mailservice.domain.account import Account, new_account_mailbox
from mailservice.domain.errors import Conflict, Forbidden, NotFound
from mailservice.domain.mailbox import Mailbox
from mailservice.keyed_locks import KeyedLocks
from mailservice.ports import Clock, UnitOfWorkFactory
from mailservice.services.credentials import Credentials
from mailservice.services.mailboxes import ClaimResult, MailboxService
from mailservice.services.payments import PaymentService

log = logging.getLogger(__name__)

_CREATE_ATTEMPTS = 3


class AccountMailboxes:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        mailboxes: MailboxService,
        payments: PaymentService,
        credentials: Credentials,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._mailboxes = mailboxes
        self._payments = payments
        self._credentials = credentials
        self._locks = KeyedLocks()

    async def list(self, account: Account) -> list[ClaimResult]:
        async with self._uow(read_only=True) as uow:
            found = await uow.accounts.mailboxes(account.id)
        return [await self._view(mailbox, created=False) for mailbox in found]

    async def get(self, account: Account, mailbox_id: str) -> ClaimResult:
        mailbox = await self._mailboxes.current(mailbox_id)
        if mailbox is None:
            raise NotFound("mailbox not found")
        if mailbox.account_id != account.id:
            raise Forbidden("mailbox belongs to another account")
        return await self._view(mailbox, created=False)

    async def create(self, account: Account) -> ClaimResult:
        """A new mailbox; without a running subscription, the account's unpaid one is reused (one link)."""
        async with self._locks.hold(account.id):  # concurrent requests of one account share one mailbox
            return await self._create(account)

    async def _create(self, account: Account) -> ClaimResult:
        async with self._uow(read_only=True) as uow:
            current = await uow.accounts.get(account.id)
            pending = await uow.accounts.pending_mailbox(account.id)
        account = current or account
        if pending is not None and not account.subscription_active(self._clock.now()):
            return await self._with_payment(pending, created=False)
        mailbox = await self._add(account)
        if mailbox.is_usable(self._clock.now()):
            return await self._view(mailbox, created=True)
        return await self._with_payment(mailbox, created=True)

    async def _add(self, account: Account) -> Mailbox:
        for _ in range(_CREATE_ATTEMPTS):
            mailbox = new_account_mailbox(account, self._clock.now())
            try:
                async with self._uow() as uow:
                    await uow.mailboxes.add(mailbox)
                    await uow.folders.create_inbox(mailbox.id, mailbox.created_at)
                    await uow.commit()
            except Conflict:
                continue  # the random login collided
            log.info("mailbox.created mailbox=%s account=%s", mailbox.id, account.id)
            return mailbox
        raise Conflict("could not create the mailbox; try again")

    async def _with_payment(self, mailbox: Mailbox, created: bool) -> ClaimResult:
        checkout = await self._payments.request_payment(mailbox, mailbox.billing_email)
        if checkout is None:  # it turned out to be paid already
            current = await self._mailboxes.current(mailbox.id)
            return await self._view(current or mailbox, created)
        return ClaimResult(mailbox, created, False, checkout.url, None)

    async def _view(self, mailbox: Mailbox, created: bool) -> ClaimResult:
        if mailbox.is_usable(self._clock.now()):
            return ClaimResult(mailbox, created, True, None, self._credentials.access_token(mailbox))
        payment_url = await self._payments.open_checkout_url(mailbox)
        return ClaimResult(mailbox, created, False, payment_url, None)
