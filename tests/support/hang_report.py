"""What a test that hangs was waiting for, written before the test timeout ends its process.

pytest-timeout ends a test process that runs one test for longer than `timeout`. Under pytest-xdist the
stacks it prints are lost with the process, and pytest's own `faulthandler_timeout` prints only each
thread's stack, where an asynchronous test shows its event loop, not the coroutine that waits. So,
`faulthandler_timeout` seconds into a test, this writes the stack of every unfinished asyncio task to
the process's standard error (the descriptor faulthandler writes to, which capturing leaves alone).
tests/conftest.py loads this module as a plugin.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import sys
import threading
from collections.abc import Generator

import pytest

_report_fd: list[int] = []


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if float(config.getini("faulthandler_timeout") or 0) > 0 and sys.__stderr__ is not None:
        _report_fd.append(os.dup(sys.__stderr__.fileno()))


def pytest_unconfigure(config: pytest.Config) -> None:
    while _report_fd:
        os.close(_report_fd.pop())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    if not _report_fd:
        return (yield)
    seconds = float(item.config.getini("faulthandler_timeout"))
    timer = threading.Timer(seconds, _write_tasks, args=(item.nodeid, seconds))
    timer.daemon = True
    timer.start()
    try:
        return (yield)
    finally:
        timer.cancel()


def _write_tasks(nodeid: str, seconds: float) -> None:
    report = io.StringIO()
    report.write(f"\n{nodeid} still runs after {seconds:g} s; its unfinished asyncio tasks:\n")
    # From another thread, the loop's own list of tasks cannot be read safely; the collector's can.
    for task in [each for each in gc.get_objects() if isinstance(each, asyncio.Task) and not each.done()]:
        report.write(f"{task!r}\n")
        for line in _awaiting(task.get_coro()):
            report.write(f"    {line}\n")
    os.write(_report_fd[0], report.getvalue().encode(errors="replace"))


def _awaiting(awaitable: object) -> list[str]:
    """Where a coroutine waits, through each coroutine it awaits (a task's own stack shows only the
    outermost)."""
    lines: list[str] = []
    while awaitable is not None and len(lines) < 50:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            lines.append(repr(awaitable))
            break
        lines.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return lines
