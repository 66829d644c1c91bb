"""The wired use cases, as the edges (HTTP, SMTP, IMAP, CLI) receive them from the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from mailservice.ports import Clock, EventBus
from mailservice.services.account_mailboxes import AccountMailboxes
from mailservice.services.accounts import AccountService
from mailservice.services.admin import AdminService
from mailservice.services.credentials import Credentials
from mailservice.services.delivery import DeliveryService
from mailservice.services.event_feed import EventFeed
from mailservice.services.inbox import InboxService
from mailservice.services.key_proofs import KeyProofs
from mailservice.services.mail_access import MailAccess
from mailservice.services.mailboxes import MailboxService
from mailservice.services.notifications import OutboxWorker
from mailservice.services.payment_webhooks import PaymentWebhooks
from mailservice.services.payments import PaymentService
from mailservice.services.reconcile import PaymentReconciler
from mailservice.services.reminders import ExpiryNotices
from mailservice.services.renewals import RenewalService
from mailservice.services.retention import RetentionService
from mailservice.services.support import SupportService
from mailservice.services.webhooks import WebhookService, WebhookWorker


@dataclass(frozen=True)
class Services:
    clock: Clock
    proofs: KeyProofs
    mailboxes: MailboxService
    payments: PaymentService
    credentials: Credentials
    outbox: OutboxWorker
    delivery: DeliveryService
    inbox: InboxService
    events: EventBus
    mail_access: MailAccess
    accounts: AccountService
    account_mailboxes: AccountMailboxes
    support: SupportService
    admin: AdminService
    payment_webhooks: PaymentWebhooks
    renewals: RenewalService
    expiry_notices: ExpiryNotices
    reconciler: PaymentReconciler
    webhooks: WebhookService
    webhook_worker: WebhookWorker
    event_feed: EventFeed
    retention: RetentionService
