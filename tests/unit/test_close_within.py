"""A stop that cannot finish closing still ends: the runtime's close is bounded by the grace period."""

from __future__ import annotations

import asyncio
import time
from typing import cast

import pytest

from mailservice.bootstrap import Runtime, StopTimedOut, close_within


class _Closing:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.closed = False

    async def close(self) -> None:
        await asyncio.sleep(self.seconds)
        self.closed = True


def _runtime(closing: _Closing) -> Runtime:
    return cast(Runtime, closing)


async def test_a_close_that_never_ends_is_given_up_after_the_grace_period() -> None:
    stuck = _Closing(3600)
    started = time.monotonic()

    with pytest.raises(StopTimedOut):
        await close_within(_runtime(stuck), 0.2)

    assert time.monotonic() - started < 2
    assert not stuck.closed


async def test_a_close_within_the_grace_period_completes() -> None:
    quick = _Closing(0.01)

    await close_within(_runtime(quick), 5)

    assert quick.closed
