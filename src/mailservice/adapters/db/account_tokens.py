"""Single-use account tokens (refresh tokens, recovery codes), kept only as SHA-256 hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.tables import account_tokens
from mailservice.domain.account import AccountTokenKind


class SqlAccountTokenRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(
        self, token_hash: str, account_id: str, kind: AccountTokenKind, expires_at: datetime, now: datetime
    ) -> None:
        await self._connection.execute(
            account_tokens.insert().values(
                token_hash=token_hash,
                account_id=account_id,
                kind=kind.value,
                expires_at=expires_at,
                created_at=now,
            )
        )

    async def usable_account(self, token_hash: str, kind: AccountTokenKind, now: datetime) -> str | None:
        """The account of an unused, unexpired token, without using it."""
        query = select(account_tokens.c.account_id).where(
            account_tokens.c.token_hash == token_hash,
            account_tokens.c.kind == kind.value,
            account_tokens.c.used_at.is_(None),
            account_tokens.c.expires_at > now,
        )
        return (await self._connection.execute(query)).scalar_one_or_none()

    async def use(self, token_hash: str, kind: AccountTokenKind, now: datetime) -> str | None:
        """Spend the token; its account, or None when it is unknown, used or expired (a race has one winner)."""
        account_id = await self.usable_account(token_hash, kind, now)
        if account_id is None:
            return None
        result = await self._connection.execute(
            update(account_tokens)
            .where(account_tokens.c.token_hash == token_hash, account_tokens.c.used_at.is_(None))
            .values(used_at=now)
        )
        return account_id if result.rowcount else None

    async def revoke_all(self, account_id: str, kind: AccountTokenKind, now: datetime) -> int:
        result = await self._connection.execute(
            update(account_tokens)
            .where(
                account_tokens.c.account_id == account_id,
                account_tokens.c.kind == kind.value,
                account_tokens.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return int(result.rowcount)
