"""APPEND with flags and an internal date, and MULTIAPPEND (RFC 3502: several messages, all stored or
none); UIDPLUS's APPENDUID in the reply."""

from __future__ import annotations

from dataclasses import replace

from mailservice.domain.errors import FolderNotFound
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import AppendArgs, Command
from mailservice.protocols.imap.flag_text import normalize_flags
from mailservice.protocols.imap.replies import from_domain_error
from mailservice.protocols.imap.sequence_set import uid_set_text


async def append(client: Client, command: Command) -> str:
    assert isinstance(command.args, AppendArgs)
    args = command.args
    messages = [replace(message, flags=normalize_flags(message.flags)) for message in args.messages]
    try:
        appended = await client.state.mail().append_all(args.mailbox, messages)
    except FolderNotFound as error:
        raise from_domain_error(error, target_missing=True) from None
    return f"[APPENDUID {appended.uidvalidity} {uid_set_text(appended.uids)}] Append completed."
