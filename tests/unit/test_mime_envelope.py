"""ENVELOPE texts; every expected string here is what Dovecot 2.3.19 answered for the same message."""

from __future__ import annotations

from mailservice.mime import parse_mime


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def envelope(headers: str) -> str:
    return parse_mime(crlf(headers + "\nbody\n")).envelope


def test_full_envelope_keeps_raw_subject_and_names_and_defaults_nothing_present() -> None:
    assert envelope(
        "Date: Tue, 1 Jul 2003 10:52:37 +0200\n"
        'From: "Doe, John" <john@example.com>, jane@example.com (Jane Roe)\n'
        "Sender: Secretary <sec@example.com>\n"
        "Reply-To: =?utf-8?q?R=C3=A9ply?= <r@example.com>\n"
        "To: undisclosed-recipients:;\n"
        'Cc: Group: a@b.c, "B" <b@c.d>;, solo@x.y\n'
        "Bcc: <@route1,@route2:bcc@example.com>\n"
        "In-Reply-To: <abc@def>\n"
        "Message-ID: <id1@example.com>\n"
        "Subject: =?utf-8?B?SMOpbGxv?= world\n"
    ) == (
        '("Tue, 1 Jul 2003 10:52:37 +0200" "=?utf-8?B?SMOpbGxv?= world"'
        ' (("Doe, John" NIL "john" "example.com")("Jane Roe" NIL "jane" "example.com"))'
        ' (("Secretary" NIL "sec" "example.com")) (("=?utf-8?q?R=C3=A9ply?=" NIL "r" "example.com"))'
        ' ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))'
        ' ((NIL NIL "Group" NIL)(NIL NIL "a" "b.c")("B" NIL'
        ' "b" "c.d")(NIL NIL NIL NIL)(NIL NIL "solo" "x.y"))'
        ' ((NIL "@route1,@route2" "bcc" "example.com")) "<abc@def>" "<id1@example.com>")'
    )


def test_sender_and_reply_to_default_to_from() -> None:
    assert envelope("From: John <j@x.org>\nSubject: hi\n") == (
        '(NIL "hi" (("John" NIL "j" "x.org")) (("John" NIL "j" "x.org")) (("John" NIL "j" "x.org"))'
        " NIL NIL NIL NIL NIL)"
    )


def test_groups_open_with_their_name_and_close_with_an_all_nil_address() -> None:
    assert envelope(
        "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Undisclosed recipients:;\n"
    ) == (
        '(NIL NIL NIL NIL NIL ((NIL NIL "A Group" NIL)("Ed'
        ' Jones" NIL "c" "a.test")(NIL NIL "joe" "where.test")'
        '("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL)(NIL'
        ' NIL "Undisclosed recipients" NIL)(NIL NIL NIL NIL))'
        " NIL NIL NIL NIL)"
    )


def test_folded_subject_is_collapsed_and_sent_as_a_literal_and_date_loses_its_line_break() -> None:
    assert envelope(
        "Subject: Hello\n   folded\tworld  \nDate: Tue,\n 1 Jul 2003 10:52:37 +0200\nFrom: a@b.c\n"
    ) == (
        '("Tue, 1 Jul 2003 10:52:37 +0200" {18}\r\nHello folded world ((NIL NIL "a" "b.c"))'
        ' ((NIL NIL "a" "b.c")) ((NIL NIL "a" "b.c")) NIL NIL NIL NIL NIL)'
    )


def test_quotes_and_backslashes_in_subject_and_names_make_literals() -> None:
    assert envelope('Subject: a "b" \\c\nFrom: "x\\"y" <a@b.c>\n') == (
        '(NIL {8}\r\na "b" \\c (({3}\r\nx"y NIL "a" "b.c"))'
        ' (({3}\r\nx"y NIL "a" "b.c")) (({3}\r\nx"y NIL "a" "b.c"))'
        " NIL NIL NIL NIL NIL)"
    )


def test_eight_bit_subject_and_names_are_literals_with_byte_counts() -> None:
    raw = "Subject: héllo\r\nFrom: Jöhn <j@x.org>\r\n\r\nbody\r\n".encode()
    assert parse_mime(raw).envelope == (
        '(NIL {6}\r\nhéllo (({5}\r\nJöhn NIL "j" "x.org")) (({5}\r\nJöhn NIL "j" "x.org"))'
        ' (({5}\r\nJöhn NIL "j" "x.org")) NIL NIL NIL NIL NIL)'
    )


def test_unparseable_addresses_get_dovecot_placeholders() -> None:
    assert envelope(
        'From: foo\nTo: <>\nCc: @x.y, a@, "Only Name"\nBcc: a@b.c (comment only), (c2) d@e.f\n'
    ) == (
        '(NIL NIL ((NIL NIL "foo" "MISSING_DOMAIN")) ((NIL NIL "foo" "MISSING_DOMAIN"))'
        ' ((NIL NIL "foo" "MISSING_DOMAIN")) ((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'
        ' ((NIL NIL "MISSING_MAILBOX" "x.y")(NIL NIL "a" "MISSING_DOMAIN")("Only Name" NIL "MISSING_MAILBOX"'
        ' "MISSING_DOMAIN")) (("comment only" NIL "a" "b.c")(NIL NIL "d" "e.f")) NIL NIL)'
    )


def test_encoded_words_stay_encoded() -> None:
    assert envelope(
        "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\n"
        "Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\n"
        "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\n"
    ) == (
        "(NIL {103}\r\n=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?="
        " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="
        ' (("=?ISO-8859-1?Q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be"))'
        ' (("=?ISO-8859-1?Q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be"))'
        ' (("=?ISO-8859-1?Q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be")) NIL NIL NIL NIL NIL)'
    )


def test_repeated_fields_last_string_wins_and_address_lists_add_up() -> None:
    assert envelope("Date: d1\nDate: d2\nMessage-ID: <m1>\nMessage-ID: <m2>\nTo: a@b.c\nTo: d@e.f\n") == (
        '("d2" NIL NIL NIL NIL ((NIL NIL "a" "b.c")(NIL NIL "d" "e.f")) NIL NIL NIL "<m2>")'
    )


def test_empty_and_blank_fields() -> None:
    assert envelope("Subject:\nFrom:\nTo: \n") == '(NIL "" NIL NIL NIL NIL NIL NIL NIL NIL)'
    assert envelope("Subject:    \nDate:  \n") == '(" " "" NIL NIL NIL NIL NIL NIL NIL NIL)'


def test_message_id_and_in_reply_to_are_raw_values() -> None:
    assert envelope("Message-ID:   <a@b>  (comment)\nIn-Reply-To: <x@y> <z@w>\n") == (
        '(NIL NIL NIL NIL NIL NIL NIL NIL "<x@y> <z@w>" "<a@b>  (comment)")'
    )


def test_message_without_header_has_all_nil_envelope() -> None:
    assert parse_mime(b"").envelope == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    assert parse_mime(b"\x00\xff\xfe garbage\r\n").envelope == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
