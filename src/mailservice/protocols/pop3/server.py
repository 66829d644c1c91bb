"""The POP3 listener: `start_pop3(login, options)` serves each connection with a `Connection`."""

from __future__ import annotations

import asyncio

from mailservice.domain.mail_session import MailLogin
from mailservice.protocols.pop3.connection import LINE_LIMIT, Connection
from mailservice.protocols.pop3.locks import MaildropLocks
from mailservice.protocols.pop3.options import Pop3Options

TOO_MANY = b"-ERR [SYS/TEMP] Too many connections, try again later.\r\n"


async def start_pop3(
    login: MailLogin, options: Pop3Options, locks: MaildropLocks | None = None
) -> asyncio.Server:
    """Listen on options.host:options.port (POP3S when `options.implicit_tls` is set). Listeners that
    share `locks` (POP3 and POP3S of one process) refuse a second session on one mailbox."""
    maildrop_locks = locks or MaildropLocks()
    open_connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_connections
        if open_connections >= options.max_connections:
            writer.write(TOO_MANY)
            writer.close()
            return
        open_connections += 1
        try:
            await Connection(reader, writer, login, options, maildrop_locks).run()
        except asyncio.CancelledError:
            writer.close()  # the event loop is shutting down; nothing awaits this task
        finally:
            open_connections -= 1

    return await asyncio.start_server(
        serve, options.host, options.port, ssl=options.implicit_tls, limit=LINE_LIMIT
    )
