"""Account repository over the `accounts` table, and the account's own mailboxes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.mailboxes import mailbox_of_row
from mailservice.adapters.db.tables import accounts, mailboxes
from mailservice.domain.account import Account
from mailservice.domain.errors import Conflict
from mailservice.domain.mailbox import Mailbox, MailboxStatus


class SqlAccountRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, account: Account, api_token_hash: str) -> None:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(
                    accounts.insert().values(**_row(account), api_token_hash=api_token_hash)
                )
        except IntegrityError as error:
            raise Conflict("an account with this owner e-mail already exists") from error

    async def get(self, account_id: str) -> Account | None:
        return await self._one(accounts.c.id == account_id)

    async def get_by_email(self, owner_email: str) -> Account | None:
        return await self._one(accounts.c.owner_email == owner_email)

    async def get_by_api_token_hash(self, api_token_hash: str) -> Account | None:
        return await self._one(accounts.c.api_token_hash == api_token_hash)

    async def set_api_token_hash(self, account_id: str, api_token_hash: str, now: datetime) -> None:
        await self._connection.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(api_token_hash=api_token_hash, updated_at=now)
        )

    async def update(self, account: Account) -> None:
        values = _row(account)
        del values["id"]
        await self._connection.execute(update(accounts).where(accounts.c.id == account.id).values(**values))

    async def claim_recovery_slot(self, account_id: str, sent_before: datetime, now: datetime) -> bool:
        """Record a recovery e-mail unless one was sent after `sent_before`; False when one was."""
        result = await self._connection.execute(
            update(accounts)
            .where(
                accounts.c.id == account_id,
                or_(accounts.c.recovery_sent_at.is_(None), accounts.c.recovery_sent_at <= sent_before),
            )
            .values(recovery_sent_at=now)
        )
        return bool(result.rowcount)

    async def mailboxes(self, account_id: str) -> list[Mailbox]:
        query = select(mailboxes).where(mailboxes.c.account_id == account_id).order_by(mailboxes.c.created_at)
        return [mailbox_of_row(row) for row in (await self._connection.execute(query)).mappings()]

    async def pending_mailbox(self, account_id: str) -> Mailbox | None:
        query = (
            select(mailboxes)
            .where(
                mailboxes.c.account_id == account_id,
                mailboxes.c.status == MailboxStatus.PENDING_PAYMENT.value,
            )
            .order_by(mailboxes.c.created_at)
            .limit(1)
        )
        row = (await self._connection.execute(query)).mappings().first()
        return None if row is None else mailbox_of_row(row)

    async def activate_mailboxes(self, account_id: str, paid_at: datetime, expires_at: datetime) -> None:
        """Every mailbox of the account follows its subscription."""
        await self._connection.execute(
            update(mailboxes)
            .where(mailboxes.c.account_id == account_id)
            .values(
                status=MailboxStatus.ACTIVE.value, paid_at=paid_at, expires_at=expires_at, updated_at=paid_at
            )
        )

    async def _one(self, condition: Any) -> Account | None:
        row = (await self._connection.execute(select(accounts).where(condition))).mappings().first()
        return None if row is None else _account(row)


def _row(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "owner_email": account.owner_email,
        "subscription_expires_at": account.subscription_expires_at,
        "recovery_sent_at": account.recovery_sent_at,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


def _account(row: Any) -> Account:
    return Account(
        id=row["id"],
        owner_email=row["owner_email"],
        subscription_expires_at=row["subscription_expires_at"],
        recovery_sent_at=row["recovery_sent_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
