"""The legacy account flow: accounts, rotating tokens and recovery by e-mailed one-time link.

Every token is random and stored only as its SHA-256 hash. A refresh token works once (and rotates the api
token); a recovery code works once, within ten minutes, and revokes every older refresh token.
"""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import quote

from mailservice.domain.account import (
    API_TOKEN_PREFIX,
    RECOVERY_CODE_PREFIX,
    RECOVERY_CODE_TTL,
    REFRESH_TOKEN_PREFIX,
    REFRESH_TOKEN_TTL,
    Account,
    AccountCredentials,
    AccountTokenKind,
    new_account,
    recovery_sent_before,
)
from mailservice.domain.email_address import normalize_billing_email
from mailservice.domain.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.notification import Notification
from mailservice.domain.secret_token import new_secret_token, token_hash
from mailservice.ports import Clock, UnitOfWork, UnitOfWorkFactory
from mailservice.services.notifications import compose

log = logging.getLogger(__name__)

RECOVERY_SUBJECT = "Recover your mailservice account"
RECOVERY_PATH = "/v1/accounts/recovery/complete"


class AccountService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        public_base_url: str,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._public_base_url = public_base_url

    async def create(self, owner_email: str) -> AccountCredentials | None:
        """A new account and its first tokens; None when the e-mail has one (a recovery link is sent)."""
        email = normalize_billing_email(owner_email, "owner_email")
        now = self._clock.now()
        account = new_account(email, now)
        try:
            async with self._uow() as uow:
                if await uow.accounts.get_by_email(email) is not None:
                    raise Conflict("account exists")
                credentials = await _issue(uow, account, now, first=True)
                await uow.commit()
        except Conflict:
            await self.start_recovery(email)
            return None
        log.info("account.created account=%s", account.id)
        return credentials

    async def refresh(self, refresh_token: str) -> AccountCredentials:
        """Spend a refresh token for a new api token and a new refresh token."""
        now = self._clock.now()
        async with self._uow() as uow:
            account = await _spend(uow, refresh_token, AccountTokenKind.REFRESH, now)
            if account is None:
                raise AuthenticationFailed("authentication failed")
            credentials = await _issue(uow, account, now)
            await uow.commit()
        return credentials

    async def start_recovery(self, owner_email: str) -> None:
        """E-mail a one-time recovery link; silent for unknown e-mails and within a minute of the last one."""
        try:
            email = normalize_billing_email(owner_email, "owner_email")
        except InvalidInput:
            return
        now = self._clock.now()
        async with self._uow() as uow:
            account = await uow.accounts.get_by_email(email)
            if account is None or not await uow.accounts.claim_recovery_slot(
                account.id, recovery_sent_before(now), now
            ):
                return
            code = new_secret_token(RECOVERY_CODE_PREFIX)
            await uow.account_tokens.revoke_all(account.id, AccountTokenKind.RECOVERY, now)
            await uow.account_tokens.add(
                token_hash(code), account.id, AccountTokenKind.RECOVERY, now + RECOVERY_CODE_TTL, now
            )
            await uow.outbox.enqueue(self._recovery_mail(account, code), now)
            await uow.commit()
        log.info("account.recovery_sent account=%s", account.id)

    async def recovery_code_usable(self, code: str) -> bool:
        """Whether a recovery link would work now; looking does not spend it."""
        async with self._uow(read_only=True) as uow:
            found = await uow.account_tokens.usable_account(
                token_hash(code), AccountTokenKind.RECOVERY, self._clock.now()
            )
        return found is not None

    async def complete_recovery(self, code: str) -> AccountCredentials:
        """Spend the recovery code: new tokens, and every older refresh token revoked."""
        now = self._clock.now()
        async with self._uow() as uow:
            account = await _spend(uow, code, AccountTokenKind.RECOVERY, now)
            if account is None:
                raise AuthenticationFailed("recovery token is invalid, used or expired")
            await uow.account_tokens.revoke_all(account.id, AccountTokenKind.REFRESH, now)
            credentials = await _issue(uow, account, now)
            await uow.commit()
        log.info("account.recovered account=%s", account.id)
        return credentials

    async def authenticate(self, api_token: str | None) -> Account:
        if not api_token or not api_token.strip():
            raise AuthenticationFailed("invalid api token")
        async with self._uow(read_only=True) as uow:
            account = await uow.accounts.get_by_api_token_hash(token_hash(api_token))
        if account is None:
            raise AuthenticationFailed("invalid api token")
        return account

    def _recovery_mail(self, account: Account, code: str) -> Notification:
        url = f"{self._public_base_url}{RECOVERY_PATH}?token={quote(code)}"
        return compose(
            "recovery_link",
            account.owner_email,
            RECOVERY_SUBJECT,
            dedupe_key=None,
            owner_email=account.owner_email,
            recovery_url=url,
        )


async def apply_account_payment(uow: UnitOfWork, mailbox: Mailbox, months: int, now: datetime) -> Mailbox:
    """A paid checkout of an account's mailbox extends the account; every mailbox of it follows."""
    assert mailbox.account_id is not None
    account = await uow.accounts.get(mailbox.account_id)
    if account is None:
        raise NotFound("account not found")
    extended = account.extend_subscription(months, now)
    assert extended.subscription_expires_at is not None
    await uow.accounts.update(extended)
    await uow.accounts.activate_mailboxes(account.id, now, extended.subscription_expires_at)
    return mailbox.paid_until(extended.subscription_expires_at, now)


async def _spend(uow: UnitOfWork, token: str, kind: AccountTokenKind, now: datetime) -> Account | None:
    if not token.strip():
        return None
    account_id = await uow.account_tokens.use(token_hash(token), kind, now)
    return None if account_id is None else await uow.accounts.get(account_id)


async def _issue(uow: UnitOfWork, account: Account, now: datetime, first: bool = False) -> AccountCredentials:
    """A new api token (replacing the old one) and a new refresh token."""
    api_token = new_secret_token(API_TOKEN_PREFIX)
    refresh_token = new_secret_token(REFRESH_TOKEN_PREFIX)
    if first:
        await uow.accounts.add(account, token_hash(api_token))
    else:
        await uow.accounts.set_api_token_hash(account.id, token_hash(api_token), now)
    await uow.account_tokens.add(
        token_hash(refresh_token), account.id, AccountTokenKind.REFRESH, now + REFRESH_TOKEN_TTL, now
    )
    return AccountCredentials(account, api_token, refresh_token)
