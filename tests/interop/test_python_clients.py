"""Python's imaplib and the imapclient library read, flag, move and expunge mail, and IDLE wakes up."""

from __future__ import annotations

import imaplib
import time

import pytest
from imapclient import IMAPClient

from tests.interop.mail_targets import MailTarget, crlf_message

pytestmark = pytest.mark.slow
IDLE_DEADLINE_SECONDS = 20.0


def test_imaplib_fetches_flags_and_expunges(mailbox: MailTarget) -> None:
    raws = [crlf_message(mailbox.address, f"imaplib {i}", f"body {i}\n") for i in range(3)]
    for raw in raws:
        mailbox.deliver(raw)
    account = mailbox.account

    client = imaplib.IMAP4(account.host, account.port)
    try:
        assert client.login(account.user, account.password)[0] == "OK"
        assert client.select("INBOX") == ("OK", [b"3"])
        status, fetched = client.fetch("1:*", "(RFC822)")
        assert status == "OK"
        bodies = [item[1] for item in fetched if isinstance(item, tuple)]
        assert len(bodies) == 3
        for body, raw in zip(bodies, raws, strict=True):
            assert body.endswith(raw)
        assert client.search(None, "SEEN") == ("OK", [b"1 2 3"])

        client.store("2", "+FLAGS", "\\Deleted")
        assert client.expunge() == ("OK", [b"2"])
        assert client.search(None, 'SUBJECT "imaplib 2"') == ("OK", [b"2"])
        assert client.search(None, 'SUBJECT "imaplib 1"') == ("OK", [b""])
    finally:
        client.logout()


def test_imapclient_reads_envelopes_and_moves_to_a_new_folder(mailbox: MailTarget) -> None:
    mailbox.deliver(crlf_message(mailbox.address, "first", "one\n"))
    mailbox.deliver(crlf_message(mailbox.address, "second", "two\n"))
    account = mailbox.account

    with IMAPClient(account.host, port=account.port, ssl=False) as client:
        client.login(account.user, account.password)
        client.select_folder("INBOX")
        uids = client.search(["ALL"])
        fetched = client.fetch(uids, ["ENVELOPE", "FLAGS", "RFC822.SIZE", "BODY.PEEK[TEXT]"])
        assert [fetched[uid][b"ENVELOPE"].subject for uid in uids] == [b"first", b"second"]
        assert [fetched[uid][b"BODY[TEXT]"] for uid in uids] == [b"one\r\n", b"two\r\n"]
        assert all(set(fetched[uid][b"FLAGS"]) <= {b"\\Recent"} for uid in uids)

        client.create_folder("Archive")
        client.move([uids[0]], "Archive")
        assert client.search(["ALL"]) == [uids[1]]
        assert client.folder_status("Archive", ["MESSAGES", "UNSEEN"]) == {b"MESSAGES": 1, b"UNSEEN": 1}
        client.select_folder("Archive", readonly=True)
        moved = client.fetch(client.search(["ALL"]), ["ENVELOPE"])
        assert [item[b"ENVELOPE"].subject for item in moved.values()] == [b"first"]


def test_imapclient_idle_is_woken_by_a_delivery(mailbox: MailTarget) -> None:
    mailbox.deliver(crlf_message(mailbox.address, "already there"))
    account = mailbox.account

    with IMAPClient(account.host, port=account.port, ssl=False) as client:
        client.login(account.user, account.password)
        client.select_folder("INBOX")
        client.idle()
        mailbox.deliver(crlf_message(mailbox.address, "wake up"))
        seen: list[object] = []
        deadline = time.monotonic() + IDLE_DEADLINE_SECONDS
        while (2, b"EXISTS") not in seen and time.monotonic() < deadline:
            seen.extend(client.idle_check(timeout=1))
        client.idle_done()

        assert (2, b"EXISTS") in seen
        assert client.search(["SUBJECT", "wake up"]) != []
