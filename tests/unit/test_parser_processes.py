"""Parsing in worker processes gives what parsing in place gives, and survives a worker that dies."""

from __future__ import annotations

import os
import signal

from mailservice.adapters.message_parsing import parse_message
from mailservice.adapters.parser_processes import PARSE_IN_PLACE_ABOVE, InlineParser, PooledParser
from tests.support.mail import text_message

MESSAGE = text_message("agent@agents.test", "Your code", "Your verification code is 482913.\n")


async def test_workers_parse_as_in_place() -> None:
    pooled = PooledParser(1)
    try:
        await pooled.start()
        assert await pooled.parse(MESSAGE) == parse_message(MESSAGE)
        assert await InlineParser().parse(MESSAGE) == parse_message(MESSAGE)
    finally:
        await pooled.close()


async def test_a_large_message_is_parsed_in_place() -> None:
    large = text_message("agent@agents.test", "Big", "x" * 70 + "\n") + b"y" * PARSE_IN_PLACE_ABOVE
    pooled = PooledParser(1)
    try:
        parsed = await pooled.parse(large)
        assert parsed.size == len(large)
        assert parsed.subject == "Big"
    finally:
        await pooled.close()


async def test_a_killed_worker_costs_no_message() -> None:
    pooled = PooledParser(1)
    try:
        await pooled.start()
        (worker,) = pooled._workers  # killed on purpose
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        assert (await pooled.parse(MESSAGE)).subject == "Your code"
        assert (await pooled.parse(MESSAGE)).codes == parse_message(MESSAGE).codes
    finally:
        await pooled.close()
