"""Dovecot's IMAP server as a reference to compare ours with, and a way to load it with messages.

`running_dovecot()` starts `dovecot -F` with a configuration generated in a fresh temporary
directory (see bench/dovecot.py: passwd-file user, maildir, a free port on 127.0.0.1) and removes
the directory afterwards. Messages go in over IMAP APPEND (`load_messages`), byte for byte, so our
server can be given exactly the same bytes.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.dovecot import DovecotImap
from bench.imap_wire import ImapWire

from tests.support.external import require_programs
from tests.support.ports import free_port


@dataclass(frozen=True)
class ImapAccount:
    """Where and as whom to log in over IMAP (plaintext, 127.0.0.1)."""

    port: int
    user: str
    password: str
    host: str = "127.0.0.1"

    def connect(self) -> ImapWire:
        """A logged-in connection."""
        wire = ImapWire(self.host, self.port)
        wire.login(self.user, self.password)
        return wire


@dataclass(frozen=True)
class StoredMessage:
    raw: bytes
    internal_date: datetime | None = None
    flags: tuple[str, ...] = ()


@contextmanager
def running_dovecot(quota_kib: int | None = None) -> Iterator[tuple[DovecotImap, ImapAccount]]:
    require_programs("dovecot")
    workdir = Path(tempfile.mkdtemp(prefix="mailservice-dovecot-"))
    try:
        with DovecotImap(workdir, free_port(), quota_kib=quota_kib) as dovecot:
            yield dovecot, ImapAccount(dovecot.port, dovecot.user, dovecot.password)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def load_messages(account: ImapAccount, messages: Sequence[StoredMessage], folder: str = "INBOX") -> None:
    """APPEND every message, in order, exactly as given."""
    with account.connect() as wire:
        for message in messages:
            wire.append(folder, message.raw, message.flags, message.internal_date)
        wire.command("LOGOUT")
