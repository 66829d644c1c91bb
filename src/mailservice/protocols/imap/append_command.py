"""APPEND with flags and an internal date; UIDPLUS's APPENDUID in the reply."""

from __future__ import annotations

from mailservice.domain.errors import FolderNotFound
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import AppendArgs, Command
from mailservice.protocols.imap.flag_text import normalize_flags
from mailservice.protocols.imap.replies import from_domain_error


async def append(client: Client, command: Command) -> str:
    assert isinstance(command.args, AppendArgs)
    args = command.args
    flags = normalize_flags(args.flags)
    try:
        appended = await client.state.mail().append(args.mailbox, args.message, flags, args.internal_date)
    except FolderNotFound as error:
        raise from_domain_error(error, target_missing=True) from None
    return f"[APPENDUID {appended.uidvalidity} {appended.uid}] Append completed."
