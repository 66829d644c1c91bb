"""Parsing in worker processes gives what parsing in place gives, and survives a worker that dies."""

from __future__ import annotations

import os
import signal

from mailservice.adapters.mime_summary import summarize
from mailservice.adapters.summarizer import PARSE_IN_PLACE_ABOVE, InlineSummarizer, PooledSummarizer
from tests.support.mail import text_message

MESSAGE = text_message("agent@agents.test", "Your code", "Your verification code is 482913.\n")


async def test_workers_parse_as_in_place() -> None:
    pooled = PooledSummarizer(1)
    try:
        await pooled.start()
        assert await pooled.summarize(MESSAGE) == summarize(MESSAGE)
        assert await InlineSummarizer().summarize(MESSAGE) == summarize(MESSAGE)
    finally:
        await pooled.close()


async def test_a_large_message_is_parsed_in_place() -> None:
    large = text_message("agent@agents.test", "Big", "x" * 70 + "\n") + b"y" * PARSE_IN_PLACE_ABOVE
    pooled = PooledSummarizer(1)
    try:
        summary = await pooled.summarize(large)
        assert summary.size == len(large)
        assert summary.subject == "Big"
    finally:
        await pooled.close()


async def test_a_killed_worker_costs_no_message() -> None:
    pooled = PooledSummarizer(1)
    try:
        await pooled.start()
        (worker,) = pooled._workers  # killed on purpose
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        assert (await pooled.summarize(MESSAGE)).subject == "Your code"
        assert (await pooled.summarize(MESSAGE)).codes == summarize(MESSAGE).codes
    finally:
        await pooled.close()
