"""UIDVALIDITY is never given twice to one folder name (RFC 3501 section 2.3.1.1), however fast a
client deletes and re-creates it, and the clock never makes it go back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from mailservice.bootstrap import Runtime
from mailservice.domain.mail_session import MailSession
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey


@pytest.fixture
async def session(runtime: Runtime, client: httpx.AsyncClient) -> AsyncIterator[MailSession]:
    details = await claim_and_pay(client, AgentKey.generate())
    yield await runtime.services.mail_access.login(
        str(details["email"]), str(details["password"]), "127.0.0.1"
    )


async def test_a_folder_deleted_and_created_again_in_the_same_second_gets_a_new_uidvalidity(
    session: MailSession,
) -> None:
    seen = []
    for _ in range(3):
        await session.create_folder("probe-del")
        seen.append((await session.status("probe-del")).uidvalidity)
        await session.delete_folder("probe-del")

    assert len(set(seen)) == 3
    assert seen == sorted(seen)


async def test_every_folder_of_a_mailbox_gets_its_own_uidvalidity(session: MailSession) -> None:
    for name in ("a", "b", "c/d"):
        await session.create_folder(name)

    values = [(await session.status(name)).uidvalidity for name in ("INBOX", "a", "b", "c", "c/d")]

    assert len(set(values)) == len(values)
