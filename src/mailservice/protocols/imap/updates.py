"""Untagged updates about the selected folder (changes made by other sessions), sent after commands
and while idling. EXPUNGE is held back during FETCH, STORE, SEARCH (RFC 3501 section 7.4.1), SORT and
THREAD, as Dovecot does; their UID forms may announce it. A session whose folder was deleted elsewhere ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mailservice.domain.errors import FolderNotFound
from mailservice.domain.mail_session import FolderChanges
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command
from mailservice.protocols.imap.folder_view import FolderView
from mailservice.protocols.imap.recent import recent_above
from mailservice.protocols.imap.replies import Disconnect

_NO_EXPUNGE_DURING = frozenset({"FETCH", "STORE", "SEARCH", "SORT", "THREAD"})
INCONSISTENT = "IMAP session state is inconsistent"
"""Dovecot's words when the selected folder was deleted under the session: nothing else it could do
would be right, so the session ends."""


def may_expunge_after(command: Command) -> bool:
    return command.uid or command.name not in _NO_EXPUNGE_DURING


async def send_updates(client: Client, allow_expunge: bool, known: FolderChanges | None = None) -> None:
    """`known`: the changes `refresh_flags` read before the command, so as not to read them twice
    (what happened during the command is told after the next one)."""
    view = client.state.view
    if view is None:
        return
    changes = known if known is not None else await _changes(client, view)
    newest = max((meta.uid for meta in changes.changed if meta.uid not in view.metas), default=0)
    rev2 = client.state.rev2
    mark = await recent_above(
        client.state.mail(), view.folder_id, view.read_only or rev2, changes.recent_uid, newest
    )
    if client.state.view is view:
        client.out.write_all(
            view.sync(
                changes,
                allow_expunge,
                client.state.condstore,
                None if rev2 else mark,
                vanished=client.state.qresync,
            )
        )


async def refresh_flags(client: Client, view: FolderView) -> None:
    """A FETCH shows other sessions' flag changes made before it (announced after it), as Dovecot
    does, and the keywords it will show are announced first; called once its arguments are known good,
    since a command answered BAD says nothing. (SEARCH, as in Dovecot, sees what was last announced;
    a STORE answers with the changes its store reads before it writes, `refreshed`.) The changes read
    are kept for `send_updates` after the command (`ClientState.changes_read`)."""
    changes = await _changes(client, view)
    client.out.write_all(view.refresh_flags(changes))
    client.state.changes_read = changes


def refreshed(view: FolderView, changes: FolderChanges) -> list[bytes]:
    """`refresh_flags` with changes read before a command (a STORE's, by its store)."""
    return view.refresh_flags(_of_this_folder(view, changes))


async def _changes(client: Client, view: FolderView) -> FolderChanges:
    with session_ends_if_folder_gone():
        changes = await client.state.mail().changes(view.folder_id, view.highestmodseq)
    return _of_this_folder(view, changes)


@contextmanager
def session_ends_if_folder_gone() -> Iterator[None]:
    try:
        yield
    except FolderNotFound:
        raise Disconnect(INCONSISTENT) from None


def _of_this_folder(view: FolderView, changes: FolderChanges) -> FolderChanges:
    with session_ends_if_folder_gone():  # deleted and created again: its UIDs name other messages now
        return changes.of_uidvalidity(view.uidvalidity)


def highestmodseq_told(client: Client) -> int | None:
    """With QRESYNC on, after a command's updates: the HIGHESTMODSEQ to tell the client, when they moved
    it past what the MODSEQs it was sent say (RFC 7162 section 3.2.10), as Dovecot decides it. When an
    expunge is held back, a higher value would let the client miss it: only the value before (and
    only when the MODSEQs it was sent went past that)."""
    view = client.state.view
    if not client.state.qresync or view is None:
        return None
    told = None
    if view.gone:
        if view.shown_modseq > view.synced_modseq:
            told = view.synced_modseq
    else:
        if view.synced_modseq < view.highestmodseq and view.shown_modseq < view.highestmodseq:
            told = view.highestmodseq
        view.synced_modseq = view.highestmodseq
    view.shown_modseq = 0
    return told
