"""The MODSEQ that SEARCH and SORT add for a MODSEQ search key (RFC 7162 section 3.1.5, RFC 4731
section 3.2) names the same message on Dovecot 2.3 and on ours.

Both servers get four messages and the same flag changes, in the order 1, 3, 2, 4, so that each
message has its own modseq and message 2's is above message 3's. Modseqs are each server's own, so an
answer's MODSEQ is compared as the number of the message whose modseq it is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from bench.imap_wire import ImapWire, fetch_items

from tests.support.dovecot import ImapAccount, StoredMessage, load_messages
from tests.support.mail import text_message

pytestmark = pytest.mark.slow

FOLDER = "ModseqSearch"
MESSAGES = [
    StoredMessage(
        text_message("agent@agents.test", f"Message {n}").replace(b"\n", b"\r\n"),
        datetime(2026, 2, 1 + n, 12, tzinfo=UTC),
    )
    for n in range(4)
]
_MODSEQ = re.compile(rb"MODSEQ (\d+)")

SEARCHES = [
    'SEARCH RETURN (MIN) 1:3 MODSEQ "/flags/\\\\seen" all 1',
    'SEARCH RETURN (MAX) 1:3 MODSEQ "/flags/\\\\seen" all 1',
    'SEARCH RETURN () 1:3 MODSEQ "/flags/\\\\seen" all 1',
    'SEARCH RETURN (MIN MAX) 2:3 MODSEQ "/flags/\\\\seen" all 1',
    "SEARCH RETURN (MIN COUNT) 1:3 MODSEQ 1",
    "SEARCH RETURN (MIN SAVE) 1:3 MODSEQ 1",
    "UID SEARCH RETURN (MAX) 1,3 MODSEQ 1",
    "SEARCH 1:3 MODSEQ 1",
    "SORT RETURN (MIN) (ARRIVAL) US-ASCII 1:3 MODSEQ 1",
    "SORT RETURN (MAX) (ARRIVAL) US-ASCII 1:3 MODSEQ 1",
    "SORT RETURN (MIN) (REVERSE ARRIVAL) US-ASCII 1:3 MODSEQ 1",
    "SORT RETURN (MIN MAX) (REVERSE ARRIVAL) US-ASCII 1,3 MODSEQ 1",
    "SORT RETURN (ALL) (ARRIVAL) US-ASCII 1,3 MODSEQ 1",
]


@pytest.fixture(scope="module")
def accounts(dovecot_and_ours: tuple[ImapAccount, ImapAccount]) -> tuple[ImapAccount, ImapAccount]:
    for account in dovecot_and_ours:
        with account.connect() as wire:
            wire.command(f"CREATE {FOLDER}")
        load_messages(account, MESSAGES, FOLDER)
        with account.connect() as wire:
            wire.command("ENABLE CONDSTORE")  # Dovecot keeps per-message modseqs from then on
            wire.command(f"SELECT {FOLDER}")
            for number in (1, 3, 2, 4):
                wire.command(f"STORE {number} +FLAGS (\\Seen)")
    return dovecot_and_ours


def answer_by_message(wire: ImapWire, command: str) -> list[str]:
    """The untagged lines of `command`, a MODSEQ value replaced by the message whose modseq it is."""
    modseqs = {
        int(str(values["MODSEQ"][0])): number  # type: ignore[index]
        for number, values in fetch_items(wire.command("FETCH 1:* (MODSEQ)")).items()
    }
    answer = wire.command(command)
    tag = answer.tagged.split(b" ", 1)[0]

    def by_message(found: re.Match[bytes]) -> bytes:
        return b"MODSEQ of %d" % modseqs[int(found.group(1))]

    return [_MODSEQ.sub(by_message, line).replace(tag, b"t").decode() for line in answer.lines]


@pytest.mark.parametrize("command", SEARCHES)
def test_modseq_of_a_search_names_the_message_dovecot_names(
    accounts: tuple[ImapAccount, ImapAccount], command: str
) -> None:
    answers = []
    for account in accounts:
        with account.connect() as wire:
            wire.command(f"EXAMINE {FOLDER}")
            answers.append(answer_by_message(wire, command))
    reference, ours = answers
    assert ours == reference
