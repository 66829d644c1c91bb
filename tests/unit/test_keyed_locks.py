"""`KeyedLocks`: so many holders at a time per key, other keys never held up, nothing kept after."""

from __future__ import annotations

import asyncio

from mailservice.keyed_locks import KeyedLocks


async def test_a_key_has_so_many_holders_at_a_time_and_other_keys_are_not_held_up() -> None:
    locks = KeyedLocks(holders=2)
    inside: list[str] = []
    three_in, release = asyncio.Event(), asyncio.Event()

    async def hold(key: str, name: str) -> None:
        async with locks.hold(key):
            inside.append(name)
            if len(inside) == 3:
                three_in.set()
            await release.wait()

    tasks = [asyncio.create_task(hold("a", f"a{n}")) for n in range(3)]
    tasks.append(asyncio.create_task(hold("b", "b0")))
    await asyncio.wait_for(three_in.wait(), 5)
    for _ in range(10):  # the third of "a" stays out however many turns it is given
        await asyncio.sleep(0)

    assert sorted(inside) == ["a0", "a1", "b0"]
    release.set()
    await asyncio.gather(*tasks)
    assert sorted(inside) == ["a0", "a1", "a2", "b0"]
    assert locks._locks == {} and locks._users == {}


async def test_one_holder_by_default() -> None:
    locks = KeyedLocks()
    order: list[int] = []

    async def hold(n: int) -> None:
        async with locks.hold("k"):
            order.append(n)
            await asyncio.sleep(0)
            order.append(n)

    await asyncio.gather(*(hold(n) for n in range(3)))

    assert order == [0, 0, 1, 1, 2, 2]
