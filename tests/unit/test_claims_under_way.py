"""`\\Recent` claims under way on the node: a session whose claim would take nothing beyond one under
way waits for it instead of racing it in the database (the claims themselves against both databases:
tests/integration/test_shared_by_sessions.py)."""

from __future__ import annotations

import asyncio

import pytest

from mailservice.adapters.db.claims_under_way import ClaimsUnderWay
from mailservice.domain.errors import FolderNotFound


class HeldMark:
    """A folder's recent mark whose claims wait to be let go; each claim is a compare and set."""

    def __init__(self) -> None:
        self.mark = 0
        self.claims: list[int] = []
        self.let_go = asyncio.Event()
        self.failure: Exception | None = None

    def claim(self, up_to_uid: int) -> asyncio.Future[int]:
        return asyncio.ensure_future(self._claim(up_to_uid))

    async def _claim(self, up_to_uid: int) -> int:
        self.claims.append(up_to_uid)
        await self.let_go.wait()
        if self.failure is not None:
            raise self.failure
        before = self.mark
        self.mark = max(self.mark, up_to_uid)
        return before


async def claimed(claims: ClaimsUnderWay, mark: HeldMark, up_to_uid: int, folder_id: int = 1) -> int:
    return await claims.claim("mbx", folder_id, up_to_uid, lambda: mark.claim(up_to_uid))


async def test_sessions_that_would_take_what_a_claim_under_way_takes_wait_for_it_and_take_nothing() -> None:
    claims, mark = ClaimsUnderWay(), HeldMark()
    first = asyncio.create_task(claimed(claims, mark, 5))
    await asyncio.sleep(0)
    others = [asyncio.create_task(claimed(claims, mark, up_to)) for up_to in (5, 4, 5)]
    await asyncio.sleep(0.01)
    mark.let_go.set()

    assert await first == 0, "messages 1 to 5 are recent to the first"
    assert await asyncio.gather(*others) == [5, 5, 5], "none is recent to the others"
    assert mark.claims == [5]


async def test_a_session_seeing_newer_messages_than_the_claim_under_way_claims_them_itself() -> None:
    claims, mark = ClaimsUnderWay(), HeldMark()
    first = asyncio.create_task(claimed(claims, mark, 5))
    await asyncio.sleep(0)
    newer = asyncio.create_task(claimed(claims, mark, 7))
    await asyncio.sleep(0)
    after_newer = asyncio.create_task(claimed(claims, mark, 6))
    await asyncio.sleep(0.01)
    mark.let_go.set()

    assert await first == 0
    assert await newer == 5, "6 and 7 are recent to it"
    assert await after_newer == 7
    assert mark.claims == [5, 7]


@pytest.mark.parametrize("ending", ["fails", "goes away"])
async def test_a_session_waiting_for_a_claim_that_is_not_made_claims_itself(ending: str) -> None:
    claims, mark = ClaimsUnderWay(), HeldMark()
    first = asyncio.create_task(claimed(claims, mark, 5))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(claimed(claims, mark, 5))
    await asyncio.sleep(0.01)
    if ending == "fails":
        mark.failure = FolderNotFound("the selected folder no longer exists")
        mark.let_go.set()
        with pytest.raises(FolderNotFound):
            await first
        with pytest.raises(FolderNotFound):
            await waiting
        assert mark.claims == [5, 5]
        return
    more_waiting = asyncio.create_task(claimed(claims, mark, 5))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    mark.let_go.set()
    assert sorted(await asyncio.gather(waiting, more_waiting)) == [0, 5], "one claims, the other waits for it"
    assert mark.claims == [5, 5]


async def test_claims_of_different_folders_do_not_wait_for_each_other() -> None:
    claims, mark, other = ClaimsUnderWay(), HeldMark(), HeldMark()
    first = asyncio.create_task(claimed(claims, mark, 5))
    await asyncio.sleep(0)
    elsewhere = asyncio.create_task(claimed(claims, other, 5, folder_id=2))
    await asyncio.sleep(0.01)
    other.let_go.set()
    assert await elsewhere == 0
    assert not first.done()
    mark.let_go.set()
    assert await first == 0
