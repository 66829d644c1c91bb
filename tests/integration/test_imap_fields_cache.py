"""Header syncs answered from the HEADER.FIELDS cache: the same bytes as when made from the store,
never another message's (a folder deleted and created again gets a new UIDVALIDITY), and within the
cache's bound."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from mailservice.bootstrap import Runtime
from mailservice.protocols.imap.fields_cache import ENTRY_OVERHEAD, FieldsCache
from tests.support.imap_wire import Wire, logged_in_wire

SYNC = b"UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)])"


def message(subject: bytes, body: bytes = b"body") -> bytes:
    return b"From: a@example.org\r\nSubject: " + subject + b"\r\nX-Other: x\r\n\r\n" + body


async def append(wire: Wire, folder: bytes, raw: bytes) -> None:
    answer = await wire.command(b"APPEND %s {%d+}\r\n%s" % (folder, len(raw), raw))
    assert answer[-1].startswith(b"t OK"), answer


@pytest.fixture
def cache() -> FieldsCache:
    return FieldsCache()


@pytest.fixture
async def wire(runtime: Runtime, client: httpx.AsyncClient, cache: FieldsCache) -> AsyncIterator[Wire]:
    async for opened in logged_in_wire(runtime, client, cache):
        yield opened


async def test_a_repeated_header_sync_is_answered_from_the_cache_with_the_same_bytes(
    wire: Wire, cache: FieldsCache
) -> None:
    for number in range(3):
        await append(wire, b"INBOX", message(b"number %d" % number))
    await wire.command(b"EXAMINE INBOX")

    first = await wire.command(SYNC)
    kept = cache.size_bytes
    second = await wire.command(SYNC)

    assert first == second
    assert first[0] == (
        b"* 1 FETCH (UID 1 FLAGS (\\Recent) BODY[HEADER.FIELDS (From Subject)] {42}\r\n"
        b"From: a@example.org\r\nSubject: number 0\r\n\r\n)\r\n"
    )
    assert kept > 3 * ENTRY_OVERHEAD and cache.size_bytes == kept


async def test_a_folder_created_again_never_gets_the_answers_of_the_deleted_one(wire: Wire) -> None:
    # given a header sync of message 1 in a folder, then the folder deleted and created again with
    # another message of the same size as uid 1
    await wire.command(b"CREATE probe")
    await append(wire, b"probe", message(b"old"))
    await wire.command(b"EXAMINE probe")
    assert b"Subject: old\r\n" in b"".join(await wire.command(SYNC))
    await wire.command(b"CLOSE")
    await wire.command(b"DELETE probe")
    await wire.command(b"CREATE probe")
    await append(wire, b"probe", message(b"new"))

    # when it is synced again
    await wire.command(b"EXAMINE probe")
    answer = b"".join(await wire.command(SYNC))

    # then the new message's fields are sent
    assert b"Subject: new\r\n" in answer and b"Subject: old\r\n" not in answer


async def test_a_small_cache_stays_within_its_bound_and_answers_the_same(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    cache = FieldsCache(max_bytes=2 * (ENTRY_OVERHEAD + 60))
    async for wire in logged_in_wire(runtime, client, cache):
        for number in range(5):
            await append(wire, b"INBOX", message(b"number %d" % number))
        await wire.command(b"EXAMINE INBOX")
        answers = [await wire.command(SYNC) for _ in range(2)]
        assert answers[0] == answers[1]
        assert b"Subject: number 4\r\n" in b"".join(answers[0])
        assert cache.size_bytes <= cache.max_bytes


def test_the_least_recently_used_folder_goes_first() -> None:
    cache = FieldsCache(max_bytes=3 * (ENTRY_OVERHEAD + 10))
    fields = (("Subject",), False)
    for folder in (1, 2, 3):
        cache.keep((folder, 1, fields), {1: (100, b"0123456789")})
    assert cache.answers((1, 1, fields)) == {1: (100, b"0123456789")}  # folder 1 used again

    cache.keep((4, 1, fields), {1: (100, b"0123456789")})

    assert cache.answers((2, 1, fields)) == {}
    assert all(cache.answers((folder, 1, fields)) for folder in (1, 3, 4))
    assert cache.size_bytes == 3 * (ENTRY_OVERHEAD + 10)
