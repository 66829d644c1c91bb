"""Answering a future that its caller may have stopped waiting for."""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


def answer(future: asyncio.Future[T], outcome: T | BaseException) -> None:
    """Give `future` its result, or the exception `outcome` is; nothing when it is done already (its
    caller went away, or it was answered another way)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
