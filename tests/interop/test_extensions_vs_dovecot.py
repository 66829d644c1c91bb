"""IMAP extensions answered like Dovecot 2.3 on the same inputs: ESEARCH (RFC 4731), SEARCHRES
(RFC 5182), WITHIN (RFC 5032), STATUS=SIZE, LIST-STATUS (RFC 5819), MULTIAPPEND (RFC 3502),
CATENATE (RFC 4469) and UTF8=ACCEPT (RFC 6855). Sessions and normal forms as in tests/interop/dialogue.py.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta

import pytest

from tests.interop.dialogue import (
    MESSAGE,
    QUOTA_KIB,
    Answer,
    Dialogue,
    Step,
    append,
    highestmodseq_as_reference,
    in_folder,
    normal_answer,
    send,
)

pytestmark = pytest.mark.slow


def test_extensions_are_advertised_after_login(dialogue: Dialogue) -> None:
    reference, ours = dialogue.sessions["A"]
    wanted = {"ESEARCH", "SEARCHRES", "WITHIN", "LIST-STATUS", "STATUS=SIZE", "MULTIAPPEND", "CATENATE"}
    for wire in (reference, ours):
        line = wire.command("CAPABILITY").lines[0].decode()
        assert wanted <= set(line.split()), line
    assert "UTF8=ACCEPT" in ours.command("CAPABILITY").lines[0].decode()
    assert "ESEARCH" in reference.command("CAPABILITY").lines[0].decode()


ESEARCHES = [
    "SEARCH RETURN (MIN MAX COUNT ALL) ALL",
    "SEARCH RETURN (COUNT ALL MAX MIN) 2:4",
    "SEARCH RETURN () 2:3",
    "SEARCH RETURN (MIN MAX) DELETED",
    "SEARCH RETURN (ALL) DELETED",
    "SEARCH RETURN (COUNT) DELETED",
    "SEARCH RETURN (min) ALL",
    "SEARCH RETURN (COUNT COUNT) ALL",
    "SEARCH RETURN (ALL) 1,3,4",
    "UID SEARCH RETURN (ALL COUNT) ALL",
    "UID SEARCH RETURN (MIN MAX) UID 2:3",
    "SEARCH RETURN (FOO) ALL",
    "SEARCH RETURN ALL ALL",
    "SEARCH RETURN (ALL) CHARSET UTF-8 SUBJECT s",
    "SEARCH RETURN (ALL)",
]


@pytest.mark.parametrize("command", ESEARCHES)
def test_esearch_answers_like_dovecot(dialogue: Dialogue, command: str) -> None:
    folder = "esearch"
    dialogue.assert_same(
        [*in_folder(folder, [("C", append(folder)), ("A", f"SELECT {folder}")]), ("A", command)]
    )
    dialogue.both("A", "CLOSE")
    dialogue.both("C", f"DELETE {folder}")


def test_searchres_saves_and_reuses_a_result(dialogue: Dialogue) -> None:
    folder = "searchres"
    script: list[Step] = [
        ("C", append(folder)),
        ("C", append(folder)),
        ("A", "FETCH $ (UID)"),
        ("A", f"SELECT {folder}"),
        ("A", "FETCH $ (UID)"),
        ("A", "SEARCH RETURN (SAVE) 2:3"),
        ("A", "FETCH $ (UID)"),
        ("A", "SEARCH RETURN (SAVE MIN) 1:3"),
        ("A", "FETCH $ (UID)"),
        ("A", "SEARCH RETURN (SAVE MIN MAX) 2:4"),
        ("A", "UID FETCH $ (UID)"),
        ("A", "UID SEARCH RETURN (SAVE) UID 3"),
        ("A", "SEARCH $"),
        ("A", "SEARCH RETURN (SAVE ALL) OR $ 1"),
        ("A", "STORE $ +FLAGS (\\Seen)"),
        ("A", "SEARCH RETURN (SAVE COUNT) UNSEEN"),
        ("A", "UID SEARCH $"),
        ("A", "FETCH 1,$ (UID)"),
        ("A", "STORE 2 +FLAGS.SILENT (\\Deleted)"),
        ("A", "EXPUNGE"),
        ("A", "SEARCH $"),
        ("A", "COPY $ INBOX"),
        ("A", "SEARCH RETURN (SAVE) 1:2"),
        ("A", "SEARCH RETURN (SAVE) FOO"),
        ("A", "FETCH $ (UID)"),
        ("A", "SEARCH RETURN (SAVE) 9"),
        ("A", "FETCH $ (UID)"),
        ("A", f"EXAMINE {folder}"),
        ("A", "FETCH $ (UID)"),
    ]
    dialogue.assert_same(in_folder(folder, script))
    dialogue.both("A", "CLOSE")


def test_within_finds_messages_by_the_age_of_their_internal_date(dialogue: Dialogue) -> None:
    folder = "within"
    now = datetime.now(UTC)
    dates = [now - timedelta(days=days, minutes=5) for days in (400, 30, 1, 0)]
    script: list[Step] = [("C", f"CREATE {folder}")]
    script += [("C", append(folder, date=date.strftime("%d-%b-%Y %H:%M:%S +0000"))) for date in dates]
    script += [("A", f"EXAMINE {folder}")]
    script += [
        ("A", f"SEARCH {key}")
        for key in (
            "YOUNGER 3600",
            "YOUNGER 172800",
            "OLDER 172800",
            "OLDER 86400",
            "OLDER 1",
            "NOT YOUNGER 5000000",
            "OR OLDER 40000000 YOUNGER 3600",
            "YOUNGER 0",
            "OLDER -1",
            "YOUNGER",
        )
    ]
    dialogue.assert_same(script)
    dialogue.both("A", "CLOSE")


def test_status_size_is_the_sum_of_message_sizes(dialogue: Dialogue) -> None:
    folder = "sizes"
    script = in_folder(
        folder,
        [
            ("C", f"STATUS {folder} (SIZE)"),
            ("C", f"STATUS {folder} (MESSAGES SIZE UNSEEN)"),
            ("C", "CREATE empty"),
            ("C", "STATUS empty (SIZE MESSAGES)"),
        ],
    )
    dialogue.assert_same(script)


def test_list_status_answers_status_after_each_selectable_folder(dialogue: Dialogue) -> None:
    folder = "lstatus"
    script = in_folder(
        folder,
        [
            ("C", f"CREATE {folder}/sub"),
            ("A", f'LIST "" "{folder}" RETURN (STATUS (MESSAGES UNSEEN SIZE))'),
            ("A", f'LIST "" "{folder}/%" RETURN (CHILDREN STATUS (UIDNEXT MESSAGES))'),
            ("A", f"SELECT {folder}"),
            ("A", f'LIST "" "{folder}" RETURN (STATUS (RECENT MESSAGES))'),
            ("A", f'LIST "" "{folder}" RETURN (STATUS ())'),
            ("A", f'LIST "" "{folder}" RETURN (STATUS (FOO))'),
        ],
    )
    dialogue.assert_same(script)
    dialogue.both("A", "CLOSE")


def test_multiappend_stores_every_message_or_none(dialogue: Dialogue) -> None:
    folder = "multi"
    first, second = b"Subject: one\r\n\r\n1\r\n", b"Subject: two\r\n\r\n22\r\n"
    large = b"x" * (QUOTA_KIB * 1024 // 2)
    script: list[Step] = [
        ("C", f"CREATE {folder}"),
        ("A", f"SELECT {folder}"),
        ("A", append(folder, message=first) + b" (\\Seen) " + literal(second)),
        ("A", "FETCH 1:* (FLAGS BODY.PEEK[])"),
        ("A", append(folder, message=first) + b" " + literal(large) + b" " + literal(large)),
        ("A", b"APPEND nowhere " + literal(first) + b" " + literal(second)),
        ("A", "NOOP"),
        ("C", f"STATUS {folder} (MESSAGES)"),
    ]
    dialogue.assert_same(script)
    dialogue.both("A", "CLOSE")


def literal(message: bytes) -> bytes:
    return b"{%d}\r\n" % len(message) + message


def test_sort_saves_its_result_and_sort_and_thread_read_the_saved_one(dialogue: Dialogue) -> None:
    """ESORT with SEARCHRES: SORT RETURN (SAVE ...) keeps its result for `$` (MIN and MAX in sort
    order), and SORT and THREAD take `$` as SEARCH does."""
    folder = "sortsave"
    sizes = [append(folder, message=MESSAGE + b"x" * length + b"\r\n") for length in (30, 10, 20, 40)]
    script: list[Step] = [("C", f"CREATE {folder}"), *(("C", data) for data in sizes)]
    script += [
        ("A", f"SELECT {folder}"),
        ("A", "SORT RETURN (SAVE) (SIZE) UTF-8 2:3"),
        ("A", "SEARCH $"),
        ("A", "SORT RETURN (ALL COUNT) (REVERSE SIZE) UTF-8 $"),
        ("A", "UID SORT RETURN (SAVE MIN) (REVERSE SIZE) UTF-8 ALL"),
        ("A", "FETCH $ (UID)"),
        ("A", "SORT RETURN (SAVE MAX ALL) (SIZE) UTF-8 1:3"),
        ("A", "SEARCH $"),
        ("A", "SORT (SIZE) UTF-8 $"),
        ("A", "THREAD ORDEREDSUBJECT UTF-8 $"),
        ("A", "SEARCH RETURN (SAVE) 4"),
        ("A", "UID SORT RETURN (MIN MAX) (SIZE) UTF-8 OR $ 1"),
    ]
    dialogue.assert_same(script)
    dialogue.both("A", "CLOSE")
    dialogue.both("C", f"DELETE {folder}")


MULTIPART = (
    b"From: a@example.org\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\npart one\r\n"
    b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\ncGFydCB0d28=\r\n--b--\r\n"
)
CATENATES = [
    # Not compared: a PARTIAL whose range crosses a line end (Dovecot counts the bytes of its maildir
    # file, whose lines end in LF alone) and an unknown part (Dovecot reads on after its BAD).
    b"CATENATE (TEXT " + literal(b"Subject: built\r\n\r\n") + b' URL "/catsrc/;UID=1/;SECTION=1")',
    b'CATENATE (URL "/catsrc/;UID=1" TEXT ' + literal(b"tail\r\n") + b")",
    b'CATENATE (URL "/catsrc/;uid=1/;section=2.MIME" URL "/catsrc/;UID=1/;SECTION=2/;PARTIAL=2.5")',
    b'CATENATE (URL "/catsrc/;UID=1/;SECTION=HEADER" URL "/catsrc/;UID=1/;SECTION=TEXT/;PARTIAL=0.3")',
    b'CATENATE (URL "/catsrc/;UID=1/;SECTION=HEADER.FIELDS%20(Subject%20From)")',
    b'CATENATE (URL "/catsrc/;UID=1/;SECTION=9" URL "/catsrc/;UID=1/;PARTIAL=900")',
    b"CATENATE (TEXT {0}\r\n)",
    b'(\\Seen) CATENATE (URL "/catsrc/;UID=1") CATENATE (URL "/catsrc/;UID=1/;SECTION=1")',
    b'CATENATE (URL "/catsrc/;UID=1") ' + literal(MESSAGE),
    b'CATENATE (URL "/catsrc/;UID=1") CATENATE (URL "/catsrc/;UID=7")',
    b'CATENATE (URL "/catsrc/;UID=7")',
    b'CATENATE (URL "/nosuch/;UID=1")',
    b'CATENATE (URL "/catsrc;UIDVALIDITY=5/;UID=1")',
    b'CATENATE (URL ";UID=1")',
    b'CATENATE (URL "/;UID=1")',
    b'CATENATE (URL "/catsrc/;UID=1;URLAUTH=anonymous")',
    b'CATENATE (URL "/catsrc/;UID=1/;PARTIAL=0.0")',
    b'CATENATE (URL "/catsrc/;UID=0")',
    b"CATENATE ()",
    b'CATENATE (TEXT "quoted")',
]


def test_catenate_builds_messages_from_text_and_urls(dialogue: Dialogue) -> None:
    """Each APPEND of CATENATEs, then what it stored; a bad URL stores nothing of the command."""
    script: list[Step] = [
        ("C", "CREATE catsrc"),
        ("C", append("catsrc", message=MULTIPART)),
        ("C", "CREATE cat"),
    ]
    for number, parts in enumerate(CATENATES, start=1):
        script += [
            ("A", b"APPEND cat " + parts),
            ("C", "EXAMINE cat"),
            ("C", f"FETCH {number}:* (FLAGS BODY.PEEK[])"),
        ]
    dialogue.assert_same(script)
    dialogue.both("C", "CLOSE")
    dialogue.both("C", "DELETE cat")


def test_catenate_reads_the_selected_folder_and_is_refused_like_append(dialogue: Dialogue) -> None:
    """`;UID=n` names the selected folder; a missing target is refused before the literal's `+`
    and before any URL is looked at; a literal over the quota is refused before its `+` too."""
    large = b"x" * (QUOTA_KIB * 1024 * 2)
    script: list[Step] = [
        ("C", "CREATE catsel"),
        ("C", append("catsel", message=MULTIPART)),
        ("A", "SELECT catsel"),
        ("A", b'APPEND catsel CATENATE (URL ";UID=1/;SECTION=1" URL "/catsel/;UID=1/;SECTION=2")'),
        ("A", b'APPEND catsel CATENATE (URL ";UID=9")'),
        ("A", b"APPEND nowhere CATENATE (TEXT " + literal(b"Subject: x\r\n\r\n") + b")"),
        ("A", b'APPEND nowhere CATENATE (URL "/catsel/;UID=1" URL "/nosuch/;UID=1")'),
        ("A", "NOOP"),
        ("A", "FETCH 1:* (BODY.PEEK[])"),
    ]
    dialogue.assert_same(script)
    over_quota = b'APPEND catsel CATENATE (URL ";UID=1" TEXT ' + literal(large) + b")"
    reference, ours = dialogue.both("A", over_quota)
    assert reference.tagged == ours.tagged == "NO [OVERQUOTA]"
    assert ours.untagged == ()  # refused before the `+` (Dovecot reads the literal first)
    dialogue.both("A", "CLOSE")
    dialogue.both("C", "DELETE catsel")


def rfc9051_answer(answer: Answer, selected: str | None = None) -> Answer:
    """Dovecot's IMAP4rev1 answer as RFC 9051 has it after ENABLE IMAP4rev2: no RECENT count, no
    \\Recent flag, no `[UNSEEN n]`; SELECT and EXAMINE (`selected`) end with a LIST line naming the
    folder."""
    kept = [_without_recent_flag(line) for line in answer.untagged if not _is_rev1_only(line)]
    if selected is not None:
        kept += normal_answer([f'* LIST () "/" {selected}\r\n'.encode()], b"t OK").untagged
    return Answer(answer.tagged, tuple(kept))


def _is_rev1_only(line: str) -> bool:
    return line.startswith("* OK [UNSEEN") or (
        line.startswith("['*'") and ast.literal_eval(line)[2] == "RECENT"
    )


def _without_recent_flag(line: str) -> str:
    if not line.startswith("['*'"):
        return line
    values = ast.literal_eval(line)
    if values[2] != "FETCH":
        return line
    items = values[3]
    for index in range(0, len(items), 2):
        if items[index] == "FLAGS":
            items[index + 1] = [flag for flag in items[index + 1] if flag != "\\RECENT"]
    return repr(values)


REV2_STEPS: list[tuple[str, str]] = [
    # (ours after ENABLE IMAP4rev2, what Dovecot is asked for the same answer in IMAP4rev1)
    ("SELECT rev2", "SELECT rev2"),
    ("SEARCH ALL", "SEARCH RETURN (ALL) ALL"),
    ("UID SEARCH SEEN", "UID SEARCH RETURN (ALL) SEEN"),
    ("SEARCH DELETED", "SEARCH RETURN (ALL) DELETED"),
    ("SEARCH RETURN (COUNT MIN) ALL", "SEARCH RETURN (COUNT MIN) ALL"),
    ("FETCH 1:* (FLAGS)", "FETCH 1:* (FLAGS)"),
    ("STORE 1 +FLAGS (\\Deleted)", "STORE 1 +FLAGS (\\Deleted)"),
    ("STATUS rev2 (MESSAGES UNSEEN SIZE)", "STATUS rev2 (MESSAGES UNSEEN SIZE)"),
    ("EXAMINE rev2", "EXAMINE rev2"),
    ("FETCH 1:* (FLAGS)", "FETCH 1:* (FLAGS)"),
]


def test_imap4rev2_answers_as_dovecot_does_with_the_rfc9051_differences(dialogue: Dialogue) -> None:
    """Dovecot 2.3 has no IMAP4rev2 (its ENABLE enables nothing), so its IMAP4rev1 answers with RFC
    9051's differences applied are what ours must say after ENABLE IMAP4rev2."""
    reference, ours = dialogue.sessions["A"]
    assert send(reference, "ENABLE IMAP4rev2").untagged == ()
    assert send(ours, "ENABLE IMAP4rev2").untagged == ("['*', 'ENABLED', 'IMAP4rev2']",)
    for step in in_folder("rev2", [("C", append("rev2", flags="\\Seen"))]):
        dialogue.both(*step)
    problems = []
    for ours_command, reference_command in REV2_STEPS:
        selected = ours_command.split()[1] if ours_command.startswith(("SELECT", "EXAMINE")) else None
        expected = rfc9051_answer(send(reference, reference_command), selected)
        got = highestmodseq_as_reference(ours_command, expected, send(ours, ours_command))
        if expected != got:
            problems.append(f"{ours_command}\n  rfc 9051: {expected}\n  ours:     {got}")
        if ours_command == "SEARCH ALL":  # a message arrives: EXISTS without RECENT
            dialogue.both("C", append("rev2"))
            reference_noop, ours_noop = send(reference, "NOOP"), send(ours, "NOOP")
            if rfc9051_answer(reference_noop) != ours_noop:
                problems.append(
                    f"NOOP\n  rfc 9051: {rfc9051_answer(reference_noop)}\n  ours:     {ours_noop}"
                )
    assert not problems, "\n".join(problems)
    deleted = ast.literal_eval(send(reference, "SEARCH RETURN (COUNT) DELETED").untagged[0])[-1]
    assert send(ours, "STATUS rev2 (DELETED)").untagged == (
        repr(["*", "STATUS", "rev2", ["DELETED", deleted]]),
    )
    dialogue.both("A", "CLOSE")
