"""One database transaction shared by every repository, and the events its changes recorded.

The events are published once the transaction has committed (after the connection, and on SQLite the
write turn, are given back); a rollback drops them.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Self

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from mailservice.adapters.db.account_tokens import SqlAccountTokenRepository
from mailservice.adapters.db.accounts import SqlAccountRepository
from mailservice.adapters.db.admin import SqlAdminRepository
from mailservice.adapters.db.challenges import SqlUsedChallengeRepository
from mailservice.adapters.db.checkouts import SqlCheckoutRepository
from mailservice.adapters.db.database import Database
from mailservice.adapters.db.event_log import SqlEventLogRepository, append_events
from mailservice.adapters.db.folders import SqlFolderRepository
from mailservice.adapters.db.mailboxes import SqlMailboxRepository
from mailservice.adapters.db.messages import SqlMessageRepository
from mailservice.adapters.db.outbox import SqlOutboxRepository
from mailservice.adapters.db.payment_events import SqlPaymentEventRepository
from mailservice.adapters.db.sealed_text import TextSealer
from mailservice.adapters.db.support_messages import SqlSupportMessageRepository
from mailservice.adapters.db.webhooks import SqlWebhookRepository
from mailservice.domain.agent_events import AgentEvent
from mailservice.domain.events import DomainEvent, WebhookQueued
from mailservice.ports import (
    AccountRepository,
    AccountTokenRepository,
    AdminRepository,
    CheckoutRepository,
    EventLogRepository,
    EventPublisher,
    FolderRepository,
    MailboxRepository,
    MessageRepository,
    OutboxRepository,
    PaymentEventRepository,
    SupportMessageRepository,
    UsedChallengeRepository,
    WebhookRepository,
)


class SqlUnitOfWork:
    mailboxes: MailboxRepository
    folders: FolderRepository
    messages: MessageRepository
    checkouts: CheckoutRepository
    payment_events: PaymentEventRepository
    challenges: UsedChallengeRepository
    outbox: OutboxRepository
    accounts: AccountRepository
    account_tokens: AccountTokenRepository
    support_messages: SupportMessageRepository
    admin: AdminRepository
    event_log: EventLogRepository
    webhooks: WebhookRepository

    def __init__(
        self, database: Database, publisher: EventPublisher, read_only: bool, sealer: TextSealer
    ) -> None:
        self._database = database
        self._publisher = publisher
        self._read_only = read_only
        self._sealer = sealer
        self._recorded: list[DomainEvent] = []
        self._committed: list[DomainEvent] = []
        self._scope: AbstractAsyncContextManager[AsyncConnection] | None = None
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None

    async def __aenter__(self) -> Self:
        self._scope = self._database.connection(self._read_only)
        self._connection = await self._scope.__aenter__()
        self._transaction = await self._connection.begin()
        self.mailboxes = SqlMailboxRepository(self._connection, self.record)
        self.folders = SqlFolderRepository(self._connection)
        self.messages = SqlMessageRepository(self._connection, self.record)
        self.checkouts = SqlCheckoutRepository(self._connection)
        self.payment_events = SqlPaymentEventRepository(self._connection)
        self.challenges = SqlUsedChallengeRepository(self._connection)
        self.outbox = SqlOutboxRepository(self._connection, self._sealer, self.record)
        self.accounts = SqlAccountRepository(self._connection)
        self.account_tokens = SqlAccountTokenRepository(self._connection)
        self.support_messages = SqlSupportMessageRepository(self._connection)
        self.admin = SqlAdminRepository(self._connection, self.record)
        self.event_log = SqlEventLogRepository(self._connection)
        self.webhooks = SqlWebhookRepository(self._connection, self.record)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._scope is not None and self._transaction is not None
        try:
            if self._transaction.is_active:
                await self._transaction.rollback()
        finally:
            self._recorded.clear()
            await self._scope.__aexit__(exc_type, exc, tb)
        committed, self._committed = self._committed, []
        if committed:
            await self._publisher.publish(committed)

    def record(self, event: DomainEvent) -> None:
        self._recorded.append(event)

    async def commit(self) -> None:
        """Write the recorded agent events into the event log, then commit them with the change."""
        assert self._transaction is not None and self._connection is not None
        logged = [event for event in self._recorded if isinstance(event, AgentEvent)]
        if logged:
            queued: bool = await self._connection.run_sync(_append_events, logged)
            if queued:
                self._recorded.append(WebhookQueued())
        await self._transaction.commit()
        self._committed += self._recorded
        self._recorded.clear()


def _append_events(connection: Connection, events: list[AgentEvent], /) -> bool:
    return append_events(connection, events)


class SqlUnitOfWorkFactory:
    """`publisher` sends the events a unit of work recorded, after its commit; `sealer` seals what must
    not be readable at rest (queued notification bodies)."""

    def __init__(self, database: Database, publisher: EventPublisher, sealer: TextSealer) -> None:
        self._database = database
        self._publisher = publisher
        self._sealer = sealer

    def __call__(self, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._database, self._publisher, read_only, self._sealer)
