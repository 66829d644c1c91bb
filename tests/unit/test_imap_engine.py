"""The IMAP engine driven line by line over a socket, against the in-memory mail session: exact
responses for each command, state rules, literals, and updates between sessions."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailservice.domain.errors import AuthenticationFailed
from mailservice.domain.mail_session import MailSession, Quota
from mailservice.protocols.imap.options import listener_policy
from tests.support.imap_messages import MULTIPART, NESTED, PLAIN, numbered
from tests.support.imap_wire import ADDRESS, PASSWORD, RunningImap, Wire, running_imap
from tests.support.memory_mail_session import MemoryMailLogin, MemoryMailSession, MemoryMailStore
from tests.support.tls import self_signed

DATE = datetime(2026, 2, 2, 10, 0, 5, tzinfo=UTC)


@pytest.fixture
async def imap() -> AsyncIterator[RunningImap]:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD, quota_bytes=4_000, special={"Trash": "\\Trash"})
    for raw in (PLAIN, MULTIPART, NESTED):
        store.deliver(raw, internal_date=DATE)
    store.mark_seen_by_a_session()  # \Recent has tests of its own
    async with running_imap(login, max_literal_bytes=5_000) as running:
        yield running


def mailbox(imap: RunningImap) -> MemoryMailStore:
    return imap.login.stores[ADDRESS][0]


@pytest.fixture
async def wire(imap: RunningImap) -> AsyncIterator[Wire]:
    connection = await Wire.connect(imap)
    yield connection
    await connection.close()


async def selected(imap: RunningImap, folder: bytes = b"INBOX") -> Wire:
    connection = await Wire.connect(imap)
    await connection.login()
    reply = await connection.command(b"SELECT " + folder)
    assert reply[-1].startswith(b"t OK [READ-WRITE]"), reply
    return connection


async def test_greeting_announces_capabilities_and_logindisabled_without_tls_when_required() -> None:
    async with running_imap(allow_plaintext_auth=False) as imap:
        wire = await Wire.connect(imap)
        assert wire.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 ")
        assert b"LOGINDISABLED" in wire.greeting and b"AUTH=PLAIN" not in wire.greeting
        reply = await wire.command(b"LOGIN agent x")
        assert reply == [
            b"t NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections.\r\n"
        ]
        reply = await wire.command(b"AUTHENTICATE PLAIN AGFnZW50AHg=")
        assert reply[-1].startswith(b"t NO [PRIVACYREQUIRED]")
        await wire.close()


async def test_login_failure_and_success(wire: Wire) -> None:
    assert await wire.command(b"LOGIN agent wrong") == [
        b"t NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    ]
    reply = await wire.command(b'LOGIN "agent" "' + PASSWORD.encode() + b'"')
    assert reply[-1].startswith(b"t OK [CAPABILITY IMAP4rev1 ") and b"UIDPLUS" in reply[-1]
    assert (await wire.command(b"LOGIN agent x"))[-1].startswith(b"t BAD")


async def test_repeated_failures_are_rate_limited(wire: Wire) -> None:
    for _ in range(5):
        await wire.command(b"LOGIN agent wrong")
    assert (await wire.command(b"LOGIN agent " + PASSWORD.encode()))[-1].startswith(b"t NO [UNAVAILABLE]")


async def test_authenticate_plain_with_initial_response_and_with_a_continuation(imap: RunningImap) -> None:
    token = base64.b64encode(b"\x00" + ADDRESS.encode() + b"\x00" + PASSWORD.encode())
    wire = await Wire.connect(imap)
    assert (await wire.command(b"AUTHENTICATE PLAIN " + token))[-1].startswith(b"t OK [CAPABILITY")
    await wire.close()
    wire = await Wire.connect(imap)
    wire.send(b"a AUTHENTICATE PLAIN\r\n")
    assert await wire.line() == b"+ \r\n"
    wire.send(token + b"\r\n")
    assert (await wire.until(b"a"))[-1].startswith(b"a OK")
    await wire.close()


async def test_commands_in_the_wrong_state_and_garbage_get_bad_and_the_connection_stays(wire: Wire) -> None:
    assert (await wire.command(b"SELECT INBOX"))[-1].startswith(b"t BAD")
    assert (await wire.command(b"FROB"))[-1] == b"t BAD Error in IMAP command: unknown command FROB\r\n"
    wire.send(b"\x00\xff garbage (((\r\n")
    assert (await wire.line()).startswith(b"* BAD")
    wire.send(b"x" * 300_000 + b"\r\n")
    assert await wire.line() == b"* BAD Command line too long.\r\n"
    assert (await wire.command(b"NOOP")) == [b"t OK Noop completed.\r\n"]


async def test_an_id_longer_than_a_command_before_login_may_be_is_answered(wire: Wire) -> None:
    """RFC 2971's largest ID (30 fields of 1024-octet values) is about 32 KiB, beyond the limit of a
    command before login; the server keeps no client field, so it answers without reading them."""
    fields = b" ".join(b'"f%02d" "%s"' % (n, b"v" * 1024) for n in range(30))

    reply = await wire.command(b"ID (" + fields + b")")

    assert reply[0].startswith(b"* ID (")
    assert reply[-1] == b"t OK ID completed.\r\n"
    assert (await wire.command(b"NOOP")) == [b"t OK Noop completed.\r\n"]


async def test_select_reports_the_folder(imap: RunningImap) -> None:
    wire = await Wire.connect(imap)
    await wire.login()
    folder = mailbox(imap).folders["INBOX"]
    reply = await wire.command(b"SELECT inbox (CONDSTORE)")
    assert reply == [
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n",
        b"* 3 EXISTS\r\n",
        b"* 0 RECENT\r\n",
        b"* OK [UNSEEN 1] First unseen.\r\n",
        b"* OK [UIDVALIDITY %d] UIDs valid\r\n" % folder.uidvalidity,
        b"* OK [UIDNEXT 4] Predicted next UID\r\n",
        b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % folder.highestmodseq,
        b"t OK [READ-WRITE] Select completed.\r\n",
    ]
    reply = await wire.command(b"EXAMINE Trash")
    assert reply[0] == b"* OK [CLOSED] Previous mailbox closed.\r\n"
    assert reply[-1] == b"t OK [READ-ONLY] Examine completed.\r\n"
    assert (await wire.command(b"STORE 1 +FLAGS (\\Seen)"))[
        -1
    ] == b"t NO [READ-ONLY] Mailbox is read-only\r\n"
    assert (await wire.command(b"SELECT Nowhere"))[-1] == b"t NO [NONEXISTENT] Mailbox doesn't exist\r\n"
    assert (await wire.command(b"FETCH 1 FLAGS"))[-1].startswith(b"t BAD")
    await wire.close()


@pytest.mark.parametrize("command", [b"SELECT INBOX", b"EXAMINE INBOX"])
async def test_every_select_and_examine_tells_the_highest_modseq_condstore_or_not(
    imap: RunningImap, command: bytes
) -> None:
    """Every folder keeps its mod-sequences: RFC 7162 section 3.1.2.1 wants HIGHESTMODSEQ then."""
    wire = await Wire.connect(imap)
    await wire.login()
    reply = await wire.command(command)
    highest = mailbox(imap).folders["INBOX"].highestmodseq
    assert b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % highest in reply
    await wire.close()


async def test_fetch_simple_items(imap: RunningImap) -> None:
    wire = await selected(imap)
    reply = await wire.command(b"FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ)")
    modseq = mailbox(imap).folders["INBOX"].messages[1].meta.modseq
    highest = mailbox(imap).folders["INBOX"].highestmodseq
    assert reply == [
        b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % highest,
        b'* 1 FETCH (UID 1 FLAGS () INTERNALDATE "02-Feb-2026 10:00:05 +0000" RFC822.SIZE %d MODSEQ (%d))\r\n'
        % (len(PLAIN), modseq),
        b"t OK Fetch completed.\r\n",
    ]
    reply = await wire.command(b"UID FETCH 2 FAST")
    assert reply[0].startswith(b"* 2 FETCH (UID 2 FLAGS () INTERNALDATE ")
    await wire.close()


async def test_fetch_envelope_and_structures_come_from_the_store(imap: RunningImap) -> None:
    wire = await selected(imap)
    structure = mailbox(imap).folders["INBOX"].messages[1].structure
    reply = await wire.command(b"FETCH 1 (ENVELOPE BODY BODYSTRUCTURE)")
    assert reply[0] == (
        b"* 1 FETCH (ENVELOPE %s BODY %s BODYSTRUCTURE %s)\r\n"
        % (structure.envelope.encode(), structure.body.encode(), structure.bodystructure.encode())
    )
    await wire.close()


async def test_fetch_sections(imap: RunningImap) -> None:
    wire = await selected(imap)
    reply = await wire.command(
        b"FETCH 2 (BODY.PEEK[1] BODY.PEEK[2.MIME] BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[HEADER.FIELDS (X-Tag)]"
        b" BODY.PEEK[HEADER.FIELDS.NOT (From To Subject Date X-Tag MIME-Version)] BODY.PEEK[TEXT]<0.6>)"
    )
    assert reply[0] == (
        b"* 2 FETCH (BODY[1] {31}\r\nVoil=C3=A0 le r=C3=A9sum=C3=A9."
        b" BODY[2.MIME] {92}\r\nContent-Type: application/octet-stream; name=data.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b" BINARY[2] ~{4}\r\n\x00\x01\x02\x03 BINARY.SIZE[2] 4"
        b" BODY[HEADER.FIELDS (X-Tag)] {15}\r\nX-Tag: blue\r\n\r\n"
        b" BODY[HEADER.FIELDS.NOT (From To Subject Date X-Tag MIME-Version)] {48}\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b" BODY[TEXT]<0> {6}\r\n--b1\r\n)\r\n"
    )
    reply = await wire.command(b"FETCH 3 (BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1] BODY.PEEK[9])")
    assert reply[0] == (
        b"* 3 FETCH (BODY[2.HEADER] {42}\r\nFrom: dave@example.org\r\nSubject: inner\r\n\r\n"
        b" BODY[2.TEXT] {11}\r\nInner body. BODY[2.1] {11}\r\nInner body."
        b' BODY[9] "")\r\n'
    )
    await wire.close()


async def test_fetch_without_peek_sets_seen_and_says_so(imap: RunningImap) -> None:
    wire = await selected(imap)
    reply = await wire.command(b"FETCH 1 (BODY[])")
    assert reply[0] == b"* 1 FETCH (BODY[] {%d}\r\n%s FLAGS (\\Seen))\r\n" % (len(PLAIN), PLAIN)
    reply = await wire.command(b"FETCH 1 (RFC822.HEADER)")
    header = PLAIN[: PLAIN.index(b"\r\n\r\n") + 4]
    assert reply[0] == b"* 1 FETCH (RFC822.HEADER {%d}\r\n%s)\r\n" % (len(header), header)
    assert "\\Seen" in mailbox(imap).folders["INBOX"].messages[1].meta.flags
    await wire.close()


async def test_fetch_with_changedsince_returns_only_changed_messages(imap: RunningImap) -> None:
    wire = await selected(imap)
    before = mailbox(imap).folders["INBOX"].highestmodseq
    await wire.command(b"STORE 2 +FLAGS.SILENT (\\Flagged)")
    reply = await wire.command(b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % before)
    after = mailbox(imap).folders["INBOX"].messages[2].meta.modseq
    assert reply == [
        b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % after,
        b"* 2 FETCH (FLAGS (\\Flagged) MODSEQ (%d))\r\n" % after,
        b"t OK Fetch completed.\r\n",
    ]
    await wire.close()


async def test_invalid_sequence_numbers_are_bad_and_unknown_uids_are_ignored(imap: RunningImap) -> None:
    wire = await selected(imap)
    assert (await wire.command(b"FETCH 4 FLAGS"))[-1].startswith(b"t BAD")
    assert await wire.command(b"UID FETCH 40:50 FLAGS") == [b"t OK Fetch completed.\r\n"]
    assert await wire.command(b"UID FETCH 40:* FLAGS") == [
        b"* 3 FETCH (UID 3 FLAGS ())\r\n",
        b"t OK Fetch completed.\r\n",
    ]
    await wire.close()


async def test_store_forms_and_conditional_store(imap: RunningImap) -> None:
    wire = await selected(imap)
    assert await wire.command(b"STORE 1:2 +FLAGS (\\Seen $Done)") == [
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Done)\r\n",
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Done \\*)] Flags permitted.\r\n",
        b"* 1 FETCH (FLAGS (\\Seen $Done))\r\n",
        b"* 2 FETCH (FLAGS (\\Seen $Done))\r\n",
        b"t OK Store completed.\r\n",
    ]
    assert await wire.command(b"UID STORE 2 -FLAGS.SILENT ($Done)") == [b"t OK Store completed.\r\n"]
    assert (await wire.command(b"STORE 1 FLAGS (\\Bogus)"))[-1].startswith(b"t BAD")
    old = mailbox(imap).folders["INBOX"].messages[3].meta.modseq
    await wire.command(b"STORE 1 +FLAGS.SILENT (\\Answered)")
    reply = await wire.command(b"STORE 1,3 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % old)
    new = mailbox(imap).folders["INBOX"].messages[3].meta.modseq
    assert reply == [
        b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % (new - 1),
        b"* 3 FETCH (UID 3 MODSEQ (%d) FLAGS (\\Flagged))\r\n" % new,
        b"t OK [MODIFIED 1] Conditional STORE failed\r\n",
    ]
    await wire.close()


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (b"ALL", b"1 2 3"),
        (b"FROM alice", b"1"),
        (b"SUBJECT {8+}\r\nr\xc3\xa9sum\xc3\xa9", b"2"),
        (b'HEADER X-Tag "BLUE"', b"2"),
        (b'HEADER X-Tag ""', b"2"),
        (b"BODY {6+}\r\nvoil\xc3\xa0", b"2"),
        (b"TEXT 482913", b"1"),
        (b"TEXT example.org", b"1 2 3"),
        (b"NOT FROM alice", b"2 3"),
        (b"OR FROM alice FROM carol", b"1 3"),
        (b"LARGER 250", b"2 3"),
        (b"SMALLER 250", b"1"),
        (b"SENTON 3-Feb-2026", b"2"),
        (b"SENTBEFORE 3-Feb-2026", b"1 3"),  # 3 has no Date: header: sent on 1-Jan-1970, as in Dovecot
        (b"SENTSINCE 3-Feb-2026", b"2"),
        (b"ON 2-Feb-2026", b"1 2 3"),
        (b"BEFORE 2-Feb-2026", b""),
        (b"SINCE 3-Feb-2026", b""),
        (b"2:* UNSEEN", b"2 3"),
        (b"UID 1,3", b"1 3"),
        (b"SEEN", b""),
        (b"NEW", b""),
        (b"(OR SEEN UNSEEN) NOT DELETED", b"1 2 3"),
        (b"KEYWORD $Junk", b""),
        (b"UNKEYWORD $Junk", b"1 2 3"),
    ],
)
async def test_search_keys(imap: RunningImap, criteria: bytes, expected: bytes) -> None:
    wire = await selected(imap)
    reply = await wire.command(b"SEARCH CHARSET UTF-8 " + criteria)
    assert reply == [
        b"* SEARCH" + (b" " + expected if expected else b"") + b"\r\n",
        b"t OK Search completed.\r\n",
    ]
    await wire.close()


async def test_uid_search_modseq_and_bad_charset(imap: RunningImap) -> None:
    wire = await selected(imap)
    await wire.command(b"STORE 3 +FLAGS.SILENT (\\Flagged)")
    modseq = mailbox(imap).folders["INBOX"].messages[3].meta.modseq
    assert (await wire.command(b"UID SEARCH MODSEQ %d" % modseq))[
        -2
    ] == b"* SEARCH 3 (MODSEQ %d)\r\n" % modseq
    assert await wire.command(b"SEARCH CHARSET KOI8-R ALL") == [
        b"t NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset.\r\n"
    ]
    await wire.close()


async def test_list_lsub_status_and_folder_management(imap: RunningImap) -> None:
    wire = await Wire.connect(imap)
    await wire.login()
    assert (await wire.command(b"CREATE Work/Projects"))[-1] == b"t OK Create completed.\r\n"
    assert await wire.command(b'LIST "" Work') == [
        b'* LIST (\\Noselect \\HasChildren) "/" "Work"\r\n',
        b"t OK List completed.\r\n",
    ]
    assert (await wire.command(b"CREATE Work/"))[-1] == b"t OK Create completed.\r\n"
    assert (await wire.command(b"CREATE trash"))[-1] == b"t OK Create completed.\r\n"
    assert (await wire.command(b"CREATE Trash"))[-1] == b"t NO [ALREADYEXISTS] Mailbox already exists\r\n"
    assert (await wire.command(b"CREATE &AOk-t&AOk-"))[-1] == b"t OK Create completed.\r\n"
    assert await wire.command(b'LIST "" "%"') == [
        b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n',
        b'* LIST (\\HasNoChildren \\Trash) "/" "Trash"\r\n',
        b'* LIST (\\HasChildren) "/" "Work"\r\n',
        b'* LIST (\\HasNoChildren) "/" "trash"\r\n',
        b'* LIST (\\HasNoChildren) "/" "&AOk-t&AOk-"\r\n',
        b"t OK List completed.\r\n",
    ]
    assert await wire.command(b'LIST "Work/" *') == [
        b'* LIST (\\HasNoChildren) "/" "Work/Projects"\r\n',
        b"t OK List completed.\r\n",
    ]
    assert (await wire.command(b'LIST (SPECIAL-USE) "" *'))[:-1] == [
        b'* LIST (\\Trash) "/" "Trash"\r\n'  # child attributes only with RETURN (CHILDREN), as in Dovecot
    ]
    assert await wire.command(b'LIST "" ""') == [
        b'* LIST (\\Noselect) "/" ""\r\n',
        b"t OK List completed.\r\n",
    ]
    await wire.command(b"UNSUBSCRIBE trash")
    listed = await wire.command(b'LIST "" * RETURN (SUBSCRIBED)')
    assert b'* LIST (\\Subscribed) "/" "INBOX"\r\n' in listed
    assert b'* LIST () "/" "trash"\r\n' in listed
    lsub = await wire.command(b'LSUB "" "*rash"')
    assert lsub == [b'* LSUB () "/" "Trash"\r\n', b"t OK Lsub completed.\r\n"]
    assert (await wire.command(b"RENAME Work Play"))[-1] == b"t OK Rename completed.\r\n"
    assert (await wire.command(b'LIST "" Play/*'))[0] == b'* LIST (\\HasNoChildren) "/" "Play/Projects"\r\n'
    assert (await wire.command(b"DELETE INBOX"))[-1].startswith(b"t NO [CANNOT]")
    assert (await wire.command(b"DELETE Nope"))[-1] == b"t NO [NONEXISTENT] Mailbox doesn't exist\r\n"
    status = await wire.command(b"STATUS INBOX (MESSAGES RECENT UIDNEXT UNSEEN SIZE)")
    size = len(PLAIN) + len(MULTIPART) + len(NESTED)
    assert status[0] == b'* STATUS "INBOX" (MESSAGES 3 RECENT 0 UIDNEXT 4 UNSEEN 3 SIZE %d)\r\n' % size
    await wire.close()


async def test_namespace_id_enable_and_quota(imap: RunningImap) -> None:
    wire = await Wire.connect(imap)
    assert (await wire.command(b'ID ("name" "test")'))[0] == b'* ID ("name" "mailservice")\r\n'
    await wire.login()
    assert (await wire.command(b"NAMESPACE"))[0] == b'* NAMESPACE (("" "/")) NIL NIL\r\n'
    assert (await wire.command(b"ENABLE CONDSTORE QRESYNC X-NONE"))[0] == b"* ENABLED CONDSTORE QRESYNC\r\n"
    used = (len(PLAIN) + len(MULTIPART) + len(NESTED) + 1023) // 1024
    assert await wire.command(b"GETQUOTAROOT INBOX") == [
        b'* QUOTAROOT "INBOX" ""\r\n',
        b'* QUOTA "" (STORAGE %d 3)\r\n' % used,
        b"t OK Getquotaroot completed.\r\n",
    ]
    assert (await wire.command(b'GETQUOTA "x"'))[-1].startswith(b"t NO [NONEXISTENT]")
    await wire.close()


async def test_append_with_synchronising_literal_and_literal_plus(imap: RunningImap) -> None:
    wire = await Wire.connect(imap)
    await wire.login()
    wire.send(b'a APPEND Trash (\\Seen $X) "05-Mar-2026 10:00:00 +0100" {%d}\r\n' % len(PLAIN))
    assert (await wire.line()).startswith(b"+ ")
    wire.send(PLAIN + b"\r\n")
    trash = mailbox(imap).folders["Trash"]
    assert (await wire.until(b"a")) == [b"a OK [APPENDUID %d 1] Append completed.\r\n" % trash.uidvalidity]
    stored = trash.messages[1]
    assert stored.raw == PLAIN and stored.meta.flags == {"\\Seen", "$X"}
    assert stored.meta.internal_date == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    wire.send(b"b APPEND Trash {%d+}\r\n%s\r\n" % (len(PLAIN), PLAIN))
    assert (await wire.until(b"b"))[-1].startswith(b"b OK [APPENDUID")
    assert (await wire.command(b"APPEND Nope {3+}\r\nabc"))[
        -1
    ] == b"t NO [TRYCREATE] Mailbox doesn't exist\r\n"
    await wire.close()


async def test_too_large_literals_are_refused_and_the_connection_goes_on(imap: RunningImap) -> None:
    wire = await Wire.connect(imap)
    await wire.login()
    wire.send(b"a APPEND INBOX {6000}\r\n")
    assert await wire.until(b"a") == [b"a NO [LIMIT] Literal is too large.\r\n"]
    wire.send(b"b APPEND INBOX {6000+}\r\n" + b"x" * 6000 + b"\r\n")
    assert await wire.until(b"b") == [b"b NO [LIMIT] Literal is too large.\r\n"]
    reply = await wire.command(b"APPEND INBOX {4000+}\r\n" + b"x" * 4000)
    assert reply[-1].startswith(b"t NO [OVERQUOTA]")
    assert await wire.command(b"NOOP") == [b"t OK Noop completed.\r\n"]
    await wire.close()


async def test_copy_move_and_expunge(imap: RunningImap) -> None:
    wire = await selected(imap)
    trash = mailbox(imap).folders["Trash"]
    assert (await wire.command(b"COPY 1:2 Trash")) == [
        b"t OK [COPYUID %d 1:2 1:2] Copy completed.\r\n" % trash.uidvalidity
    ]
    assert await wire.command(b"UID MOVE 2 Trash") == [
        b"* OK [COPYUID %d 2 3] Moved UIDs.\r\n" % trash.uidvalidity,
        b"* 2 EXPUNGE\r\n",
        b"t OK Move completed.\r\n",
    ]
    assert (await wire.command(b"COPY 1 Nope"))[-1] == b"t NO [TRYCREATE] Mailbox doesn't exist\r\n"
    await wire.command(b"STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    assert await wire.command(b"EXPUNGE") == [
        b"* 2 EXPUNGE\r\n",
        b"* 1 EXPUNGE\r\n",
        b"t OK Expunge completed.\r\n",
    ]
    assert sorted(mailbox(imap).folders["INBOX"].messages) == []
    await wire.close()


async def test_uid_expunge_only_removes_the_named_messages(imap: RunningImap) -> None:
    wire = await selected(imap)
    await wire.command(b"STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    assert await wire.command(b"UID EXPUNGE 2") == [b"* 2 EXPUNGE\r\n", b"t OK Expunge completed.\r\n"]
    assert (await wire.command(b"CLOSE")) == [b"t OK Close completed.\r\n"]
    assert mailbox(imap).folders["INBOX"].messages == {}
    assert (await wire.command(b"FETCH 1 FLAGS"))[-1].startswith(b"t BAD")
    await wire.close()


async def test_other_sessions_changes_arrive_after_commands_but_expunges_wait_outside_fetch(
    imap: RunningImap,
) -> None:
    first, second = await selected(imap), await selected(imap)
    await second.command(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    await second.command(b"EXPUNGE")
    await second.command(b"STORE 2 +FLAGS.SILENT (\\Flagged)")
    mailbox(imap).deliver(numbered(4))
    reply = await first.command(b"FETCH 1 (FLAGS)")
    assert reply == [  # the expunged message with the flags it was expunged with, as Dovecot shows it
        b"* 1 FETCH (FLAGS (\\Deleted))\r\n",
        b"* 1 FETCH (UID 1 FLAGS (\\Deleted))\r\n",
        b"* 3 FETCH (UID 3 FLAGS (\\Flagged))\r\n",
        b"* 4 EXISTS\r\n",
        b"* 1 RECENT\r\n",
        b"t OK Fetch completed.\r\n",
    ]
    assert await first.command(b"SEARCH ALL") == [b"* SEARCH 1 2 3 4\r\n", b"t OK Search completed.\r\n"]
    assert await first.command(b"NOOP") == [b"* 1 EXPUNGE\r\n", b"t OK Noop completed.\r\n"]
    assert await first.command(b"FETCH 1:* (UID)") == [
        b"* 1 FETCH (UID 2)\r\n",
        b"* 2 FETCH (UID 3)\r\n",
        b"* 3 FETCH (UID 4)\r\n",
        b"t OK Fetch completed.\r\n",
    ]
    await first.close()
    await second.close()


async def test_fetch_of_a_message_expunged_elsewhere_says_expungeissued(imap: RunningImap) -> None:
    first, second = await selected(imap), await selected(imap)
    await second.command(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    await second.command(b"EXPUNGE")
    reply = await first.command(b"FETCH 1:2 (BODY.PEEK[])")
    assert reply[0].startswith(b"* 2 FETCH (BODY[] ")
    assert reply[-1] == b"t NO [EXPUNGEISSUED] Some of the requested messages no longer exist.\r\n"
    await first.close()
    await second.close()


async def test_idle_reports_a_delivery_and_ends_on_done(imap: RunningImap) -> None:
    wire = await selected(imap)
    wire.send(b"i IDLE\r\n")
    assert await wire.line() == b"+ idling\r\n"
    mailbox(imap).deliver(numbered(5))
    assert await wire.line() == b"* 4 EXISTS\r\n"
    assert await wire.line() == b"* 1 RECENT\r\n"
    wire.send(b"DONE\r\n")
    assert await wire.until(b"i") == [b"i OK Idle completed.\r\n"]
    await wire.close()


async def test_idle_ends_with_bad_on_anything_but_done(imap: RunningImap) -> None:
    wire = await selected(imap)
    wire.send(b"i IDLE\r\n")
    assert await wire.line() == b"+ idling\r\n"
    wire.send(b"NOPE\r\n")
    assert (await wire.until(b"i"))[-1].startswith(b"i BAD")
    await wire.close()


async def test_a_revoked_session_gets_bye_and_is_closed_even_while_idling(imap: RunningImap) -> None:
    selected_wire, idling = await selected(imap), await selected(imap)
    idling.send(b"i IDLE\r\n")
    assert await idling.line() == b"+ idling\r\n"

    mailbox(imap).revoke(AuthenticationFailed("the mailbox's credentials were changed"))

    for wire in (selected_wire, idling):
        assert await wire.line() == b"* BYE Access revoked: the mailbox's credentials were changed.\r\n"
        assert await asyncio.wait_for(wire.reader.read(), 5) == b""
        await wire.close()
    assert all(session.ended for session in imap.login.sessions)


async def test_inactive_connections_are_logged_out() -> None:
    async with running_imap(policy=replace(listener_policy(), idle_timeout_seconds=0.05)) as imap:
        wire = await Wire.connect(imap)
        assert await wire.line() == b"* BYE Disconnected for inactivity.\r\n"
        assert await asyncio.wait_for(wire.reader.read(), 5) == b""
        await wire.close()


async def test_an_idling_connection_that_sends_nothing_is_logged_out_after_reports_and_inactivity() -> None:
    login = MemoryMailLogin()
    login.add_mailbox(ADDRESS, PASSWORD)
    async with running_imap(login, policy=replace(listener_policy(), idle_timeout_seconds=0.5)) as imap:
        wire = await selected(imap)
        wire.send(b"i IDLE\r\n")
        assert await wire.line() == b"+ idling\r\n"
        mailbox(imap).deliver(numbered(1))
        assert await wire.line() == b"* 1 EXISTS\r\n"
        assert await wire.line() == b"* 1 RECENT\r\n"
        assert await wire.line() == b"* BYE Disconnected for inactivity.\r\n"
        assert await asyncio.wait_for(wire.reader.read(), 5) == b""
        await wire.close()


async def test_logout(wire: Wire) -> None:
    assert await wire.command(b"LOGOUT") == [b"* BYE Logging out\r\n", b"t OK Logout completed.\r\n"]
    assert await asyncio.wait_for(wire.reader.read(), 5) == b""


class BrokenQuotaSession(MemoryMailSession):
    async def quota(self) -> Quota:
        raise RuntimeError("storage went away")


class BrokenQuotaLogin(MemoryMailLogin):
    async def login(self, username: str, password: str, peer: str) -> MailSession:
        session = await super().login(username, password, peer)
        assert isinstance(session, MemoryMailSession)
        return BrokenQuotaSession(session.store)


async def test_an_unexpected_error_is_logged_once_and_the_connection_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    login = BrokenQuotaLogin()
    login.add_mailbox(ADDRESS, PASSWORD)
    async with running_imap(login) as imap:
        wire = await Wire.connect(imap)
        await wire.login()
        with caplog.at_level(logging.ERROR, logger="mailservice.protocols.imap.dispatch"):
            reply = await wire.command(b'GETQUOTA ""')
        assert reply == [b"t NO [SERVERBUG] Internal error occurred.\r\n"]
        assert [record.getMessage() for record in caplog.records] == [
            "imap.command_failed command=GETQUOTA error=RuntimeError: storage went away"
        ]
        assert await wire.command(b"NOOP") == [b"t OK Noop completed.\r\n"]
        await wire.close()


async def test_a_failed_tls_handshake_ends_only_that_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    login = MemoryMailLogin()
    login.add_mailbox(ADDRESS, PASSWORD)
    async with running_imap(login, tls_context=context) as imap:
        wire = await Wire.connect(imap)
        assert await wire.command(b"STARTTLS") == [b"t OK Begin TLS negotiation now.\r\n"]
        wire.send(b"this is not a TLS client hello\r\n" * 10)
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(wire.reader.read(), 10)  # the server ends the connection
        await wire.close()
        other = await Wire.connect(imap)
        assert await other.command(b"NOOP") == [b"t OK Noop completed.\r\n"]
        await other.close()
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
