"""Payment reconciliation: ask the provider about every checkout still open here, and apply paid ones.

A lost or never-configured webhook leaves a paid checkout open in our records; the operator's reconcile
(`POST /admin/payments/reconcile`, `mailservice admin reconcile`) finds it. It speaks only to the
`PaymentGateway` port, so it works the same with every provider.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mailservice.domain.errors import PaymentProviderUnavailable
from mailservice.domain.payment import Checkout, CheckoutStatus
from mailservice.ports import Clock, PaymentGateway, UnitOfWorkFactory
from mailservice.services.payments import PaymentService

log = logging.getLogger(__name__)

PAGE = 100


@dataclass
class ReconcileResult:
    checked: int = 0  # asked the provider about
    applied: int = 0  # reported paid, and the payment is now applied to its mailbox
    still_open: int = 0  # the buyer may still pay
    expired: int = 0  # reported expired, failed or unknown: recorded as expired, never asked again
    failed: int = 0  # the provider could not answer; asked again at the next reconcile
    skipped: int = 0  # opened with another provider than the one configured now


class PaymentReconciler:
    def __init__(
        self, gateway: PaymentGateway, payments: PaymentService, uow: UnitOfWorkFactory, clock: Clock
    ) -> None:
        self._gateway = gateway
        self._payments = payments
        self._uow = uow
        self._clock = clock

    async def reconcile(self) -> ReconcileResult:
        """Every checkout recorded open, including ones past their expiry (a payment may have beaten it)."""
        result = ReconcileResult()
        after = ""
        while True:
            async with self._uow(read_only=True) as uow:
                page = await uow.checkouts.open_after(after, PAGE)
            for checkout in page:
                await self._reconcile_one(checkout, result)
            if len(page) < PAGE:
                break
            after = page[-1].id
        log.info("payments.reconciled %s", result)
        return result

    async def _reconcile_one(self, checkout: Checkout, result: ReconcileResult) -> None:
        if checkout.provider != self._gateway.provider:
            result.skipped += 1
            return
        result.checked += 1
        try:
            live = await self._gateway.checkout_status(checkout)
        except PaymentProviderUnavailable as error:
            log.warning("payments.reconcile_failed checkout=%s error=%s", checkout.id, error)
            result.failed += 1
            return
        if live is CheckoutStatus.PAID:
            await self._payments.complete(checkout.id)
            result.applied += 1
        elif live is CheckoutStatus.EXPIRED:
            async with self._uow() as uow:
                await uow.checkouts.mark(checkout.id, CheckoutStatus.EXPIRED, self._clock.now())
                await uow.commit()
            result.expired += 1
        else:
            result.still_open += 1
