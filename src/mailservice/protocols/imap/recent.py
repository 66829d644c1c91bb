"""\\Recent as Dovecot has it: a new message is recent to one session only, the first read-write
session to see it (by SELECT or by a later update). The folder's recent mark in the store, raised
atomically (`MailSession.claim_recent`), says which messages no session has taken yet, so the rule holds
across connections and nodes; which messages are recent to a session is kept by its connection. A
read-only session (EXAMINE) sees the messages nobody has taken as recent without taking them."""

from __future__ import annotations

from mailservice.domain.mail_session import MailSession
from mailservice.domain.messages import RECENT

RECENT_FLAG = frozenset({RECENT})


async def recent_above(
    session: MailSession, folder_id: int, read_only: bool, mark: int, newest_uid: int
) -> int:
    """The uid above which this session's new messages (up to `newest_uid`) are recent to it, given the
    folder's recent mark as last read."""
    if read_only or newest_uid <= mark:
        return mark
    return await session.claim_recent(folder_id, newest_uid, mark)
