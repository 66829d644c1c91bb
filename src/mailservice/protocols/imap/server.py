"""The IMAP listener: `start_imap(login, options)` serves each connection with a `Connection`."""

from __future__ import annotations

import asyncio

from mailservice.domain.mail_session import MailLogin
from mailservice.protocols.imap.connection import LINE_LIMIT, Connection
from mailservice.protocols.imap.options import ImapOptions


async def start_imap(login: MailLogin, options: ImapOptions) -> asyncio.Server:
    """Listen on options.host:options.port (IMAPS when `options.implicit_tls` is set)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await Connection(reader, writer, login, options).run()
        except asyncio.CancelledError:
            writer.close()  # the event loop is shutting down; nothing awaits this task

    return await asyncio.start_server(
        serve, options.host, options.port, ssl=options.implicit_tls, limit=LINE_LIMIT
    )
