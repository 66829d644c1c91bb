"""Our IMAP engine over the real store, on its own event loop in a thread, for blocking clients.

The runtime is built from test settings on the given database; one paid mailbox is made through the
HTTP app (claim, mock payment, resolve), and `start_imap` listens on a free port with plaintext LOGIN.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from mailservice.bootstrap import Runtime, build_runtime
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.server import start_imap
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim_and_pay
from tests.support.dovecot import ImapAccount
from tests.support.keys import AgentKey
from tests.support.ports import free_port


@contextmanager
def engine_in_thread(database_dsn: str, data_dir: Path) -> Iterator[ImapAccount]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    started = asyncio.run_coroutine_threadsafe(_start(database_dsn, data_dir), loop).result(timeout=60)
    runtime, server, account = started
    try:
        yield account
    finally:
        asyncio.run_coroutine_threadsafe(_stop(runtime, server), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


async def _start(database_dsn: str, data_dir: Path) -> tuple[Runtime, asyncio.Server, ImapAccount]:
    runtime = await build_runtime(make_settings(database_dsn, data_dir))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.app), base_url=BASE_URL) as http:
        details = await claim_and_pay(http, AgentKey.generate())
    port = free_port()
    server = await start_imap(
        runtime.services.mail_access, ImapOptions(host="127.0.0.1", port=port, allow_plaintext_auth=True)
    )
    return runtime, server, ImapAccount(port, str(details["email"]), str(details["password"]))


async def _stop(runtime: Runtime, server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()
    await runtime.close()
