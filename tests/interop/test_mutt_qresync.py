"""mutt with a header cache resynchronises the INBOX over QRESYNC (`UID FETCH ... (CHANGEDSINCE m
VANISHED)`): after a flag change, an expunge and a new message elsewhere, its second visit asks only
for what changed and still sees the right mail."""

from __future__ import annotations

import mailbox as mailboxes
from pathlib import Path

import pytest

from tests.interop.mail_targets import MailTarget, crlf_message
from tests.interop.test_mutt import muttrc, run_mutt
from tests.support.external import require_programs

pytestmark = pytest.mark.slow


def test_mutt_resyncs_its_header_cache_with_qresync(mailbox: MailTarget, tmp_path: Path) -> None:
    require_programs("mutt", "script")
    for subject in ("alpha", "bravo", "charlie"):
        mailbox.deliver(crlf_message(mailbox.address, subject, f"{subject} text\n"))
    config, cache = tmp_path / "muttrc", tmp_path / "hcache"
    cache.mkdir()
    (tmp_path / "Mail").mkdir()  # mutt's $folder in the HOME its debug log goes to
    config.write_text(
        muttrc(mailbox).replace('set header_cache = ""', f'set header_cache = "{cache}/"')
        + "set imap_condstore = yes\nset imap_qresync = yes\n"
    )
    run_mutt(mailbox, config, "<quit>", debug_home=tmp_path)

    with mailbox.account.connect() as wire:
        wire.command("SELECT INBOX")
        wire.command("STORE 1 +FLAGS (\\Flagged)")
        wire.command("STORE 2 +FLAGS (\\Deleted)")
        wire.command("EXPUNGE")
    mailbox.deliver(crlf_message(mailbox.address, "delta", "delta text\n"))

    copy = tmp_path / "copy.mbox"
    run_mutt(mailbox, config, f"<tag-pattern>~F<enter><copy-message>{copy}<enter><quit>", debug_home=tmp_path)
    assert [message["Subject"] for message in mailboxes.mbox(copy)] == ["alpha"]
    resync = [line for line in _log_lines(tmp_path) if "VANISHED" in line]
    assert any("(CHANGEDSINCE " in line for line in resync), resync  # mutt asks UID FETCH for what changed
    assert any("* VANISHED (EARLIER) 2" in line for line in resync), resync


def _log_lines(directory: Path) -> list[str]:
    return (directory / ".muttdebug0").read_text(errors="replace").splitlines()
