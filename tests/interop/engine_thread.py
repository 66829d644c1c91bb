"""Our IMAP and POP3 engines and SMTP listener over the real store, on their own event loop in a
thread, for blocking clients.

The runtime is built from test settings on the given database; mailboxes are paid for through the
HTTP app (claim, mock payment, resolve); `start_imap` and `start_pop3` listen on free ports with
plaintext login, and SMTP delivers as in production, so IDLE is woken through the event bus.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy import update

from mailservice.adapters.db.tables import mailboxes
from mailservice.bootstrap import Runtime, build_runtime, start_mail_listeners
from mailservice.config import parse_listen_address
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.server import start_imap
from mailservice.protocols.lines.listener import LineServer
from mailservice.protocols.pop3.options import Pop3Options
from mailservice.protocols.pop3.server import start_pop3
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim_and_pay
from tests.support.dovecot import ImapAccount
from tests.support.keys import AgentKey
from tests.support.ports import free_port

T = TypeVar("T")


@dataclass
class RunningEngine:
    loop: asyncio.AbstractEventLoop
    runtime: Runtime
    imap_port: int
    smtp_port: int
    pop3_port: int

    def run(self, coroutine: Coroutine[object, object, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def new_account(self) -> ImapAccount:
        """A new paid mailbox; logs in with its address and derived password."""
        return self.run(self._paid())

    def limit_quota(self, account: ImapAccount, quota_bytes: int) -> None:
        """Give the mailbox of `account` a quota of its own."""
        login = account.user.split("@")[0]
        self.run(self._set_quota(login, quota_bytes))

    async def _set_quota(self, login: str, quota_bytes: int) -> None:
        async with self.runtime.engine.begin() as connection:
            await connection.execute(
                update(mailboxes).where(mailboxes.c.login == login).values(quota_bytes=quota_bytes)
            )

    async def _paid(self) -> ImapAccount:
        transport = httpx.ASGITransport(app=self.runtime.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            details = await claim_and_pay(http, AgentKey.generate())
        return ImapAccount(self.imap_port, str(details["email"]), str(details["password"]))


@contextmanager
def engine_in_thread(database_dsn: str, data_dir: Path) -> Iterator[RunningEngine]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runtime, servers, imap_port, pop3_port = asyncio.run_coroutine_threadsafe(
        _start(database_dsn, data_dir), loop
    ).result(60)
    smtp_port = parse_listen_address(runtime.settings.smtp_listen_addr, "SMTP_ADDR")[1]
    try:
        yield RunningEngine(loop, runtime, imap_port, smtp_port, pop3_port)
    finally:
        asyncio.run_coroutine_threadsafe(_stop(runtime, servers), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


async def _start(
    database_dsn: str, data_dir: Path
) -> tuple[Runtime, list[asyncio.Server | LineServer], int, int]:
    runtime = await build_runtime(make_settings(database_dsn, data_dir))
    port, pop3_port = free_port(), free_port()
    options = ImapOptions(host="127.0.0.1", port=port, allow_plaintext_auth=True)
    pop3 = Pop3Options(host="127.0.0.1", port=pop3_port, allow_plaintext_auth=True)
    servers: list[asyncio.Server | LineServer] = [
        await start_imap(runtime.services.mail_access, options),
        await start_pop3(runtime.services.mail_access, pop3),
        *await start_mail_listeners(runtime),
    ]
    return runtime, servers, port, pop3_port


async def _stop(runtime: Runtime, servers: list[asyncio.Server | LineServer]) -> None:
    for server in servers:
        server.close()
        await server.wait_closed()
    await runtime.close()
