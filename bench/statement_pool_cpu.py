"""CPU per one-statement read on PostgreSQL: asyncpg's pool against `StatementPool` and a bare connection.

Run: .venv/bin/python -m bench.statement_pool_cpu [--database postgresql://postgres@127.0.0.1:5432/test]
        [--statements 5000]

One statement at a time (`SELECT $1::int`) on uvloop, as the IMAP server's reads and writes around
every command run: this process's CPU time and the wall time per statement, for asyncpg's pool (with
no reset query on release, as the service had it), `StatementPool`, and one connection used directly
(the floor). What the pool itself costs is the difference from the floor.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from functools import partial

import asyncpg
import uvloop

from mailservice.adapters.db.statement_pool import StatementPool

WARMUP = 300


async def _no_reset(_connection: asyncpg.Connection) -> None:
    pass


async def _measure(label: str, statement: Callable[[], Awaitable[object]], count: int) -> None:
    for _ in range(WARMUP):
        await statement()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await statement()
    cpu_us = 1e6 * (time.process_time() - cpu) / count
    wall_us = 1e6 * (time.perf_counter() - wall) / count
    print(f"  {label:<22} cpu {cpu_us:6.1f} us/statement   wall {wall_us:6.1f} us/statement")


async def run(dsn: str, count: int) -> None:
    asyncpg_pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, reset=_no_reset)
    ours = StatementPool(partial(asyncpg.connect, dsn), 2)
    bare = await asyncpg.connect(dsn)
    try:
        await _measure("asyncpg pool", lambda: asyncpg_pool.fetch("SELECT $1::int", 1), count)
        await _measure("StatementPool", lambda: ours.fetch("SELECT $1::int", 1), count)
        await _measure("one connection", lambda: bare.fetch("SELECT $1::int", 1), count)
    finally:
        await asyncpg_pool.close()
        await ours.close()
        await bare.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--statements", type=int, default=5000)
    args = parser.parse_args()
    uvloop.run(run(args.database, args.statements))


if __name__ == "__main__":
    main()
