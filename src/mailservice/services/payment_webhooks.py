"""Provider webhooks: verify, then apply each event once.

The event id is recorded in the same transaction as the change the event causes, so a delivery that is
replayed, duplicated or raced by a second node changes nothing; a delivery that fails half-way is rolled
back whole and the provider's retry applies it."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from datetime import timedelta

from mailservice.domain.errors import NotConfigured
from mailservice.domain.payment import CheckoutStatus, PaymentEvent, PaymentEventAction
from mailservice.ports import Clock, PaymentGateway, UnitOfWork, UnitOfWorkFactory, WebhookVerifier
from mailservice.services.payments import apply_checkout_payment

log = logging.getLogger(__name__)

# Providers retry a failed delivery for about three days, and Stripe lets an event of the last 30 days
# be resent by hand; an event id is remembered a little longer than any of those could arrive again.
EVENT_MEMORY = timedelta(days=35)


class WebhookOutcome(enum.StrEnum):
    PROCESSED = "processed"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"


class PaymentWebhooks:
    def __init__(
        self,
        verifiers: Mapping[str, WebhookVerifier],
        gateway: PaymentGateway,
        uow: UnitOfWorkFactory,
        clock: Clock,
    ) -> None:
        self._verifiers = dict(verifiers)
        self._gateway = gateway
        self._uow = uow
        self._clock = clock

    async def forget_old_events(self) -> int:
        """Drop the ids of events too old to be delivered again."""
        async with self._uow() as uow:
            forgotten = await uow.payment_events.forget_before(self._clock.now() - EVENT_MEMORY)
            await uow.commit()
        if forgotten:
            log.info("webhook.events_forgotten count=%d", forgotten)
        return forgotten

    async def receive(self, provider: str, body: bytes, headers: Mapping[str, str]) -> WebhookOutcome:
        verifier = self._verifiers.get(provider)
        if verifier is None:
            raise NotConfigured(f"{provider} webhooks are not configured on this server")
        event = verifier.parse(body, headers)
        outcome = await self._apply(event, await self._live_paid(event))
        log.info(
            "webhook.%s provider=%s event=%s type=%s action=%s",
            outcome.value,
            event.provider,
            event.event_id,
            event.event_type,
            event.action.value,
        )
        return outcome

    async def _live_paid(self, event: PaymentEvent) -> bool:
        """For a checkout event, whether the provider itself says the checkout is paid (asked before any
        transaction is opened, so a slow provider holds no database lock)."""
        if event.action is not PaymentEventAction.CHECKOUT_CHANGED or event.checkout_id is None:
            return event.action is PaymentEventAction.CHECKOUT_PAID
        async with self._uow(read_only=True) as uow:
            checkout = await uow.checkouts.get(event.checkout_id)
        if checkout is None or checkout.status is CheckoutStatus.PAID:
            return checkout is not None
        return await self._gateway.checkout_status(checkout) is CheckoutStatus.PAID

    async def _apply(self, event: PaymentEvent, paid: bool) -> WebhookOutcome:
        now = self._clock.now()
        async with self._uow() as uow:
            if not await uow.payment_events.record(event.provider, event.event_id, event.event_type, now):
                return WebhookOutcome.DUPLICATE
            changed = await self._change(uow, event, paid)
            await uow.commit()
        return WebhookOutcome.PROCESSED if changed else WebhookOutcome.IGNORED

    async def _change(self, uow: UnitOfWork, event: PaymentEvent, paid: bool) -> bool:
        now = self._clock.now()
        if event.checkout_id is not None and paid:
            if await uow.checkouts.get(event.checkout_id) is None:
                log.warning(
                    "webhook.unknown_checkout provider=%s checkout=%s", event.provider, event.checkout_id
                )
                return False
            await apply_checkout_payment(uow, event.checkout_id, now)
            return True
        if (
            event.action is PaymentEventAction.RENEWED
            and event.checkout_id is not None
            and await uow.checkouts.get(event.checkout_id) is not None
        ):
            await apply_checkout_payment(uow, event.checkout_id, now)  # a no-op once it was applied
        if event.mailbox_id is None or event.action not in (
            PaymentEventAction.RENEWED,
            PaymentEventAction.REVOKED,
        ):
            return False
        mailbox = await uow.mailboxes.get(event.mailbox_id)
        if mailbox is None:
            log.warning("webhook.unknown_mailbox provider=%s mailbox=%s", event.provider, event.mailbox_id)
            return False
        if event.action is PaymentEventAction.REVOKED:
            updated = mailbox.revoke(now)
        else:
            assert event.period_end is not None
            updated = mailbox.run_until(event.period_end, now)
        if updated != mailbox:
            await uow.mailboxes.update(updated)
            log.info(
                "mailbox.%s mailbox=%s expires_at=%s", event.action.value, mailbox.id, updated.expires_at
            )
        return True
