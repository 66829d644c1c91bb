"""Our IMAP server answers like Dovecot 2.3 for the same messages.

The corpus (tests/interop/corpus.py) is APPENDed byte for byte to a fresh Dovecot and to our IMAP
engine over the real store (on SQLite and on PostgreSQL); then both get the same commands on an
EXAMINEd INBOX and their answers are compared item by item.

Deliberate differences (see also mime/__init__.py):
- A message stored with bare LF line ends is served as stored. Dovecot serves it as if every LF were
  CRLF: its RFC822.SIZE, BODY[] and section bytes and BODYSTRUCTURE sizes count one more octet per
  line. The comparison turns Dovecot's CRLF back into LF for that message and checks the rest.
- Dovecot caches the structure of a 7-bit US-ASCII text/plain message when it is saved and from then
  on answers BODY and BODYSTRUCTURE for it in lower case, whatever the header said; we keep the
  header's case (Dovecot's own answer before caching). Both are compared in lower case for it.
- \\Recent: both give it to the first session that sees a message, so it is compared like any flag
  (tests/interop/test_sessions_vs_dovecot.py compares it across sessions). UIDVALIDITY is each
  server's own choice.
- BINARY: both send the decoded bytes; Dovecot writes them as a literal8 (~{n}) whenever they are
  8-bit, ours only when they contain NUL. Values are compared, not the literal syntax. NULs are kept
  in BINARY and sent as 0x80 in BODY, by both.
- BINARY.SIZE: ours is the length of the BINARY answer, as RFC 3516 defines it. Dovecot 2.3.19
  answers less for base64 parts (751 for a part whose BINARY is 777 octets) and for multiparts, so
  ours is checked against the length of Dovecot's BINARY answer instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bench.imap_wire import Value, fetch_items, parse_line

from tests.interop.comparison import Pair, fetch_differences, response_codes, search_difference
from tests.interop.corpus import BARE_LF, CORPUS, MALFORMED, UPPER_CASE_TYPE, number_of
from tests.support.dovecot import ImapAccount, load_messages

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def accounts(dovecot_and_ours: tuple[ImapAccount, ImapAccount]) -> tuple[ImapAccount, ImapAccount]:
    """(Dovecot, our engine over the store on each database), both holding the corpus in INBOX."""
    for account in dovecot_and_ours:
        load_messages(account, CORPUS)
    return dovecot_and_ours


@pytest.fixture(scope="module")
def pair(accounts: tuple[ImapAccount, ImapAccount]) -> Iterator[Pair]:
    reference, ours = (account.connect() for account in accounts)
    with reference, ours:
        for wire in (reference, ours):
            wire.command("EXAMINE INBOX")
        yield Pair(reference, ours)


BARE_LF_NUMBER = number_of(BARE_LF)
UPPER_CASE_NUMBER = number_of(UPPER_CASE_TYPE)
MALFORMED_NUMBER = number_of(MALFORMED)


def documented(number: int, value: Value) -> Value:
    """An answer with the documented differences taken out: Dovecot's answer for the
    bare-LF message turned back into the stored bytes (see the docstring)."""
    if isinstance(value, list):
        return [documented(number, item) for item in value]
    if number == BARE_LF_NUMBER and isinstance(value, bytes):
        return value.replace(b"\r\n", b"\n")
    return value


def case_blind_for_cached_text(number: int, value: Value) -> Value:
    """BODY/BODYSTRUCTURE of the upper-case text/plain message in lower case (see the docstring)."""
    if number != UPPER_CASE_NUMBER:
        return documented(number, value)
    return _lower(value)


def _lower(value: Value) -> Value:
    if isinstance(value, list):
        return [_lower(item) for item in value]
    return value.lower() if value is not None else None


FETCH_ITEMS = [
    "FLAGS",
    "INTERNALDATE",
    "UID",
    "ENVELOPE",
    "RFC822.HEADER",
    "BODY.PEEK[]",
    "BODY.PEEK[HEADER]",
    "BODY.PEEK[TEXT]",
    "BODY.PEEK[1]",
    "BODY.PEEK[1.MIME]",
    "BODY.PEEK[2]",
    "BODY.PEEK[2.MIME]",
    "BODY.PEEK[2.1]",
    "BODY.PEEK[2.HEADER]",
    "BODY.PEEK[2.TEXT]",
    "BODY.PEEK[1.1]",
    "BODY.PEEK[3]",
    "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM DATE)]",
    "BODY.PEEK[2.HEADER.FIELDS (CONTENT-TYPE)]",
    "BODY.PEEK[]<0.10>",
    "BODY.PEEK[TEXT]<5.20>",
    "BODY.PEEK[1]<2.3>",
    "BODY.PEEK[]<100000.10>",
]
"""Items whose answers do not depend on line ends (checked for every message, bare LF adjusted)."""

SIZE_ITEMS = ["RFC822.SIZE", "BODY", "BODYSTRUCTURE"]
"""Items that count octets: the bare-LF message is left out (Dovecot counts CRLF, we count LF)."""

BINARY_SECTIONS = ["1", "2", "1.1", "2.1"]


@pytest.mark.parametrize("item", FETCH_ITEMS)
def test_fetch_item_matches_dovecot(pair: Pair, item: str) -> None:
    assert fetch_differences(pair, f"FETCH 1:* ({item})", documented) == []


@pytest.mark.parametrize("item", SIZE_ITEMS)
def test_sizes_and_structures_match_dovecot_for_crlf_messages(pair: Pair, item: str) -> None:
    others = f"1:{BARE_LF_NUMBER - 1},{BARE_LF_NUMBER + 1}:*"
    assert fetch_differences(pair, f"FETCH {others} ({item})", case_blind_for_cached_text) == []


def test_bare_lf_message_is_served_as_stored(pair: Pair) -> None:
    stored = CORPUS[BARE_LF_NUMBER - 1].raw
    answer = pair.ours.command(f"FETCH {BARE_LF_NUMBER} (RFC822.SIZE BODY.PEEK[])")
    values = parse_line(answer.lines[0])[3]
    assert values == ["RFC822.SIZE", str(len(stored)), "BODY[]", stored]


DECODABLE = f"1:{MALFORMED_NUMBER - 1},{MALFORMED_NUMBER + 1}:*"


@pytest.mark.parametrize("section", BINARY_SECTIONS)
def test_binary_fetch_matches_dovecot(pair: Pair, section: str) -> None:
    assert fetch_differences(pair, f"FETCH {DECODABLE} (BINARY.PEEK[{section}])", documented) == []


@pytest.mark.parametrize("section", BINARY_SECTIONS)
def test_binary_size_is_the_size_of_dovecots_binary_answer(pair: Pair, section: str) -> None:
    reference = fetch_items(pair.reference.command(f"FETCH {DECODABLE} (BINARY.PEEK[{section}])"))
    ours = fetch_items(pair.ours.command(f"FETCH {DECODABLE} (BINARY.SIZE[{section}])"))
    expected = {n: len(documented(n, items[f"BINARY[{section}]"]) or b"") for n, items in reference.items()}
    assert {n: int(str(items[f"BINARY.SIZE[{section}]"])) for n, items in ours.items()} == expected


@pytest.mark.parametrize("item", ["BINARY.PEEK[2]", "BINARY.SIZE[2]"])
def test_binary_fetch_of_an_unknown_transfer_encoding_is_refused_like_dovecot(pair: Pair, item: str) -> None:
    reference, ours = pair.both(f"FETCH {MALFORMED_NUMBER} ({item})")
    assert b"NO [UNKNOWN-CTE]" in reference.tagged
    assert b"NO [UNKNOWN-CTE]" in ours.tagged


def test_fetch_without_peek_and_store_answer_like_dovecot(accounts: tuple[ImapAccount, ImapAccount]) -> None:
    """In a copy of three messages, so that the INBOX other tests read never changes."""
    reference, ours = (account.connect() for account in accounts)
    with reference, ours:
        selected = Pair(reference, ours)
        for wire in (reference, ours):
            wire.command("CREATE Scratch")
            wire.command("EXAMINE INBOX")
            wire.command("COPY 1:3 Scratch")
            wire.command("SELECT Scratch")
        for command in (
            "FETCH 2 (BODY[TEXT])",
            "FETCH 1:* (FLAGS)",
            "STORE 2 -FLAGS (\\Seen)",
            "STORE 1:3 +FLAGS ($Later)",
            "STORE 3 FLAGS (\\Answered)",
            "UID STORE 1 -FLAGS.SILENT ($Later)",
            "FETCH 1:* (FLAGS)",
        ):
            assert fetch_differences(selected, command, documented) == []


def test_uid_fetch_of_a_range_matches_dovecot(pair: Pair) -> None:
    assert fetch_differences(pair, "UID FETCH 3:6 (FLAGS ENVELOPE)", documented) == []


SEARCHES = [
    "ALL",
    "FROM example.com",
    "FROM billing",
    "FROM user-from@domain.org",
    "FROM comment",
    'FROM "Müller"',
    "TO recipient007",
    "CC team",
    "CC b@example.com",
    "BCC hidden",
    "SUBJECT invoice",
    'SUBJECT "very long subject"',
    "SUBJECT fwd",
    'SUBJECT "Grüße"',
    'SUBJECT "réunion"',
    "BODY Invoice",
    'BODY "BODY words"',
    'BODY "Bestätigungscode"',
    "BODY nothing-like-this",
    "TEXT 42.00",
    "TEXT long@example.com",
    "TEXT inner",
    "HEADER Message-ID inv42",
    "HEADER X-Folded second",
    "HEADER X-Only nobody",
    'HEADER Content-Type ""',
    "SINCE 5-Feb-2026",
    "BEFORE 5-Feb-2026",
    "ON 7-Feb-2026",
    "SENTSINCE 4-Feb-2026",
    "SENTBEFORE 4-Feb-2026",
    "SENTON 5-Feb-2026",
    "LARGER 1000",
    "SMALLER 300",
    "SEEN",
    "UNSEEN",
    "FLAGGED",
    "UNFLAGGED",
    "ANSWERED",
    "DELETED",
    "UNDELETED",
    "DRAFT",
    "UNDRAFT",
    "KEYWORD $Important",
    "UNKEYWORD $Important",
    "UID 3:5",
    "UID 10:*",
    "UID *",
    "2:4",
    "2,5,9:*",
    "OR FROM billing SUBJECT broken",
    "NOT SEEN",
    "NOT (FROM example.com SEEN)",
    "OR (SEEN FLAGGED) (UNSEEN SMALLER 400)",
    "SEEN LARGER 500 BEFORE 10-Feb-2026",
    'CHARSET UTF-8 SUBJECT "Köln"',
    "RECENT",
    "NEW",
    "OLD",
    "OR NEW DELETED",
]


@pytest.mark.parametrize("criteria", SEARCHES)
def test_search_finds_what_dovecot_finds(pair: Pair, criteria: str) -> None:
    assert search_difference(pair, _utf8_literal(criteria)) is None


def _utf8_literal(criteria: str) -> str:
    """8-bit search strings are quoted UTF-8 after CHARSET UTF-8 (Dovecot refuses 8-bit atoms)."""
    if criteria.isascii() or criteria.startswith("CHARSET"):
        return criteria
    return f"CHARSET UTF-8 {criteria}"


@pytest.mark.parametrize("command", ["EXAMINE", "SELECT"])
def test_select_answers_have_dovecot_shape(accounts: tuple[ImapAccount, ImapAccount], command: str) -> None:
    reference, ours = (_codes(account, f"{command} INBOX") for account in accounts)
    assert set(ours) >= set(reference) - {"HIGHESTMODSEQ"}
    for code in ("EXISTS", "RECENT", "UNSEEN", "UIDNEXT"):
        assert ours[code] == reference[code], code
    assert _flag_set(ours["FLAGS"]) == _flag_set(reference["FLAGS"])
    assert _flag_set(ours["PERMANENTFLAGS"]) == _flag_set(reference["PERMANENTFLAGS"])


def test_status_answers_match_dovecot(accounts: tuple[ImapAccount, ImapAccount]) -> None:
    query = "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)"
    answers = []
    for account in accounts:
        with account.connect() as wire:
            answers.append(wire.command(query).untagged("STATUS")[0][3])
    reference, ours = answers
    assert _pairs(ours) == _pairs(reference)


def _codes(account: ImapAccount, command: str) -> dict[str, list[Value]]:
    with account.connect() as wire:
        return response_codes(wire.command(command))


def _flag_set(values: list[Value]) -> set[str]:
    flags = values[0] if values and isinstance(values[0], list) else values
    return {flag.lower() for flag in flags if isinstance(flag, str)}


def _pairs(values: Value) -> dict[str, Value]:
    assert isinstance(values, list)
    return {str(name).upper(): value for name, value in zip(values[::2], values[1::2], strict=True)}
