"""Choosing and leaving a folder: SELECT, EXAMINE, CLOSE, UNSELECT; and EXPUNGE (UID EXPUNGE too)."""

from __future__ import annotations

from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.client_state import State
from mailservice.protocols.imap.commands import Command, Select, SequenceArg
from mailservice.protocols.imap.condstore import enable_condstore
from mailservice.protocols.imap.folder_view import FolderView
from mailservice.protocols.imap.qresync import require_qresync, resync_selected
from mailservice.protocols.imap.recent import recent_above
from mailservice.protocols.imap.updates import highestmodseq_code


async def select(client: Client, command: Command) -> str:
    assert isinstance(command.args, Select)
    state = client.state
    if command.args.qresync is not None:
        require_qresync(client)
    if state.view is not None:
        _deselect(client)
        client.out.write(b"* OK [CLOSED] Previous mailbox closed.\r\n")
    if command.args.condstore:
        enable_condstore(client)
    read_only = command.name == "EXAMINE"
    opened = await state.mail().open(command.args.mailbox)
    status = opened.status
    newest = opened.messages[-1].uid if opened.messages else 0
    mark = await recent_above(state.mail(), status.folder_id, read_only, status.recent_uid, newest)
    view = FolderView.of(opened, read_only, mark)
    state.view = view
    state.state = State.SELECTED
    _write_select_responses(client, view)
    if command.args.qresync is not None:
        await resync_selected(client, view, command.args.qresync)
    return "[READ-ONLY] Examine completed." if read_only else "[READ-WRITE] Select completed."


def _write_select_responses(client: Client, view: FolderView) -> None:
    lines = [
        *view.flags_responses(),
        b"* %d EXISTS\r\n" % view.count,
        b"* %d RECENT\r\n" % len(view.recent),
    ]
    first_unseen = next(
        (number for number, uid in enumerate(view.uids, 1) if "\\Seen" not in view.metas[uid].flags), None
    )
    if first_unseen is not None:
        lines.append(b"* OK [UNSEEN %d] First unseen.\r\n" % first_unseen)
    lines.append(b"* OK [UIDVALIDITY %d] UIDs valid\r\n" % view.uidvalidity)
    lines.append(b"* OK [UIDNEXT %d] Predicted next UID\r\n" % view.uidnext)
    if client.state.condstore:
        lines.append(b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % view.highestmodseq)
    client.out.write_all(lines)


def _deselect(client: Client) -> None:
    client.state.view = None
    client.state.state = State.AUTHENTICATED


async def close(client: Client, command: Command) -> str:
    view = client.state.selected()
    if not view.read_only:
        await client.state.mail().expunge(view.folder_id)
    _deselect(client)
    return "Close completed."


async def unselect(client: Client, command: Command) -> str:
    client.state.selected()
    _deselect(client)
    return "Unselect completed."


async def expunge(client: Client, command: Command) -> str:
    view = client.state.writable()
    uids = None
    if isinstance(command.args, SequenceArg):
        uids = view.uids_named(command.args.sequence_set)
        if not uids:
            return "Expunge completed."
    removed = await client.state.mail().expunge(view.folder_id, uids)
    client.out.write_all(view.expunge_responses(removed, client.state.qresync))
    return f"{await highestmodseq_code(client)}Expunge completed."
