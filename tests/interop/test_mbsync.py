"""isync's mbsync mirrors the mailbox into a local maildir and pushes flag changes and deletions back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from bench.imap_wire import fetch_items

from tests.interop.mail_targets import MailTarget, crlf_message
from tests.support.external import require_programs

pytestmark = pytest.mark.slow


def mbsyncrc(mailbox: MailTarget, local: Path) -> str:
    account = mailbox.account
    return f"""\
IMAPAccount remote
Host {account.host}
Port {account.port}
User "{account.user}"
Pass "{account.password}"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account remote

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel mirror
Far :remote:
Near :local:
Patterns INBOX
Create Near
Expunge Both
Sync All
SyncState *
"""


def sync(config: Path) -> None:
    result = subprocess.run(["mbsync", "-c", str(config), "-a"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def local_messages(inbox: Path) -> dict[str, tuple[str, bytes]]:
    """Local copies by Subject line: (maildir flags, bytes with LF line ends)."""
    found = {}
    for path in sorted((inbox / "cur").iterdir()) + sorted((inbox / "new").iterdir()):
        data = path.read_bytes()
        subject = next(line for line in data.split(b"\n") if line.startswith(b"Subject: "))
        found[subject[9:].decode()] = (path.name.rpartition(":2,")[2], data)
    return found


def server_flags(mailbox: MailTarget) -> dict[str, set[str]]:
    """Flags on the server by subject."""
    with mailbox.account.connect() as wire:
        wire.command("EXAMINE INBOX")
        answer = wire.command("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    flags = {}
    for items in fetch_items(answer).values():
        header = items["BODY[HEADER.FIELDS (SUBJECT)]"]
        assert isinstance(header, bytes) and isinstance(items["FLAGS"], list)
        flags[header.strip().removeprefix(b"Subject: ").decode()] = {str(f) for f in items["FLAGS"]} - {
            "\\Recent"
        }
    return flags


def test_mbsync_mirrors_and_pushes_flags_and_expunges_both_ways(mailbox: MailTarget, tmp_path: Path) -> None:
    require_programs("mbsync")
    for subject in ("a", "b", "c"):
        mailbox.deliver(crlf_message(mailbox.address, subject, f"{subject} body\n"))
    local = tmp_path / "mail"
    local.mkdir()
    config = tmp_path / "mbsyncrc"
    config.write_text(mbsyncrc(mailbox, local))

    sync(config)
    mirrored = local_messages(local / "INBOX")
    assert sorted(mirrored) == ["a", "b", "c"]
    for subject, (_, data) in mirrored.items():
        assert data.endswith(f"\n\n{subject} body\n".encode())  # mbsync adds its own X-TUID header

    inbox = local / "INBOX"
    [a_path] = [p for p in (inbox / "new").iterdir() if b"Subject: a\n" in p.read_bytes()]
    a_path.rename(inbox / "cur" / (a_path.name + "FS"))
    [b_path] = [p for p in (inbox / "new").iterdir() if b"Subject: b\n" in p.read_bytes()]
    b_path.rename(inbox / "cur" / (b_path.name + "T"))
    sync(config)
    assert server_flags(mailbox) == {"a": {"\\Flagged", "\\Seen"}, "c": set()}

    mailbox.deliver(crlf_message(mailbox.address, "d", "d body\n"))
    with mailbox.account.connect() as wire:
        wire.command("SELECT INBOX")
        wire.command("STORE 2 +FLAGS.SILENT (\\Deleted)")  # a, c, d: c
        wire.command("EXPUNGE")
    sync(config)
    assert {subject: flags for subject, (flags, _) in local_messages(inbox).items()} == {"a": "FS", "d": ""}
