"""The POP3 listener: `start_pop3(login, options)` serves each connection with a `Connection`."""

from __future__ import annotations

import asyncio

from mailservice.domain.mail_session import MailLogin
from mailservice.protocols.lines.listener import LineServer, Listener, start_listener
from mailservice.protocols.lines.stop import ConnectionStops
from mailservice.protocols.pop3.connection import Connection
from mailservice.protocols.pop3.locks import MaildropLocks
from mailservice.protocols.pop3.options import Pop3Options
from mailservice.services.metrics import MeasuredLogin

TOO_MANY = b"-ERR [SYS/TEMP] Too many connections, try again later.\r\n"


async def start_pop3(
    login: MailLogin, options: Pop3Options, locks: MaildropLocks | None = None
) -> LineServer:
    """Listen on options.host:options.port (POP3S when `options.implicit_tls` is set). Listeners that
    share `locks` (POP3 and POP3S of one process) refuse a second session on one mailbox."""
    maildrop_locks = locks or MaildropLocks()

    login = MeasuredLogin(login, options.metrics)
    stops = ConnectionStops()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await Connection(reader, writer, login, options, maildrop_locks, stops).run()

    listener = Listener(
        "pop3",
        options.host,
        options.port,
        options.implicit_tls,
        options.policy.limits,
        TOO_MANY,
        handshake_timeout_seconds=options.policy.login_timeout_seconds,
        metrics=options.metrics,
    )
    return await start_listener(listener, serve, stops)
