"""Lines and literals read over a real socket, every byte kept charged to the connection's share."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from mailservice.protocols.connection_policy import ConnectionMemory, MemoryBudget
from mailservice.protocols.lines.line_reader import STREAM_LIMIT, LineReader, LineTooLong, OverBudget
from mailservice.protocols.lines.sasl_plain import InvalidBase64, PlainRefused, decode_plain


@asynccontextmanager
async def connected(share: int = 1 << 20) -> AsyncIterator[tuple[LineReader, asyncio.StreamWriter]]:
    """A LineReader over the server side of a loopback connection, and the client's writer."""
    accepted: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(reader)

    server = await asyncio.start_server(serve, "127.0.0.1", 0, limit=STREAM_LIMIT)
    port = server.sockets[0].getsockname()[1]
    _, client = await asyncio.open_connection("127.0.0.1", port)
    reader = await asyncio.wait_for(accepted.get(), 5)
    try:
        yield LineReader(reader, ConnectionMemory(MemoryBudget(1 << 30), share)), client
    finally:
        client.close()
        server.close()


async def test_a_line_longer_than_the_stream_buffer_is_assembled_and_charged() -> None:
    async with connected() as (lines, client):
        long_line = b"x" * (5 * STREAM_LIMIT) + b"\r\n"
        client.write(long_line + b"next\r\n")
        assert await lines.line(10 * STREAM_LIMIT) == long_line
        assert lines.memory.held == len(long_line)
        assert await lines.line(100) == b"next\r\n"


async def test_a_line_over_the_limit_is_dropped_whole_and_reading_goes_on() -> None:
    async with connected() as (lines, client):
        client.write(b"y" * (3 * STREAM_LIMIT) + b"\r\nafter\r\n")
        with pytest.raises(LineTooLong):
            await lines.line(STREAM_LIMIT)
        assert lines.memory.held == 0
        assert await lines.line(100) == b"after\r\n"


async def test_lines_past_the_share_are_refused_and_what_they_held_is_given_back() -> None:
    async with connected(share=1000) as (lines, client):
        client.write(b"a" * 600 + b"\r\n" + b"b" * (2 * STREAM_LIMIT) + b"\r\nc\r\n")
        await lines.line(STREAM_LIMIT)
        with pytest.raises(OverBudget):
            await lines.line(10 * STREAM_LIMIT)
        assert lines.memory.held == 602
        lines.memory.release_all()
        assert await lines.line(100) == b"c\r\n"


async def test_counted_bytes_are_read_in_chunks_or_spooled_to_a_file() -> None:
    async with connected() as (lines, client):
        literal = bytes(range(256)) * (STREAM_LIMIT // 64)
        client.write(literal + literal)
        assert await lines.exactly(len(literal)) == literal
        spooled = await lines.spool(len(literal))
        assert spooled.read() == literal
        spooled.close()


async def test_a_client_that_closes_mid_literal_ends_the_read() -> None:
    async with connected() as (lines, client):
        client.write(b"short")
        client.close()
        with pytest.raises(EOFError):
            await lines.exactly(100)


def test_sasl_plain_gives_the_login_and_password() -> None:
    plain = decode_plain(base64.b64encode(b"\x00agent@agents.test\x00s3cret"))
    assert (plain.username, plain.password) == ("agent@agents.test", "s3cret")
    assert decode_plain(base64.b64encode(b"me\x00me\x00pw")).username == "me"


@pytest.mark.parametrize("response", [b"\x00only-two", b"other\x00me\x00pw", b"a\x00b\x00c\x00d"])
def test_sasl_plain_refuses_another_authorization_identity_or_a_wrong_shape(response: bytes) -> None:
    with pytest.raises(PlainRefused):
        decode_plain(base64.b64encode(response))


def test_sasl_plain_refuses_invalid_base64() -> None:
    with pytest.raises(InvalidBase64):
        decode_plain(b"not base64!")
