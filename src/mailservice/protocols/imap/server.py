"""The IMAP listener: `start_imap(login, options)` serves each connection with a `Connection`."""

from __future__ import annotations

import asyncio

from mailservice.domain.mail_session import MailLogin
from mailservice.protocols.imap.connection import Connection
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.lines.listener import LineServer, Listener, start_listener
from mailservice.protocols.lines.stop import ConnectionStops
from mailservice.services.metrics import MeasuredLogin

TOO_MANY = b"* BYE Too many connections, try again later.\r\n"


async def start_imap(login: MailLogin, options: ImapOptions) -> LineServer:
    """Listen on options.host:options.port (IMAPS when `options.implicit_tls` is set)."""

    login = MeasuredLogin(login, options.metrics)
    stops = ConnectionStops()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await Connection(reader, writer, login, options, stops).run()

    listener = Listener(
        "imap",
        options.host,
        options.port,
        options.implicit_tls,
        options.policy.limits,
        TOO_MANY,
        handshake_timeout_seconds=options.policy.login_timeout_seconds,
        metrics=options.metrics,
    )
    return await start_listener(listener, serve, stops)
