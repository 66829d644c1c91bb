"""QRESYNC (RFC 7162 section 3.2): quick resynchronisation of a folder a client has cached.

Once a connection ENABLEs it (which enables CONDSTORE too), expunges are announced as
`* VANISHED uids` instead of one `* n EXPUNGE` each; SELECT/EXAMINE may carry the client's cached
state `(QRESYNC (uidvalidity modseq [known-uids [seq-match]]))` and is then answered with
`* VANISHED (EARLIER)` for what was expunged after that modseq and a FETCH of every message changed
after it; and `UID FETCH ... (CHANGEDSINCE m VANISHED)` reports the expunges of its uid set.

Every expunge stays recorded with its modseq (`expunged_messages`), so the VANISHED (EARLIER) answer
is always exact: the seq-match data, which lets a server that forgot old expunges narrow its answer,
is checked for syntax and otherwise not needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.condstore import enable_condstore
from mailservice.protocols.imap.flag_text import stored_flags_text
from mailservice.protocols.imap.folder_view import FolderView
from mailservice.protocols.imap.replies import bad
from mailservice.protocols.imap.sequence_set import SequenceSet, parse_sequence_set, uid_set_text


@dataclass(frozen=True)
class QresyncParams:
    """What the client cached: the folder's UIDVALIDITY, the highest modseq it saw, and the uids it
    holds (None: all of them)."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None


def parse_qresync_param(reader: CommandReader) -> QresyncParams:
    """The parenthesized list after the word QRESYNC in a SELECT/EXAMINE parameter list."""
    reader.space()
    reader.expect(b"(")
    uidvalidity = reader.nz_number()
    reader.space()
    modseq = reader.mod_sequence()
    if modseq == 0:
        raise reader.error("the QRESYNC modseq must be above 0")
    known_uids = None
    if reader.accept(b" ") and not reader.peek(b"("):
        known_uids = _set_without_star(reader)
        reader.accept(b" ")
    if reader.accept(b"("):
        _set_without_star(reader)  # known sequence numbers
        reader.space()
        _set_without_star(reader)  # their uids
        reader.expect(b")")
    reader.expect(b")")
    return QresyncParams(uidvalidity, modseq, known_uids)


def _set_without_star(reader: CommandReader) -> SequenceSet:
    """RFC 7162 section 7: the known uids and the seq-match data may not use `*`."""
    numbers = parse_sequence_set(reader.sequence_text())
    if any(bound is None for bounds in numbers.ranges for bound in bounds):
        raise reader.error("Invalid QRESYNC known-uids")
    return numbers


def enable_qresync(client: Client) -> None:
    enable_condstore(client)
    client.state.qresync = True


def require_qresync(client: Client) -> None:
    if not client.state.qresync:
        raise bad("QRESYNC not enabled")


async def resync_selected(client: Client, view: FolderView, params: QresyncParams) -> None:
    """After the SELECT responses: VANISHED (EARLIER) and the changed flags, when the client's cache
    is of this folder (same UIDVALIDITY); nothing otherwise, the client then starts over."""
    if params.uidvalidity != view.uidvalidity:
        return
    await write_vanished_earlier(client, view, params.modseq, params.known_uids)
    known = set(view.uids if params.known_uids is None else params.known_uids.uids(view.uids))
    client.out.write_all(
        [
            b"* %d FETCH (UID %d FLAGS (%s) MODSEQ (%d))\r\n"
            % (number, uid, stored_flags_text(meta.flags), meta.modseq)
            for number, uid in enumerate(view.uids, 1)
            if (meta := view.metas[uid]).modseq > params.modseq and uid in known
        ]
    )


async def write_vanished_earlier(
    client: Client, view: FolderView, since_modseq: int, uid_set: SequenceSet | None
) -> None:
    """`* VANISHED (EARLIER)` for the uids in `uid_set` (every uid when None) expunged after
    `since_modseq`. `*` in the set stands for the largest uid the folder has had, expunged or not."""
    changes = await client.state.mail().changes(view.folder_id, since_modseq)
    expunged = [uid for uid in changes.expunged if uid not in view.metas]
    if uid_set is not None:
        chosen = set(uid_set.uids(sorted({*view.uids, *expunged})))
        expunged = [uid for uid in expunged if uid in chosen]
    if expunged:
        client.out.write(b"* VANISHED (EARLIER) %s\r\n" % uid_set_text(sorted(expunged)).encode())
