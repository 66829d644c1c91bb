"""Several sessions on one mailbox answer like Dovecot 2.3: \\Recent, quota, another session's expunges.

Dovecot and our engine (on SQLite and on PostgreSQL) get the same interleaved commands from sessions
A, B and C (tests/interop/dialogue.py, fixtures in conftest.py); both users have a 64 KiB quota.
Each test works in a folder of its own, so the tests share the servers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.interop.dialogue import QUOTA_KIB, Dialogue, Step, append, in_folder

pytestmark = pytest.mark.slow


def test_the_first_session_to_select_gets_the_messages_as_recent(dialogue: Dialogue) -> None:
    script = in_folder(
        "recent1",
        [
            ("C", "STATUS recent1 (MESSAGES RECENT)"),
            ("A", "SELECT recent1"),
            ("B", "SELECT recent1"),
            ("C", "STATUS recent1 (RECENT)"),
            ("A", "SEARCH RECENT"),
            ("A", "SEARCH NEW"),
            ("A", "SEARCH OLD"),
            ("B", "SEARCH RECENT"),
            ("B", "SEARCH OLD"),
            ("A", "FETCH 1:* (FLAGS)"),
            ("B", "FETCH 1:* (FLAGS)"),
            ("A", "STATUS recent1 (RECENT)"),
            ("B", "STATUS recent1 (RECENT)"),
            ("A", "STORE 1 +FLAGS (\\Seen $Label)"),
            ("A", "SEARCH NEW"),
            ("A", "UNSELECT"),
            ("A", "SELECT recent1"),
        ],
    )
    dialogue.assert_same(script)


def test_a_new_message_is_recent_to_the_session_that_syncs_first(dialogue: Dialogue) -> None:
    script = in_folder(
        "recent2",
        [
            ("A", "SELECT recent2"),
            ("B", "EXAMINE recent2"),
            ("C", append("recent2")),
            ("B", "NOOP"),
            ("A", "NOOP"),
            ("B", "NOOP"),
            ("B", "FETCH 4 (FLAGS)"),
            ("A", "FETCH 4 (FLAGS)"),
            ("A", append("recent2")),
            ("B", "NOOP"),
            ("A", "SEARCH RECENT"),
            ("A", "STORE 4 +FLAGS (\\Deleted)"),
            ("A", "EXPUNGE"),
            ("B", "NOOP"),
            ("C", "STATUS recent2 (RECENT MESSAGES)"),
        ],
    )
    dialogue.assert_same(script)


def test_examine_sees_recent_messages_without_taking_them(dialogue: Dialogue) -> None:
    script = in_folder(
        "recent3",
        [
            ("A", "EXAMINE recent3"),
            ("A", "FETCH 1 (FLAGS)"),
            ("C", "STATUS recent3 (RECENT)"),
            ("B", "SELECT recent3"),
            ("C", "STATUS recent3 (RECENT)"),
        ],
    )
    dialogue.assert_same(script)


@pytest.mark.parametrize(
    "command",
    [
        "STORE 1 +FLAGS (\\Recent)",
        "STORE 1 FLAGS (\\Recent)",
        "STORE 1 -FLAGS (\\RECENT)",
        "UID STORE 1 +FLAGS.SILENT (\\Seen \\Recent)",
    ],
)
def test_storing_recent_is_bad(dialogue: Dialogue, command: str) -> None:
    script = in_folder("recent4", [("A", "SELECT recent4"), ("A", command), ("A", "FETCH 1 (FLAGS)")])
    dialogue.assert_same(script)
    dialogue.both("C", "DELETE recent4")


def test_an_append_over_quota_is_refused_before_its_literal_is_sent(dialogue: Dialogue) -> None:
    too_large = b"x" * (QUOTA_KIB * 1024 + 1)
    script: list[tuple[str, str | bytes]] = [
        ("A", b"APPEND INBOX {%d}\r\n" % len(too_large) + too_large),
        ("A", b"APPEND INBOX {%d+}\r\n" % len(too_large) + too_large),
        ("A", "NOOP"),
    ]
    dialogue.assert_same(script)


def test_a_message_expunged_by_another_session_is_fetched_with_its_last_flags(dialogue: Dialogue) -> None:
    script = in_folder(
        "expunged1",
        [
            ("A", "SELECT expunged1"),
            ("B", "SELECT expunged1"),
            ("B", "STORE 1 +FLAGS (\\Deleted)"),
            ("B", "EXPUNGE"),
            ("A", "FETCH 1:* (FLAGS)"),
            ("A", "SEARCH DELETED"),
            ("A", "NOOP"),
            ("A", "FETCH 1:* (FLAGS)"),
        ],
    )
    dialogue.assert_same(script)


def test_flags_another_session_stored_are_fetched_and_then_announced(dialogue: Dialogue) -> None:
    script = in_folder(
        "flags1",
        [
            ("A", "SELECT flags1"),
            ("B", "SELECT flags1"),
            ("B", "UID STORE 2 +FLAGS (\\Flagged $Later)"),
            ("A", "FETCH 2 (FLAGS)"),
            ("A", "SEARCH FLAGGED"),
            ("B", "UID STORE 2 -FLAGS (\\Flagged)"),
            ("A", "SEARCH FLAGGED"),
            ("A", "NOOP"),
        ],
    )
    dialogue.assert_same(script)


@pytest.mark.parametrize(
    "command",
    [
        "SEARCH LARGER 99999999999999999999",
        "SEARCH LARGER 18446744073709551616",
        "SEARCH LARGER 4294967295",
        "FETCH 1 (BODY.PEEK[]<0.99999999999999999999>)",
        "FETCH 1 (BODY.PEEK[]<99999999999999999999.1>)",
        "FETCH 1 (BODY.PEEK[]<0.9223372036854775808>)",
        "FETCH 1 (BODY.PEEK[]<4294967295.1>)",
    ],
)
def test_numbers_too_large_are_bad(dialogue: Dialogue, command: str) -> None:
    """Numbers are 32-bit, as RFC 3501 has them (tests/unit/test_imap_compliance.py); Dovecot takes
    sizes up to 2^64 - 1 and partial offsets up to 2^63 - 1, so only what both refuse is compared."""
    dialogue.assert_same(in_folder("numbers", [("A", "EXAMINE numbers"), ("A", command)]))
    dialogue.both("A", "CLOSE")
    dialogue.both("C", "DELETE numbers")


KEYWORD_STORES = {
    "expunged-elsewhere": [
        ("B", "STORE 1 +FLAGS (\\Deleted)"),
        ("B", "EXPUNGE"),
        ("A", "STORE 1 +FLAGS ($Gone)"),
        ("A", "FETCH 1 (FLAGS)"),
    ],
    "stored-elsewhere": [("B", "STORE 2 +FLAGS ($Both)"), ("A", "STORE 2 +FLAGS ($Both)")],
    "stored-elsewhere-silent": [("B", "STORE 2 +FLAGS ($Both)"), ("A", "STORE 2 +FLAGS.SILENT ($Both)")],
    "other-keyword-elsewhere": [("B", "STORE 2 +FLAGS ($Other)"), ("A", "STORE 2 +FLAGS (\\Seen)")],
    "already-set-elsewhere": [("B", "STORE 2 +FLAGS (\\Seen $Other)"), ("A", "STORE 2 +FLAGS (\\Seen)")],
    "unchanged": [
        ("A", "STORE 2 +FLAGS ($Twice)"),
        ("A", "STORE 2 +FLAGS ($Twice)"),
        ("A", "STORE 2 -FLAGS (\\Seen)"),
    ],
    "removed": [("A", "STORE 3 -FLAGS ($Never)")],
    "silent": [("A", "STORE 1:3 +FLAGS.SILENT ($Quiet)")],
}


@pytest.mark.parametrize("case", KEYWORD_STORES)
def test_store_answers_and_announces_its_keywords_as_in_dovecot(dialogue: Dialogue, case: str) -> None:
    """A FETCH for each message whose flags the client has not seen; every keyword the STORE names in
    FLAGS (imaptest's stress run checks it)."""
    folder = f"keywords-{case}"
    dialogue.assert_same(
        in_folder(
            folder,
            [("A", f"SELECT {folder}"), ("B", f"SELECT {folder}"), *KEYWORD_STORES[case], ("A", "NOOP")],
        )
    )


@pytest.mark.parametrize("refused", ["STORE 2 +FLAGS (\\Seen)", "UID STORE 2 +FLAGS (\\Seen)"])
def test_a_store_in_a_read_only_folder_announces_the_keywords_of_messages_expunged_elsewhere(
    dialogue: Dialogue, refused: str
) -> None:
    """The STORE is refused before it reads the changes (Dovecot answers OK and stores nothing, we NO
    [READ-ONLY]); the changes read after it name the keyword before a FETCH shows it."""
    folder = f"refused-{len(refused)}"
    dialogue.assert_same(
        in_folder(
            folder,
            [
                ("A", f"EXAMINE {folder}"),
                ("B", f"SELECT {folder}"),
                ("B", "STORE 1 +FLAGS ($New \\Deleted)"),
                ("B", "EXPUNGE"),
            ],
        )
    )
    expected, got = dialogue.both("A", refused)
    assert (expected.tagged, got.tagged) == ("OK", "NO [READ-ONLY]")
    assert got.untagged == expected.untagged
    dialogue.assert_same([("A", "FETCH 1:* (FLAGS)"), ("A", "NOOP")])


BAD_COMMANDS = [
    "STORE 1 +FLAGS (\\Recent)",
    "UID STORE 1 +FLAGS (\\Recent)",
    "FETCH 1 (FLAGS",
    "FETCH 0 (FLAGS)",
    "FETCH 9 (FLAGS)",
    "UID FETCH 1 (NOTANITEM)",
    "SEARCH NOTAKEY",
    "UID SEARCH NOTAKEY",
    "COPY 1",
    "UID EXPUNGE",
]
CHANGES_ELSEWHERE: dict[str, Callable[[str], list[Step]]] = {
    "flags-and-new": lambda folder: [("B", "STORE 2 +FLAGS ($Told)"), ("C", append(folder))],
    "expunge": lambda _folder: [("B", "STORE 1 +FLAGS (\\Deleted)"), ("B", "EXPUNGE")],
}


@pytest.mark.parametrize("changes", CHANGES_ELSEWHERE)
@pytest.mark.parametrize("refused", BAD_COMMANDS)
def test_a_bad_command_carries_no_updates(dialogue: Dialogue, refused: str, changes: str) -> None:
    """Another session's changes are told after the next command that is not BAD, as in Dovecot: a
    BAD command was not run, so nothing is reported with it."""
    folder = f"bad-{BAD_COMMANDS.index(refused)}-{changes}"
    elsewhere = CHANGES_ELSEWHERE[changes](folder)
    dialogue.assert_same(
        in_folder(
            folder,
            [("A", f"SELECT {folder}"), ("B", f"SELECT {folder}"), *elsewhere, ("A", refused), ("A", "NOOP")],
        )
    )


def test_a_fetch_that_sets_seen_shows_it_after_another_sessions_change(dialogue: Dialogue) -> None:
    """The FETCH's own \\Seen is newer than the changes read before it: the flags told after it are
    those it wrote, as in Dovecot, not the older ones read before."""
    dialogue.assert_same(
        in_folder(
            "seen-after",
            [
                ("A", "SELECT seen-after"),
                ("B", "SELECT seen-after"),
                ("B", "STORE 2 +FLAGS ($Told)"),
                ("A", "FETCH 2 (FLAGS BODY[TEXT])"),
                ("A", "SEARCH UNSEEN"),
                ("A", "NOOP"),
            ],
        )
    )


def test_with_condstore_on_stores_and_updates_give_modseq_before_flags(dialogue: Dialogue) -> None:
    """Dovecot's order for a STORE's answer and for another session's changes told after a command;
    a FETCH gives its items in the order asked."""
    dialogue.assert_same(
        in_folder(
            "modseq-order",
            [
                ("A", "ENABLE CONDSTORE"),
                ("B", "ENABLE CONDSTORE"),
                ("A", "SELECT modseq-order"),
                ("B", "SELECT modseq-order"),
                ("B", "STORE 1 +FLAGS ($New)"),
                ("B", "UID STORE 2 +FLAGS (\\Flagged)"),
                ("A", "NOOP"),
                ("A", "FETCH 1:2 (FLAGS MODSEQ)"),
            ],
        )
    )


def test_with_qresync_on_highestmodseq_is_told_when_the_updates_move_it(dialogue: Dialogue) -> None:
    """In the tagged OK, or in an untagged OK when the tagged one has a code of its own; not when
    the MODSEQs sent already say it (RFC 7162 section 3.2.10, as Dovecot decides it)."""
    dialogue.assert_same(
        in_folder(
            "told-modseq",
            [
                ("A", "ENABLE QRESYNC"),
                ("B", "ENABLE QRESYNC"),
                ("A", "SELECT told-modseq"),
                ("B", "SELECT told-modseq"),
                ("B", "STORE 1 +FLAGS ($New)"),
                ("A", "NOOP"),
                ("B", "STORE 2 +FLAGS.SILENT (\\Deleted)"),
                ("B", "EXPUNGE"),
                ("A", "NOOP"),
                ("A", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)"),
                ("C", append("told-modseq")),
                ("A", "NOOP"),
                ("C", append("told-modseq")),
                ("A", "COPY 1 told-modseq"),
            ],
        )
    )


def test_a_silent_store_with_condstore_on_shows_a_change_made_elsewhere(dialogue: Dialogue) -> None:
    """.SILENT leaves out the STORE's own change only: flags another session set, which the client
    has not been told of, come with the MODSEQ (as in Dovecot), or the client would never hear of them."""
    dialogue.assert_same(
        in_folder(
            "silent-condstore",
            [
                ("A", "ENABLE QRESYNC"),
                ("B", "ENABLE QRESYNC"),
                ("A", "SELECT silent-condstore"),
                ("B", "SELECT silent-condstore"),
                ("A", "STORE 1 +FLAGS ($Q)"),
                ("B", "STORE 1 +FLAGS.SILENT (\\Seen)"),
                ("B", "NOOP"),
                ("C", "ENABLE QRESYNC"),
                ("C", "SELECT silent-condstore"),
                ("C", "STORE 2 +FLAGS ($R)"),
                ("B", "UID STORE 2 +FLAGS.SILENT (\\Seen)"),
                ("B", "NOOP"),
            ],
        )
    )
