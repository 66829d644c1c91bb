"""What command handlers see of their connection."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from mailservice.domain.mail_session import MailLogin
from mailservice.protocols.imap.client_state import ClientState
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.lines.output import Output


class Client(Protocol):
    state: ClientState
    out: Output
    options: ImapOptions
    login: MailLogin

    async def read_line(self) -> bytes:
        """The client's next line, CRLF removed (for AUTHENTICATE and IDLE)."""
        ...

    async def upgrade_tls(self) -> None: ...

    def waiting_for_client(self) -> AbstractContextManager[None]:
        """A wait for the client (IDLE's) that a stop of the service may end at once."""
        ...

    def capability_text(self) -> str: ...

    @property
    def plaintext_auth_allowed(self) -> bool: ...
