"""The `\\Recent` claims under way on the node, by folder.

A new message is recent to the first read-write session that sees it: that session claims it by
raising the folder's recent mark (a compare and set in the database). The node's sessions of one
folder often learn of the same new messages at once (they share a changes read), and each would then
send a claim that all but one lose, taking nothing. A session whose claim would take no message beyond
those a claim under way on this node takes waits for that claim instead: once it is made, every such
message is another session's, and the mark is at least that claim's. If it is not made (it failed, or
its session went away), one of its waiters claims for itself, which tells it why, and the others wait
for that one. Claims from other nodes still meet in the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class _Claim:
    up_to_uid: int
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    made: bool = False


class ClaimsUnderWay:
    def __init__(self) -> None:
        self._claims: dict[tuple[str, int], _Claim] = {}

    async def claim(
        self, mailbox_id: str, folder_id: int, up_to_uid: int, claim: Callable[[], Awaitable[int]]
    ) -> int:
        """The mark before the claim up to `up_to_uid` that `claim` makes (`MailSession.claim_recent`),
        or, when a claim under way takes every message it would, that claim's `up_to_uid`: nothing of
        it is recent to this caller."""
        key = (mailbox_id, folder_id)
        while (under_way := self._claims.get(key)) is not None and under_way.up_to_uid >= up_to_uid:
            await under_way.finished.wait()
            if under_way.made:
                return under_way.up_to_uid
            # Not made: the first of its waiters to come here claims; the others wait for that claim.
        mine = _Claim(up_to_uid)
        self._claims[key] = mine
        try:
            mark = await claim()
            mine.made = True
            return mark
        finally:
            mine.finished.set()
            if self._claims.get(key) is mine:
                del self._claims[key]
