"""Header syncs of common fields answered from the fields cut out at delivery (`header_fields`): the
bytes the whole header gives, for messages stored before there were any, after COPY and MOVE, and
none left behind once the messages are gone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete, func, select

from mailservice.adapters.db.tables import header_fields
from mailservice.bootstrap import Runtime
from mailservice.mime.header_fields import select_fields
from mailservice.protocols.imap.fields_cache import FieldsCache
from tests.support.imap_wire import Wire, logged_in_wire

NAMES = (b"From", b"to", b"SUBJECT", b"Message-ID", b"References")
SYNC = b"UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (" + b" ".join(NAMES) + b")])"
MESSAGES = [
    b"From: a@example.org\r\nSubject: plain\r\nX-Other: x\r\n\r\nbody",
    b"Received: from x\r\n\tby y\r\nsubject : folded\r\n continued\r\n\tagain\r\nTO: b@example.org\r\n\r\nbody",
    b"From: bare@example.org\nSubject: bare LF\nSubject: twice\n\nFrom: in the body\n",
    b"X-Only: nothing common\r\n\r\nbody",
    b"From: no body\r\nSubject: and no line end",
    b"From: nul\x00@example.org\r\nReferences: <a@b>\r\n <c@d>\r\n\r\nbody",
]


@pytest.fixture
async def wire(runtime: Runtime, client: httpx.AsyncClient) -> AsyncIterator[Wire]:
    # nothing kept between syncs: every sync reads the store
    async for opened in logged_in_wire(runtime, client, FieldsCache(max_bytes=0)):
        yield opened


async def append_all(wire: Wire, folder: bytes) -> None:
    for raw in MESSAGES:
        answer = await wire.command(b"APPEND %s {%d+}\r\n%s" % (folder, len(raw), raw))
        assert answer[-1].startswith(b"t OK"), answer


def expected(first_uid: int = 1) -> list[bytes]:
    """What the reference picker makes of each message's whole header block."""
    lines = []
    for offset, raw in enumerate(MESSAGES):
        end = raw.find(b"\r\n\r\n")
        end = raw.find(b"\n\n") + 2 if end < 0 else end + 4
        header = raw[:end] if end > 1 else raw
        fields = select_fields(header, [name.decode() for name in NAMES]).replace(b"\x00", b"\x80")
        lines.append(
            b"* %d FETCH (UID %d BODY[HEADER.FIELDS (%s)] {%d}\r\n%s)\r\n"
            % (offset + 1, first_uid + offset, b" ".join(NAMES), len(fields), fields)
        )
    return lines


async def header_field_rows(runtime: Runtime) -> int:
    async with runtime.database.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(header_fields))).scalar_one())


async def test_a_sync_of_common_fields_sends_what_the_whole_header_gives(
    wire: Wire, runtime: Runtime
) -> None:
    await append_all(wire, b"INBOX")
    assert await header_field_rows(runtime) == len(MESSAGES)
    await wire.command(b"EXAMINE INBOX")

    answer = await wire.command(SYNC)
    some = await wire.command(SYNC.replace(b"1:*", b"1,3:4,6"))

    assert answer[:-1] == expected()
    assert some[:-1] == [expected()[index] for index in (0, 2, 3, 5)]


async def test_messages_stored_without_common_fields_are_served_from_their_header_block(
    wire: Wire, runtime: Runtime
) -> None:
    # given messages stored before their common fields were kept (rows of every other message removed)
    await append_all(wire, b"INBOX")
    async with runtime.database.engine.begin() as connection:
        kept = (await connection.execute(select(header_fields.c.raw_id))).scalars().all()
        await connection.execute(delete(header_fields).where(header_fields.c.raw_id.in_(kept[::2])))
    await wire.command(b"EXAMINE INBOX")

    # when they are synced, then each is answered as from its whole header
    assert (await wire.command(SYNC))[:-1] == expected()


async def test_copied_and_moved_messages_answer_the_same_and_leave_no_fields_behind(
    wire: Wire, runtime: Runtime
) -> None:
    await append_all(wire, b"INBOX")
    await wire.command(b"CREATE copies")
    await wire.command(b"CREATE moved")
    await wire.command(b"SELECT INBOX")
    assert (await wire.command(b"UID COPY 1:* copies"))[-1].startswith(b"t OK")
    assert (await wire.command(b"UID MOVE 1:* moved"))[-1].startswith(b"t OK")

    for folder in (b"copies", b"moved"):
        await wire.command(b"SELECT " + folder)
        assert (await wire.command(SYNC))[:-1] == expected()
        await wire.command(b"UID STORE 1:* +FLAGS.SILENT (\\Deleted)")
        await wire.command(b"EXPUNGE")

    assert runtime.mail_folders is not None
    await runtime.mail_folders.settle()  # an EXPUNGE's raw messages go after its answer
    assert await header_field_rows(runtime) == 0
