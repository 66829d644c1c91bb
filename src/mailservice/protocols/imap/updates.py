"""Untagged updates about the selected folder (changes made by other sessions), sent after commands
and while idling. EXPUNGE is held back during FETCH, STORE and SEARCH (RFC 3501 section 7.4.1),
as Dovecot does; their UID forms may announce it."""

from __future__ import annotations

from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command

_NO_EXPUNGE_DURING = frozenset({"FETCH", "STORE", "SEARCH"})


def may_expunge_after(command: Command) -> bool:
    return command.uid or command.name not in _NO_EXPUNGE_DURING


async def send_updates(client: Client, allow_expunge: bool) -> None:
    view = client.state.view
    if view is None:
        return
    changes = await client.state.mail().changes(view.folder_id, view.highestmodseq)
    if client.state.view is view:
        client.out.write_all(view.sync(changes, allow_expunge, client.state.condstore))
