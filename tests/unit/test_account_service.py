"""The legacy account flow's rules at the service layer, over the in-memory unit of work: tokens that
work once and expire, recovery links one a minute that replace each other. The HTTP shape of the same
flow is tested on both databases in tests/integration/test_legacy_accounts.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from mailservice.domain.errors import AuthenticationFailed
from tests.support.service_wiring import Wiring

OWNER = "owner@example.com"


@pytest.fixture
def wiring() -> Wiring:
    return Wiring()


def latest_recovery_code(wiring: Wiring) -> str:
    mails = wiring.queued("recovery_link")
    assert mails, "no recovery e-mail was queued"
    found = re.search(r"/v1/accounts/recovery/complete\?token=(\S+)", mails[-1].text)
    assert found is not None, mails[-1].text
    return found.group(1)


async def test_creating_an_account_twice_mails_a_recovery_link_instead(wiring: Wiring) -> None:
    created = await wiring.accounts.create(" Owner@Example.com ")

    again = await wiring.accounts.create(OWNER)

    assert created is not None and created.account.owner_email == OWNER
    assert again is None
    assert [mail.recipient for mail in wiring.queued("recovery_link")] == [OWNER]
    assert (await wiring.accounts.authenticate(created.api_token)).id == created.account.id


async def test_a_refresh_token_works_once_and_replaces_the_api_token(wiring: Wiring) -> None:
    created = await wiring.accounts.create(OWNER)
    assert created is not None

    refreshed = await wiring.accounts.refresh(created.refresh_token)

    with pytest.raises(AuthenticationFailed):
        await wiring.accounts.refresh(created.refresh_token)
    with pytest.raises(AuthenticationFailed):
        await wiring.accounts.authenticate(created.api_token)
    assert await wiring.accounts.authenticate(refreshed.api_token) == created.account


async def test_a_refresh_token_expires_after_thirty_days(wiring: Wiring) -> None:
    created = await wiring.accounts.create(OWNER)
    assert created is not None
    wiring.clock.advance(timedelta(days=30, seconds=1))

    with pytest.raises(AuthenticationFailed):
        await wiring.accounts.refresh(created.refresh_token)


async def test_recovery_sends_at_most_one_link_per_minute(wiring: Wiring) -> None:
    await wiring.accounts.create(OWNER)

    for _ in range(3):
        await wiring.accounts.start_recovery(OWNER)
    wiring.clock.advance(timedelta(minutes=1))
    await wiring.accounts.start_recovery(OWNER)
    await wiring.accounts.start_recovery("unknown@example.com")
    await wiring.accounts.start_recovery("not an address")

    assert len(wiring.queued("recovery_link")) == 2
    assert wiring.outbox_wakes == 2


async def test_a_recovery_code_expires_after_ten_minutes(wiring: Wiring) -> None:
    await wiring.accounts.create(OWNER)
    await wiring.accounts.start_recovery(OWNER)
    code = latest_recovery_code(wiring)
    wiring.clock.advance(timedelta(minutes=10, seconds=1))

    assert not await wiring.accounts.recovery_code_usable(code)
    with pytest.raises(AuthenticationFailed):
        await wiring.accounts.complete_recovery(code)


async def test_a_newer_recovery_link_replaces_the_older_one(wiring: Wiring) -> None:
    await wiring.accounts.create(OWNER)
    await wiring.accounts.start_recovery(OWNER)
    older = latest_recovery_code(wiring)
    wiring.clock.advance(timedelta(minutes=2))
    await wiring.accounts.start_recovery(OWNER)
    newer = latest_recovery_code(wiring)

    with pytest.raises(AuthenticationFailed):
        await wiring.accounts.complete_recovery(older)
    assert (await wiring.accounts.complete_recovery(newer)).account.owner_email == OWNER


async def test_recovery_works_once_and_revokes_older_refresh_tokens(wiring: Wiring) -> None:
    created = await wiring.accounts.create(OWNER)
    assert created is not None
    await wiring.accounts.start_recovery(OWNER)
    code = latest_recovery_code(wiring)

    looked = await wiring.accounts.recovery_code_usable(code)
    recovered = await wiring.accounts.complete_recovery(code)

    assert looked
    with pytest.raises(AuthenticationFailed):
        await wiring.accounts.complete_recovery(code)
    with pytest.raises(AuthenticationFailed):
        await wiring.accounts.refresh(created.refresh_token)
    assert (await wiring.accounts.refresh(recovered.refresh_token)).account.id == created.account.id
