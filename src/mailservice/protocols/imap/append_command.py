"""APPEND with flags and an internal date, MULTIAPPEND (RFC 3502: several messages, all stored or
none) and CATENATE (RFC 4469: messages built from text and URLs); UIDPLUS's APPENDUID in the reply."""

from __future__ import annotations

from dataclasses import replace

from mailservice.domain.errors import FolderNotFound
from mailservice.domain.mail_session import NewMessage
from mailservice.protocols.imap.catenate import catenated_message
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import AppendArgs, CatenatedMessage, Command
from mailservice.protocols.imap.flag_text import normalize_flags
from mailservice.protocols.imap.replies import from_domain_error
from mailservice.protocols.imap.sequence_set import uid_set_text


async def append(client: Client, command: Command) -> str:
    assert isinstance(command.args, AppendArgs)
    args = command.args
    try:
        messages = await _messages(client, args)
        appended = await client.state.mail().append_all(args.mailbox, messages)
    except FolderNotFound as error:
        raise from_domain_error(error, target_missing=True) from None
    return f"[APPENDUID {appended.uidvalidity} {uid_set_text(appended.uids)}] Append completed."


async def _messages(client: Client, args: AppendArgs) -> list[NewMessage]:
    """The messages to store, each CATENATE resolved once the target folder is known to exist (a
    missing target is reported before a bad URL, as Dovecot does)."""
    if any(isinstance(message, CatenatedMessage) for message in args.messages):
        await client.state.mail().status(args.mailbox)
    messages = []
    for message in args.messages:
        built = await catenated_message(client, message) if isinstance(message, CatenatedMessage) else message
        messages.append(replace(built, flags=normalize_flags(built.flags)))
    return messages
