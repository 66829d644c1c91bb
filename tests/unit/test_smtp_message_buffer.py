"""The DATA buffer: unstuffing, the size limit, and spooling past the threshold or the memory budget."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mailservice.protocols.connection_policy import ConnectionMemory, MemoryBudget
from mailservice.protocols.smtp.message_buffer import NO_STORAGE, TOO_BIG, MessageBuffer
from mailservice.protocols.smtp.spool import Spool, SpoolFile

SPOOL_DIR = Path(tempfile.gettempdir()) / "mailservice-test-spool"
MIB = 1024 * 1024


def spool(disk_bytes: int = 64 * MIB) -> Spool:
    return Spool(SPOOL_DIR, 1024, MemoryBudget(disk_bytes), asyncio.Semaphore(1))


def stuffed(message: bytes) -> bytes:
    """What a client sends for `message` (CRLF line ends): dot-stuffed and terminated."""
    return (b"\r\n" + message).replace(b"\r\n.", b"\r\n..")[2:] + b".\r\n"


def blocks_of(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def received(buffer: MessageBuffer) -> bytes:
    message = buffer.finish()
    if isinstance(message, SpoolFile):
        return bytes(asyncio.run(message.read_all()))
    return bytes(message)


lines = st.lists(
    st.one_of(st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), st.just(b".")),
    max_size=60,
).map(lambda parts: b"".join(p + b"\r\n" for p in parts))


@given(
    message=lines,
    cuts=st.lists(st.integers(min_value=0), max_size=20),
    share=st.sampled_from([16, 1024, MIB]),
)
def test_the_message_is_unstuffed_the_same_in_memory_and_spooled(
    message: bytes, cuts: list[int], share: int
) -> None:
    memory = ConnectionMemory(MemoryBudget(MIB), share)
    buffer = MessageBuffer(memory, spool(), size_limit=0)

    for block in blocks_of(stuffed(message), cuts):
        assert not buffer.complete
        buffer.add(block)

    assert buffer.complete
    assert received(buffer) == message
    assert buffer.refusal is None
    buffer.discard()
    assert memory.budget.held == 0


def test_a_message_over_the_share_goes_to_a_spool_file_and_gives_its_memory_back() -> None:
    memory = ConnectionMemory(MemoryBudget(MIB), 64 * 1024)
    buffer = MessageBuffer(memory, spool(), size_limit=0)
    message = (b"x" * 1000 + b"\r\n") * 500

    buffer.add(stuffed(message))

    assert memory.held == 0
    assert isinstance(buffer.finish(), SpoolFile)
    buffer.discard()


def test_a_line_without_end_is_spooled_in_pieces() -> None:
    memory = ConnectionMemory(MemoryBudget(MIB), 1024)
    buffer = MessageBuffer(memory, spool(), size_limit=0)
    message = b"." + b"y" * (300 * 1024) + b"\r\n"

    for block in blocks_of(stuffed(message), list(range(4096, 400 * 1024, 4096))):
        buffer.add(block)

    assert received(buffer) == message


def test_a_message_over_the_size_limit_is_refused_and_nothing_is_kept() -> None:
    memory = ConnectionMemory(MemoryBudget(MIB), 1024)
    buffer = MessageBuffer(memory, spool(), size_limit=10_000)

    for _ in range(20):
        buffer.add(b"z" * 998 + b"\r\n")
    buffer.add(b".\r\n")

    assert buffer.complete
    assert buffer.refusal == TOO_BIG
    assert memory.held == 0


def test_when_the_disk_budget_is_spent_the_message_is_refused_for_now() -> None:
    memory = ConnectionMemory(MemoryBudget(MIB), 1024)
    buffer = MessageBuffer(memory, spool(disk_bytes=MIB), size_limit=0)

    for _ in range(2000):
        buffer.add(b"w" * 998 + b"\r\n")
    buffer.add(b".\r\n")
    buffer.finish()

    assert buffer.refusal == NO_STORAGE


def test_when_no_spool_file_can_be_made_the_message_is_refused_for_now(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_bytes(b"")
    memory = ConnectionMemory(MemoryBudget(MIB), 1024)
    buffer = MessageBuffer(memory, Spool(not_a_directory, 1024, MemoryBudget(MIB), asyncio.Semaphore(1)), 0)

    for _ in range(10):
        buffer.add(b"v" * 998 + b"\r\n")
    buffer.add(b".\r\n")

    assert buffer.complete
    assert buffer.refusal == NO_STORAGE
    assert memory.held == 0
