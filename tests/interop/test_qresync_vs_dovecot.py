"""QRESYNC (RFC 7162) answers like Dovecot 2.3's for the same folder history.

Both servers get the same six messages in a new folder, then the same changes: flags set on two,
two expunged by another session. A client that cached the folder before the changes then resyncs.
Modseqs are each server's own, so every command that names one uses that server's value, and MODSEQ
values are compared only for being above the cached one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from bench.imap_wire import ImapWire, Response, Value, fetch_items, parse_line

from tests.interop.comparison import response_codes
from tests.support.dovecot import ImapAccount, StoredMessage, load_messages
from tests.support.mail import text_message

pytestmark = pytest.mark.slow

FOLDER = "Resync"
MESSAGES = [
    StoredMessage(text_message("agent@agents.test", f"Message {n}").replace(b"\n", b"\r\n")) for n in range(6)
]


@dataclass
class Cached:
    """One server's account and what a client cached of FOLDER before the changes."""

    account: ImapAccount
    uidvalidity: int
    modseq: int


@pytest.fixture(scope="module")
def cached(dovecot_and_ours: tuple[ImapAccount, ImapAccount]) -> list[Cached]:
    """[Dovecot, ours]: FOLDER's state cached, then \\Flagged on 2, $Later on 4, 3 and 5 expunged."""
    found = []
    for account in dovecot_and_ours:
        with account.connect() as wire:
            wire.command(f"CREATE {FOLDER}")
        load_messages(account, MESSAGES, FOLDER)
        with account.connect() as wire:
            wire.command("ENABLE CONDSTORE")
            codes = response_codes(wire.command(f"SELECT {FOLDER}"))
            found.append(
                Cached(account, int(str(codes["UIDVALIDITY"][0])), int(str(codes["HIGHESTMODSEQ"][0])))
            )
            wire.command("STORE 2 +FLAGS (\\Flagged)")
            wire.command("STORE 4 +FLAGS ($Later)")
            wire.command("STORE 3,5 +FLAGS (\\Deleted)")
            wire.command("EXPUNGE")
    return found


def resync_lines(
    server: Cached, parameters: str, command: str = "SELECT"
) -> tuple[set[str], dict[int, tuple[Value, list[str]]]]:
    """The VANISHED lines and the FETCH items (UID, FLAGS) of a QRESYNC SELECT/EXAMINE."""
    cached_state = parameters.format(v=server.uidvalidity, m=server.modseq)
    with server.account.connect() as wire:
        wire.command("ENABLE QRESYNC")
        answer = wire.command(f"{command} {FOLDER} (QRESYNC ({cached_state}))")
        return vanished(answer), changed_flags(answer, int(cached_state.split()[1]))


def vanished(answer: Response) -> set[str]:
    return {line.decode().strip() for line in answer.lines if line.startswith(b"* VANISHED")}


def changed_flags(answer: Response, cached_modseq: int) -> dict[int, tuple[Value, list[str]]]:
    """UID and FLAGS by sequence number; every MODSEQ must be above the cached one."""
    found = {}
    for number, values in fetch_items(answer).items():
        modseq, flags = values["MODSEQ"], values["FLAGS"]
        assert isinstance(modseq, list) and int(str(modseq[0])) > cached_modseq
        assert isinstance(flags, list)
        found[number] = (values["UID"], sorted(map(str, flags)))
    return found


@pytest.mark.parametrize(
    "parameters",
    ["{v} {m}", "{v} {m} 1:4", "{v} {m} 4:6", "{v} {m} 1:6 (1,3 1,4)", "{v} 1", "1 {m}"],
    ids=["all", "known-low", "known-high", "seq-match", "from-start", "other-uidvalidity"],
)
def test_select_with_qresync_answers_like_dovecot(cached: list[Cached], parameters: str) -> None:
    reference, ours = (resync_lines(server, parameters) for server in cached)
    assert ours == reference


def test_examine_with_qresync_answers_like_dovecot(cached: list[Cached]) -> None:
    reference, ours = (resync_lines(server, "{v} {m}", "EXAMINE") for server in cached)
    assert ours == reference
    assert reference[0] == {"* VANISHED (EARLIER) 3,5"}
    assert [values[0] for values in reference[1].values()] == ["2", "4"]


def test_uid_fetch_changedsince_vanished_answers_like_dovecot(cached: list[Cached]) -> None:
    answers = []
    for server in cached:
        with server.account.connect() as wire:
            wire.command("ENABLE QRESYNC")
            wire.command(f"EXAMINE {FOLDER}")
            answer = wire.command(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {server.modseq} VANISHED)")
            answers.append((vanished(answer), changed_flags(answer, server.modseq)))
    assert answers[1] == answers[0]
    assert answers[0][0] == {"* VANISHED (EARLIER) 3,5"}


@pytest.mark.parametrize(
    "command",
    [
        "SELECT {folder} (QRESYNC ({v} {m}))",
        "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {m} VANISHED)",
        "FETCH 1:* (FLAGS) (CHANGEDSINCE {m} VANISHED)",
        "UID FETCH 1:* (FLAGS) (VANISHED)",
    ],
)
def test_qresync_commands_without_enable_are_refused_like_dovecot(cached: list[Cached], command: str) -> None:
    statuses = []
    for server in cached:
        with server.account.connect() as wire:
            wire.command(f"EXAMINE {FOLDER}")
            text = command.format(folder=FOLDER, v=server.uidvalidity, m=server.modseq)
            statuses.append(wire.command(text, check=False).tagged.split()[1])
    assert statuses[1] == statuses[0] == b"BAD"


@pytest.fixture
def scratch(cached: list[Cached]) -> Iterator[list[tuple[ImapWire, ImapWire]]]:
    """[(a QRESYNC session, another session)] per server, both on a fresh copy of FOLDER."""
    pairs = []
    for server in cached:
        first, second = server.account.connect(), server.account.connect()
        for wire in (first, second):
            wire.command("DELETE Scratch", check=False)
        first.command("CREATE Scratch")
        first.command(f"EXAMINE {FOLDER}")
        first.command("COPY 1:* Scratch")
        first.command("ENABLE QRESYNC")
        first.command("SELECT Scratch")
        second.command("SELECT Scratch")
        pairs.append((first, second))
    yield pairs
    for first, second in pairs:
        first.close()
        second.close()


def test_expunges_by_another_session_are_vanished_like_dovecot(
    scratch: list[tuple[ImapWire, ImapWire]],
) -> None:
    answers = []
    for first, second in scratch:
        second.command("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
        second.command("EXPUNGE")
        answers.append(
            [line for line in first.command("NOOP").lines if b"EXPUNGE" in line or b"VANISHED" in line]
        )
    assert answers[1] == answers[0] == [b"* VANISHED 1,3\r\n"]


def test_own_expunge_and_move_are_vanished_like_dovecot(scratch: list[tuple[ImapWire, ImapWire]]) -> None:
    answers = []
    for first, _ in scratch:
        first.command("STORE 2 +FLAGS.SILENT (\\Deleted)")
        expunged = first.command("EXPUNGE")
        moved = first.command(f"MOVE 1 {FOLDER}")
        lines = [
            line for line in (*expunged.lines, *moved.lines) if b"EXPUNGE" in line or b"VANISHED" in line
        ]
        codes = [
            re.sub(rb"\d+", b"n", answer.tagged.split(b"]")[0].split(b" ", 2)[2])
            for answer in (expunged, moved)
        ]
        answers.append((lines, codes))
    assert answers[1] == answers[0] == ([b"* VANISHED 2\r\n", b"* VANISHED 1\r\n"], [b"[HIGHESTMODSEQ n"] * 2)


def test_selecting_another_folder_says_closed_like_dovecot(scratch: list[tuple[ImapWire, ImapWire]]) -> None:
    answers = []
    for first, _ in scratch:
        lines = first.command(f"EXAMINE {FOLDER}").lines
        answers.append([parse_line(line)[2] for line in lines if b"[CLOSED]" in line])
    assert answers[1] == answers[0] == ["[CLOSED]"]


def test_enable_qresync_answers_like_dovecot(cached: list[Cached]) -> None:
    answers = []
    for server in cached:
        with server.account.connect() as wire:
            answers.append(wire.command("ENABLE QRESYNC").lines)
    assert answers[1] == answers[0]
