"""What a second process writing the same SQLite file costs the serving process's writer.

Run: .venv/bin/python -m bench.sqlite_second_writer [--seconds 10] [--rate 200]

The webhook sender process writes the database file the serving process writes (claims and outcomes,
a few statements each); SQLite lets one of them write at a time, and the other waits in SQLite's busy
handler, which sleeps 1, 2, 5, 10 ms and up between tries. This measures the serving process's side:
commits as the store's writer makes them (`Database.run_write`, one after another, each inserting a
5 KB row and fsynced), first alone, then while another process commits `--rate` transactions a second
shaped like the sender's (an UPDATE of 20 rows and an INSERT of 20 rows, fsynced), then alone again.
For each phase: commits, p50, p99 and max of a commit's time, and how many took over 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bench.smtp_load import nearest_rank
from mailservice.adapters.db.database import Database
from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.engine import create_sqlite_sync_engine

SLOW_MS = 5.0
ROW = b"x" * 5000


def second_writer(dsn: str, rate: float, stop_at: float) -> None:
    engine = create_sqlite_sync_engine(async_database_url(dsn))
    pause = 1.0 / rate
    n = 0
    while time.monotonic() < stop_at:
        started = time.monotonic()
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE sender_rows SET n = n + 1 WHERE id BETWEEN :low AND :low + 19"),
                {"low": n % 1000},
            )
            connection.execute(
                text("INSERT INTO sender_log (n) VALUES (:n)"), [{"n": n + i} for i in range(20)]
            )
        n += 1
        time.sleep(max(0.0, pause - (time.monotonic() - started)))
    engine.dispose()


async def commits(database: Database, seconds: float) -> list[float]:
    took: list[float] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.perf_counter()
        await database.run_write(
            lambda connection: connection.execute(
                text("INSERT INTO store_rows (body) VALUES (:b)"), {"b": ROW}
            )
        )
        took.append(1000 * (time.perf_counter() - started))
    return took


def describe(name: str, took: list[float]) -> str:
    ordered = sorted(took)
    slow = sum(1 for t in took if t > SLOW_MS)
    return (
        f"{name}: {len(took)} commits, p50 {nearest_rank(ordered, 50):.2f} ms, "
        f"p99 {nearest_rank(ordered, 99):.2f} ms, max {ordered[-1]:.2f} ms, over {SLOW_MS:.0f} ms: {slow} "
        f"(load average {os.getloadavg()[0]:.2f})"
    )


async def run(seconds: float, rate: float) -> None:
    dsn = str(Path(tempfile.mkdtemp(prefix="bench-second-writer-")) / "data.db")
    database = Database(async_database_url(dsn))
    await database.run_write(
        lambda c: c.execute(text("CREATE TABLE store_rows (id INTEGER PRIMARY KEY, body BLOB)"))
    )
    await database.run_write(
        lambda c: c.execute(text("CREATE TABLE sender_rows (id INTEGER PRIMARY KEY, n INT)"))
    )
    await database.run_write(
        lambda c: c.execute(text("CREATE TABLE sender_log (id INTEGER PRIMARY KEY, n INT)"))
    )
    await database.run_write(
        lambda c: c.execute(
            text("INSERT INTO sender_rows (id, n) VALUES (:i, 0)"), [{"i": i} for i in range(1100)]
        )
    )
    print(describe("alone", await commits(database, seconds)), flush=True)
    other = multiprocessing.get_context("spawn").Process(
        target=second_writer, args=(dsn, rate, time.monotonic() + seconds + 1)
    )
    other.start()
    await asyncio.sleep(1)
    print(describe(f"beside {rate:.0f} sender transactions/s", await commits(database, seconds)), flush=True)
    await asyncio.to_thread(other.join)
    print(describe("alone again", await commits(database, seconds)), flush=True)
    await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="the second writer's transactions a second")
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.rate))


if __name__ == "__main__":
    main()
