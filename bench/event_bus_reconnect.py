"""How fast a node hears again after losing its PostgreSQL event listener, and what publishing costs.

Two event buses on one database, as two nodes have. The listener of the second is ended from the server
side (`pg_terminate_backend`) again and again; each time, the time until its subscribers get the resync
that makes them look in the store again is measured. Then groups of `message.received` events are
published from the first and the time until the second hears the last of each group.

Run: .venv/bin/python -m bench.event_bus_reconnect [--dsn postgresql://postgres@127.0.0.1:5432/test]
     [--losses 30] [--groups 200] [--group-size 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg

from mailservice.adapters.events.postgres import PostgresEventBus
from mailservice.domain.messages import MessageReceived, Resync

MAILBOX = "b" * 32


async def reconnect_times(dsn: str, losses: int) -> list[float]:
    bus = PostgresEventBus(dsn)
    await bus.start()
    subscription = bus.subscribe(MAILBOX)
    admin = await asyncpg.connect(dsn)
    times = []
    try:
        for _ in range(losses):
            started = time.perf_counter()
            await admin.execute("SELECT pg_terminate_backend($1)", bus.listener_pid())
            signal = await asyncio.wait_for(anext(subscription), 10)
            assert isinstance(signal, Resync)
            times.append(time.perf_counter() - started)
    finally:
        subscription.close()
        await admin.close()
        await bus.close()
    return times


async def publish_times(dsn: str, groups: int, size: int) -> list[float]:
    sender, receiver = PostgresEventBus(dsn), PostgresEventBus(dsn)
    await sender.start()
    await receiver.start()
    subscription = receiver.subscribe(MAILBOX)
    times = []
    try:
        for group in range(groups):
            events = [MessageReceived(MAILBOX, 1, group * size + uid, 1) for uid in range(1, size + 1)]
            started = time.perf_counter()
            await sender.publish(events)
            for _ in events:
                await asyncio.wait_for(anext(subscription), 10)
            times.append(time.perf_counter() - started)
    finally:
        subscription.close()
        await sender.close()
        await receiver.close()
    return times


def percentiles(label: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"{label}: n={len(ordered)} p50 {statistics.median(ordered) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )


async def run(dsn: str, losses: int, groups: int, size: int) -> None:
    percentiles("listener ended -> subscribers resynced", await reconnect_times(dsn, losses))
    percentiles(
        f"publish {size} events -> last heard on the other node", await publish_times(dsn, groups, size)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--losses", type=int, default=30)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--group-size", type=int, default=100)
    options = parser.parse_args()
    asyncio.run(run(options.dsn, options.losses, options.groups, options.group_size))


if __name__ == "__main__":
    main()
