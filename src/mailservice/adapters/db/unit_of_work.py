"""One database transaction shared by every repository."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from mailservice.adapters.db.challenges import SqlUsedChallengeRepository
from mailservice.adapters.db.checkouts import SqlCheckoutRepository
from mailservice.adapters.db.folders import SqlFolderRepository
from mailservice.adapters.db.mailboxes import SqlMailboxRepository
from mailservice.adapters.db.outbox import SqlOutboxRepository
from mailservice.ports import (
    CheckoutRepository,
    FolderRepository,
    MailboxRepository,
    OutboxRepository,
    UsedChallengeRepository,
)


class SqlUnitOfWork:
    mailboxes: MailboxRepository
    folders: FolderRepository
    checkouts: CheckoutRepository
    challenges: UsedChallengeRepository
    outbox: OutboxRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None

    async def __aenter__(self) -> Self:
        self._connection = await self._engine.connect()
        self._transaction = await self._connection.begin()
        self.mailboxes = SqlMailboxRepository(self._connection)
        self.folders = SqlFolderRepository(self._connection)
        self.checkouts = SqlCheckoutRepository(self._connection)
        self.challenges = SqlUsedChallengeRepository(self._connection)
        self.outbox = SqlOutboxRepository(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None and self._transaction is not None
        try:
            if self._transaction.is_active:
                await self._transaction.rollback()
        finally:
            await self._connection.close()

    async def commit(self) -> None:
        assert self._transaction is not None
        await self._transaction.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine)
