"""What one connection knows: its protocol state, the logged-in mailbox and the selected folder."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mailservice.domain.mail_session import FolderChanges, MailSession
from mailservice.protocols.imap.folder_view import FolderView
from mailservice.protocols.imap.replies import CommandFailed, bad


class State(Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


@dataclass
class ClientState:
    peer: str
    tls: bool
    state: State = State.NOT_AUTHENTICATED
    session: MailSession | None = None
    username: str | None = None
    """The name the client logged in with (an IMAP URL of this user names it)."""
    view: FolderView | None = None
    condstore: bool = False
    qresync: bool = False
    utf8: bool = False
    """UTF8=ACCEPT is enabled (RFC 6855): mailbox names are UTF-8 both ways."""
    rev2: bool = False
    """IMAP4rev2 is enabled (RFC 9051): no \\Recent, SEARCH answers ESEARCH, SELECT names the folder."""
    changes_read: FolderChanges | None = None
    """The selected folder's changes a command read before its answer (a FETCH, `refresh_flags`), for
    the updates after it: they are not read twice."""

    def mail(self) -> MailSession:
        if self.session is None:
            raise bad("Not logged in")
        return self.session

    def selected(self) -> FolderView:
        if self.view is None:
            raise bad("No mailbox selected")
        return self.view

    def writable(self) -> FolderView:
        view = self.selected()
        if view.read_only:
            raise CommandFailed("Mailbox is read-only", "READ-ONLY")
        return view
