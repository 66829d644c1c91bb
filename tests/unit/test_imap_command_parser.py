"""The IMAP command parser: every command's arguments, literals, SEARCH and FETCH grammars."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.domain.mail_session import FlagChange, NewMessage
from mailservice.domain.search_criteria import AllOf, AnyOf, Flag, LargerThan, Not, Received, SmallerThan
from mailservice.mime.imap_string import literal, quoted
from mailservice.protocols.imap.commands import (
    AppendArgs,
    Authenticate,
    CatenatedMessage,
    CopyArgs,
    FetchArgs,
    ListArgs,
    Login,
    SearchArgs,
    Select,
    SequenceArg,
    StatusArgs,
    StoreArgs,
    TextPart,
    UrlPart,
    parse_command,
)
from mailservice.protocols.imap.fetch_items import SectionItem
from mailservice.protocols.imap.mailbox_names import decode_mailbox, encode_mailbox
from mailservice.protocols.imap.parse_error import ParseError
from mailservice.protocols.imap.search_keys import (
    HeaderKey,
    ModSeqKey,
    SentDateKey,
    SequenceKey,
    TextKey,
    UnknownCharset,
)
from mailservice.protocols.imap.sequence_set import parse_sequence_set
from tests.support.cheap_strategies import joined_bytes


def test_login_takes_atoms_quoted_strings_and_literals() -> None:
    command = parse_command(b'a1 LOGIN agent@agents.test "pa\\"ss"')
    assert command.tag == "a1" and command.name == "LOGIN"
    assert command.args == Login(b"agent@agents.test", b'pa"ss')
    command = parse_command(b"a2 login {5}\r\nagent {3+}\r\n\x00\xff}")
    assert command.args == Login(b"agent", b"\x00\xff}")


def test_uid_commands_keep_their_name_and_say_uid() -> None:
    command = parse_command(b"7 UID FETCH 1:* (FLAGS)")
    assert command.uid and command.name == "FETCH"
    assert isinstance(command.args, FetchArgs) and command.args.request.items == ("FLAGS",)


def test_uid_expunge_takes_a_set_and_expunge_nothing() -> None:
    assert parse_command(b"a UID EXPUNGE 3:5").args == SequenceArg(parse_sequence_set(b"3:5"))
    with pytest.raises(ParseError):
        parse_command(b"a EXPUNGE 3:5")
    with pytest.raises(ParseError):
        parse_command(b"a UID EXPUNGE")


def test_fetch_macros_expand() -> None:
    args = parse_command(b"a FETCH 1 FULL").args
    assert isinstance(args, FetchArgs)
    assert args.request.items == ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY")


def test_fetch_sections_partials_and_modifiers() -> None:
    args = parse_command(
        b"a FETCH 1:3 (BODY.PEEK[1.2.HEADER.FIELDS (From Subject)]<10.20> BINARY[2] BINARY.SIZE[1]"
        b" BODY[] body[1.mime] RFC822.SIZE MODSEQ) (CHANGEDSINCE 12)"
    ).args
    assert isinstance(args, FetchArgs)
    first, binary, size, whole, mime = args.request.items[:5]
    assert first == SectionItem("BODY", "1.2.HEADER.FIELDS", ("From", "Subject"), True, (10, 20))
    assert first.label == "BODY[1.2.HEADER.FIELDS (From Subject)]<10>"
    assert binary == SectionItem("BINARY", "2")
    assert size == SectionItem("BINARY.SIZE", "1", peek=True)
    assert whole == SectionItem("BODY", "") and whole.sets_seen
    assert mime == SectionItem("BODY", "1.MIME")
    assert args.request.changed_since == 12


@pytest.mark.parametrize(
    "line",
    [
        b"a FETCH 1 (BODY[0])",
        b"a FETCH 1 BODY[MIME]",
        b"a FETCH 1 (FLAGS",
        b"a FETCH 1 BODY[HEADER.FIELDS ()]",
        b"a FETCH 1 BODY[]<5.0>",
        b"a FETCH 1 NONSENSE",
        b"a FETCH x FLAGS",
    ],
)
def test_invalid_fetches_are_parse_errors_with_the_tag(line: bytes) -> None:
    with pytest.raises(ParseError) as raised:
        parse_command(line)
    assert raised.value.tag == "a"


def test_store_forms() -> None:
    args = parse_command(b"s STORE 2:4 (UNCHANGEDSINCE 9) +FLAGS.SILENT (\\Seen $Label)").args
    assert args == StoreArgs(
        parse_sequence_set(b"2:4"), FlagChange.ADD, True, frozenset({"\\Seen", "$Label"}), 9
    )
    args = parse_command(b"s STORE 1 -FLAGS \\Deleted \\Flagged").args
    assert args == StoreArgs(
        parse_sequence_set(b"1"), FlagChange.REMOVE, False, frozenset({"\\Deleted", "\\Flagged"}), None
    )
    args = parse_command(b"s STORE 1 FLAGS ()").args
    assert isinstance(args, StoreArgs) and args.change is FlagChange.REPLACE and not args.flags


def test_search_grammar_covers_every_key() -> None:
    args = parse_command(
        b"s SEARCH CHARSET UTF-8 OR (FROM alice SEEN) NOT UID 3:* LARGER 10 SENTSINCE 1-Feb-2026"
        b' HEADER X-Tag "v" BODY {2+}\r\n\xc3\xa9 1:2 MODSEQ 5 KEYWORD $Junk NEW'
    ).args
    assert isinstance(args, SearchArgs) and args.charset == "UTF-8"
    assert isinstance(args.key, AllOf)
    keys = args.key.criteria
    assert keys[0] == AnyOf(
        (
            AllOf((HeaderKey("from", "alice"), Flag("\\Seen", True))),
            Not(SequenceKey(True, parse_sequence_set(b"3:*"))),
        )
    )
    assert keys[1] == LargerThan(10)
    assert keys[2] == SentDateKey("SINCE", date(2026, 2, 1))
    assert keys[3] == HeaderKey("x-tag", "v")
    assert keys[4] == TextKey(False, "é")
    assert keys[5] == SequenceKey(False, parse_sequence_set(b"1:2"))
    assert keys[6] == ModSeqKey(5)
    assert keys[7] == Flag("$Junk", True)
    assert keys[8:] == (Flag("\\Recent", True), Flag("\\Seen", False))


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("BEFORE 5-Feb-2026", Received(before=datetime(2026, 2, 5, tzinfo=UTC))),
        ("SINCE 5-Feb-2026", Received(since=datetime(2026, 2, 5, tzinfo=UTC))),
        ("ON 28-Feb-2026", Received(datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))),
        ("ON 31-Dec-9999", Received(since=datetime(9999, 12, 31, tzinfo=UTC))),
        ("SMALLER 7", SmallerThan(7)),
        ("UNKEYWORD work", Flag("work", present=False)),
    ],
)
def test_keys_shared_with_q_are_read_into_the_shared_criteria(key: str, expected: object) -> None:
    args = parse_command(b"s SEARCH " + key.encode()).args

    assert isinstance(args, SearchArgs) and args.key == expected


def test_search_with_an_unknown_charset_is_refused_as_such() -> None:
    with pytest.raises(UnknownCharset):
        parse_command(b"s SEARCH CHARSET KOI8-R TEXT x")


def test_append_with_flags_and_date() -> None:
    args = parse_command(b'a APPEND Sent (\\Seen \\Draft) "05-Mar-2026 10:00:00 +0100" {3+}\r\nabc').args
    moment = datetime(2026, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert args == AppendArgs("Sent", (NewMessage(b"abc", frozenset({"\\Seen", "\\Draft"}), moment),))
    assert datetime(2026, 3, 5, 9, 0, tzinfo=UTC) == args.messages[0].internal_date


def test_multiappend_reads_every_message_with_its_own_flags_and_date() -> None:
    args = parse_command(
        b'a APPEND Sent {1+}\r\na (\\Seen) {2+}\r\nbc "05-Mar-2026 10:00:00 +0000" {0+}\r\n'
    ).args
    assert isinstance(args, AppendArgs)
    assert all(isinstance(m, NewMessage) for m in args.messages)
    assert [
        (m.raw, m.flags, m.internal_date is not None) for m in args.messages if isinstance(m, NewMessage)
    ] == [
        (b"a", frozenset(), False),
        (b"bc", frozenset({"\\Seen"}), False),
        (b"", frozenset(), True),
    ]


def test_list_forms() -> None:
    args = parse_command(b'l LIST (SUBSCRIBED) "" ("INBOX" %/x) RETURN (SPECIAL-USE CHILDREN)').args
    assert args == ListArgs(
        "", ("INBOX", "%/x"), frozenset({"SUBSCRIBED"}), frozenset({"SPECIAL-USE", "CHILDREN"}), extended=True
    )
    assert parse_command(b'l LIST "" *').args == ListArgs("", ("*",))


def test_select_status_copy_authenticate() -> None:
    assert parse_command(b"s SELECT inbox (CONDSTORE)").args == Select("INBOX", True)
    assert parse_command(b"s STATUS x (MESSAGES UIDNEXT)").args == StatusArgs("x", ("MESSAGES", "UIDNEXT"))
    assert parse_command(b"s UID MOVE 1:2 Trash").args == CopyArgs(parse_sequence_set(b"1:2"), "Trash")
    assert parse_command(b"s AUTHENTICATE PLAIN AGEAYg==").args == Authenticate("PLAIN", b"AGEAYg==")
    assert parse_command(b"s AUTHENTICATE PLAIN").args == Authenticate("PLAIN", None)


def test_mailbox_names_round_trip_through_modified_utf7() -> None:
    assert encode_mailbox("Entwürfe & Co") == b"Entw&APw-rfe &- Co"
    assert decode_mailbox(b"Entw&APw-rfe &- Co") == "Entwürfe & Co"
    assert decode_mailbox(b"inbox/sub") == "INBOX/sub"


@given(st.text(max_size=20))
def test_any_mailbox_name_round_trips(name: str) -> None:
    if name[:5].upper() == "INBOX":
        return
    assert decode_mailbox(encode_mailbox(name)) == name


@given(st.binary(max_size=80))
def test_any_bytes_either_parse_or_raise_a_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_command(data)


commands = st.sampled_from(
    [b"a1 FETCH ", b"a1 UID SEARCH ", b"a1 STORE ", b"a1 LOGIN ", b"a1 APPEND ", b"a1 LIST ", b"a1 SEARCH "]
)
tails = joined_bytes(
    [
        b"1:*",
        b" ",
        b"(",
        b")",
        b"BODY[",
        b"]",
        b"<1.2>",
        b'"x"',
        b"{3}\r\nabc",
        b"NOT",
        b"OR",
        b"\\Seen",
        b"FLAGS",
        b"HEADER.FIELDS",
        b"1-Feb-2026",
        b"+FLAGS",
        b"INBOX",
        b"{99}\r\n",
        b"*",
        b"CHARSET",
    ],
    10,
)


@given(commands, tails)
def test_command_shaped_input_either_parses_or_raises_a_parse_error(start: bytes, tail: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_command(start + tail)


@given(st.binary(max_size=30), st.binary(max_size=30), st.booleans())
def test_login_strings_round_trip_as_literals_or_quoted(
    user: bytes, password: bytes, as_literal: bool
) -> None:
    def encode(value: bytes) -> bytes:
        if as_literal or any(byte in b"\r\n\x00" or byte > 127 for byte in value):
            return literal(value)
        return quoted(value)

    assert parse_command(b"t LOGIN " + encode(user) + b" " + encode(password)).args == Login(user, password)


@given(
    st.lists(
        st.sampled_from(
            [
                "FLAGS",
                "UID",
                "ENVELOPE",
                "BODY[]",
                "BODY.PEEK[1.TEXT]<0.5>",
                "BINARY[1]",
                "RFC822.SIZE",
                "MODSEQ",
                "BODY[HEADER.FIELDS (A B)]",
            ]
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fetch_items_round_trip_through_their_labels(names: list[str]) -> None:
    args = parse_command(("f FETCH 1 (" + " ".join(names) + ")").encode()).args
    assert isinstance(args, FetchArgs)
    for name, item in zip(names, args.request.items, strict=True):
        shown = item.label if isinstance(item, SectionItem) else item
        assert shown.replace(".PEEK", "").replace("<0.5>", "<0>") == name.replace(".PEEK", "").replace(
            "<0.5>", "<0>"
        )


appended_messages = st.lists(
    st.tuples(
        st.frozensets(st.sampled_from(["\\Seen", "\\Flagged", "\\Draft", "$Label", "Junk"]), max_size=3),
        st.none()
        | st.datetimes(datetime(2000, 1, 1), datetime(2099, 1, 1)).map(
            lambda d: d.replace(microsecond=0, tzinfo=UTC)
        ),
        st.binary(max_size=40),
        st.booleans(),
    ),
    min_size=1,
    max_size=5,
)


@given(appended_messages)
def test_multiappend_of_any_messages_reads_back_what_was_sent(
    messages: list[tuple[frozenset[str], datetime | None, bytes, bool]],
) -> None:
    parts = []
    for flags, moment, data, non_synchronising in messages:
        if flags:
            parts.append(b"(" + " ".join(sorted(flags)).encode() + b")")
        if moment is not None:
            parts.append(moment.strftime('"%d-%b-%Y %H:%M:%S +0000"').encode())
        parts.append(b"{%d%s}\r\n" % (len(data), b"+" if non_synchronising else b"") + data)

    args = parse_command(b"a APPEND INBOX " + b" ".join(parts)).args

    assert args == AppendArgs(
        "INBOX", tuple(NewMessage(data, flags, moment) for flags, moment, data, _ in messages)
    )


def test_catenate_reads_text_literals_literal8_and_urls_in_order() -> None:
    args = parse_command(
        b'a APPEND Sent (\\Seen) CATENATE (TEXT {2+}\r\nab URL "/INBOX/;UID=1" TEXT ~{1+}\r\n\x00) {1+}\r\nc'
    ).args
    assert args == AppendArgs(
        "Sent",
        (
            CatenatedMessage(
                (TextPart(b"ab"), UrlPart("/INBOX/;UID=1"), TextPart(b"\x00")), frozenset({"\\Seen"})
            ),
            NewMessage(b"c"),
        ),
    )
