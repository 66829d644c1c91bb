"""Choosing and leaving a folder: SELECT, EXAMINE, CLOSE, UNSELECT; and EXPUNGE (UID EXPUNGE too)."""

from __future__ import annotations

from mailservice.domain.mail_session import HIERARCHY_SEPARATOR
from mailservice.domain.messages import SEEN
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.client_state import State
from mailservice.protocols.imap.commands import Command, Select, SequenceArg
from mailservice.protocols.imap.condstore import enable_condstore, highestmodseq_line
from mailservice.protocols.imap.folder_commands import mailbox_text
from mailservice.protocols.imap.folder_view import FolderView
from mailservice.protocols.imap.qresync import require_qresync, resync_selected
from mailservice.protocols.imap.recent import recent_above


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
    newest = opened.newest_uid
    takes_no_recent = read_only or state.rev2
    mark = await recent_above(state.mail(), status.folder_id, takes_no_recent, status.recent_uid, newest)
    if state.rev2:
        mark = max(mark, newest)
    view = FolderView.of(opened, read_only, mark)
    state.view = view
    state.state = State.SELECTED
    _write_select_responses(client, view, status.name)
    if command.args.qresync is not None:
        await resync_selected(client, view, command.args.qresync)
    return "[READ-ONLY] Examine completed." if read_only else "[READ-WRITE] Select completed."


def _write_select_responses(client: Client, view: FolderView, mailbox: str) -> None:
    """IMAP4rev1's answer, or IMAP4rev2's: no RECENT or UNSEEN, a LIST line naming the folder."""
    rev2 = client.state.rev2
    lines = [*view.flags_responses(), b"* %d EXISTS\r\n" % view.count]
    if not rev2:
        lines.append(b"* %d RECENT\r\n" % len(view.recent))
        lines.extend(_first_unseen(view))
    lines.append(b"* OK [UIDVALIDITY %d] UIDs valid\r\n" % view.uidvalidity)
    lines.append(b"* OK [UIDNEXT %d] Predicted next UID\r\n" % view.uidnext)
    # Every folder keeps its mod-sequences, so every SELECT and EXAMINE tells the highest (RFC 7162
    # section 3.1.2.1, a MUST), CONDSTORE enabled or not.
    lines.append(highestmodseq_line(view.highestmodseq))
    if rev2:
        lines.append(
            b'* LIST () "%s" %s\r\n' % (HIERARCHY_SEPARATOR.encode(), mailbox_text(mailbox, utf8=True))
        )
    client.out.write_all(lines)


def _first_unseen(view: FolderView) -> list[bytes]:
    first = next(
        (number for number, uid in enumerate(view.uids, 1) if SEEN not in view.metas[uid].flags), None
    )
    return [] if first is None else [b"* OK [UNSEEN %d] First unseen.\r\n" % first]


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
    removed = await client.state.mail().expunge(view.folder_id, uids, changes_since=view.highestmodseq)
    client.out.write_all(view.expunge_responses(removed, client.state.qresync))
    return "Expunge completed."
