"""The periodic jobs of `serve` (`bootstrap._every`): a failure is logged and the job runs again; a
cancellation stops it, even when the job turned it into another error (a database driver may), or
stopping the service would wait for it forever."""

from __future__ import annotations

import asyncio

import pytest

from mailservice.bootstrap import _every


async def test_a_failing_job_runs_again() -> None:
    runs = 0

    async def failing() -> None:
        nonlocal runs
        runs += 1
        raise RuntimeError("the database is away")

    job = asyncio.create_task(_every(0.001, failing))
    async with asyncio.timeout(5):
        while runs < 3:  # noqa: ASYNC110 -- the job's own runs are what is waited for
            await asyncio.sleep(0.001)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job


async def test_a_job_cancelled_mid_run_stops_even_if_it_turned_the_cancellation_into_an_error() -> None:
    started = asyncio.Event()

    async def turning() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("cannot roll back: the connection is invalidated") from None

    job = asyncio.create_task(_every(0.001, turning))
    await started.wait()
    job.cancel()

    done, _ = await asyncio.wait({job}, timeout=5)
    assert job in done, "the job went on after it was cancelled"
    with pytest.raises(RuntimeError):
        job.result()
