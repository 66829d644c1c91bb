"""COPY and MOVE (and their UID forms) with UIDPLUS's COPYUID."""

from __future__ import annotations

from mailservice.domain.errors import FolderNotFound
from mailservice.domain.mail_session import Copied
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command, CopyArgs
from mailservice.protocols.imap.replies import from_domain_error
from mailservice.protocols.imap.sequence_set import uid_set_text


async def copy(client: Client, command: Command) -> str:
    assert isinstance(command.args, CopyArgs)
    moving = command.name == "MOVE"
    view = client.state.writable() if moving else client.state.selected()
    uids = [uid for _, uid in view.select(command.args.sequence_set, command.uid)]
    if not uids:
        return "No messages found."
    session = client.state.mail()
    try:
        if moving:
            copied = await session.move(view.folder_id, uids, command.args.mailbox)
        else:
            copied = await session.copy(view.folder_id, uids, command.args.mailbox)
    except FolderNotFound as error:
        raise from_domain_error(error, target_missing=True) from None
    code = _copyuid(copied)
    if not moving:
        return f"[{code}] Copy completed." if code else "Copy completed."
    if code:
        client.out.write(f"* OK [{code}] Moved UIDs.\r\n".encode())
    client.out.write_all(view.expunge_responses(copied.source_uids, client.state.qresync))
    return "Move completed."


def _copyuid(copied: Copied) -> str:
    if not copied.source_uids:
        return ""
    return (
        f"COPYUID {copied.uidvalidity} {uid_set_text(copied.source_uids)} {uid_set_text(copied.target_uids)}"
    )
