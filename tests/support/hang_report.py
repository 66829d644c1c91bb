"""What a test that hangs was waiting for, written before the test timeout ends its process.

pytest-timeout ends a test process that runs one test for longer than its timeout (`timeout`, or the
test's `timeout` mark). Under pytest-xdist the stacks it prints are lost with the process, and an
asynchronous test's thread stacks show its event loop, not the coroutine that waits. So, ten seconds
before that timeout, this writes every thread's stack and the awaits of every unfinished asyncio task
to the process's standard error, as duplicated before capturing began (the one xdist passes on).
tests/conftest.py loads this module as a plugin.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import sys
import threading
from collections.abc import Generator

import pytest

WRITTEN_BEFORE_THE_TIMEOUT = 10.0

_report_fd: list[int] = []


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if sys.__stderr__ is not None:
        _report_fd.append(os.dup(sys.__stderr__.fileno()))


def pytest_unconfigure(config: pytest.Config) -> None:
    while _report_fd:
        os.close(_report_fd.pop())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    seconds = _timeout(item) - WRITTEN_BEFORE_THE_TIMEOUT
    if not _report_fd or seconds <= 0:
        return (yield)
    timer = threading.Timer(seconds, _write_report, args=(item.nodeid, seconds))
    timer.daemon = True
    timer.start()
    try:
        return (yield)
    finally:
        timer.cancel()


def _timeout(item: pytest.Item) -> float:
    """The test's timeout as pytest-timeout reads it (the mark, else `--timeout`, else the ini); 0 for
    none, or without pytest-timeout."""
    if not item.config.pluginmanager.hasplugin("timeout"):
        return 0.0
    marked = item.get_closest_marker("timeout")
    if marked is not None and (marked.args or "timeout" in marked.kwargs):
        return float(marked.args[0] if marked.args else marked.kwargs["timeout"])
    given = item.config.getoption("timeout", None)
    return float(given if given is not None else item.config.getini("timeout") or 0)


def _write_report(nodeid: str, seconds: float) -> None:
    fd = _report_fd[0]
    _write(fd, f"\n{nodeid} still runs after {seconds:g} s; its threads:\n")
    faulthandler.dump_traceback(fd, all_threads=True)
    _write(fd, "its unfinished asyncio tasks:\n")
    try:
        # From another thread, the loop's own list of tasks cannot be read safely; the collector's can.
        tasks = [each for each in gc.get_objects() if type(each) is asyncio.Task and not each.done()]
        for task in tasks:
            _write(fd, "".join([f"{task!r}\n", *(f"    {line}\n" for line in _awaiting(task.get_coro()))]))
    except Exception as error:  # a report cut short by what changed meanwhile still says why
        _write(fd, f"(the report stopped: {error!r})\n")


def _write(fd: int, text: str) -> None:
    os.write(fd, text.encode(errors="replace"))


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
