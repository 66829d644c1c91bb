"""Retention: mailbox policies, room made in a full mailbox by deleting its oldest read mail, and the
deletion of mail past its age.

Every deletion goes through the one expunge of `message_changes`, so the quota, the folders' modseqs and
`expunged_messages` stay exact, and open IMAP and POP3 sessions learn of it like of any expunge.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, insert, select
from sqlalchemy.engine import Connection

from mailservice.adapters.db.database import Database
from mailservice.adapters.db.message_changes import expunge, lock_whole_mailboxes
from mailservice.adapters.db.tables import mailbox_retention, messages
from mailservice.domain.messages import SEEN, FolderChanged
from mailservice.domain.quota import Quota
from mailservice.domain.retention import MailboxRetention, RetentionPolicy
from mailservice.ports import EventPublisher

log = logging.getLogger(__name__)

_CANDIDATE_CHUNK = 500


class SqlRetention:
    def __init__(self, database: Database, default: RetentionPolicy, publisher: EventPublisher) -> None:
        self._database = database
        self._default = default
        self._publisher = publisher

    async def get(self, mailbox_id: str) -> MailboxRetention:
        return await self._database.run_read(lambda c: self._of_mailbox(c, mailbox_id))

    async def set(self, mailbox_id: str, policy: RetentionPolicy) -> None:
        def work(connection: Connection) -> None:
            connection.execute(delete(mailbox_retention).where(mailbox_retention.c.mailbox_id == mailbox_id))
            connection.execute(
                insert(mailbox_retention).values(
                    mailbox_id=mailbox_id,
                    max_age_days=policy.max_age_days,
                    delete_oldest_read=policy.delete_oldest_read_when_full,
                )
            )

        await self._database.run_write(work)

    async def can_make_room(self, mailbox_id: str) -> bool:
        """Whether a full mailbox may take more mail: its policy deletes read mail and it has some."""

        def work(connection: Connection) -> bool:
            if not self._of_mailbox(connection, mailbox_id).policy.delete_oldest_read_when_full:
                return False
            return bool(connection.execute(select(exists().where(*_read_of(mailbox_id)))).scalar())

        return await self._database.run_read(work)

    def make_room(
        self, connection: Connection, quotas: dict[str, Quota], needs: dict[str, list[int]]
    ) -> list[FolderChanged]:
        """Inside the delivery's transaction, with every folder of the mailboxes locked (it may delete
        from any; `lock_whole_mailboxes`) and their mailbox rows after them: for each mailbox whose
        incoming messages (`needs`, sizes in delivery order) do not fit, delete its oldest read messages
        until as many of them fit as can; `quotas` is updated to what is left."""
        changed: list[FolderChanged] = []
        for mailbox_id in sorted(needs):
            quota = quotas[mailbox_id]
            if quota.allows(sum(needs[mailbox_id])):
                continue
            if not self._of_mailbox(connection, mailbox_id).policy.delete_oldest_read_when_full:
                continue
            doomed = _oldest_read_to_free(connection, mailbox_id, quota, needs[mailbox_id])
            if not doomed:
                continue
            changed += _expunge_rows(connection, mailbox_id, doomed)
            freed = sum(row.size for row in doomed)
            quotas[mailbox_id] = Quota(quota.used_bytes - freed, quota.limit_bytes, quota.messages)
            log.info("retention.made_room mailbox=%s messages=%d bytes=%d", mailbox_id, len(doomed), freed)
        return changed

    async def delete_expired(self, now: datetime, limit: int) -> int:
        """Delete up to `limit` messages past their mailbox's age limit, in one transaction; how many."""
        deleted, changed = await self._database.run_write(lambda c: self._delete_expired(c, now, limit))
        await self._publisher.publish(changed)
        return deleted

    def _delete_expired(
        self, connection: Connection, now: datetime, limit: int
    ) -> tuple[int, list[FolderChanged]]:
        doomed: list[Any] = []
        for query in self._expired_queries(connection, now):
            doomed += connection.execute(query.limit(limit - len(doomed))).all()
            if len(doomed) >= limit:
                break
        by_mailbox: dict[str, list[Any]] = defaultdict(list)
        for row in doomed:
            by_mailbox[row.mailbox_id].append(row)
        lock_whole_mailboxes(connection, set(by_mailbox))  # every folder before any mailbox row
        changed: list[FolderChanged] = []
        for mailbox_id in sorted(by_mailbox):
            changed += _expunge_rows(connection, mailbox_id, by_mailbox[mailbox_id])
        return len(doomed), changed

    def _expired_queries(self, connection: Connection, now: datetime) -> Iterable[Select[Any]]:
        """One query per age limit in use: the mailboxes that chose each, then those on the default."""
        columns = (messages.c.mailbox_id, messages.c.folder_id, messages.c.uid, messages.c.size)
        own_ages = connection.execute(
            select(mailbox_retention.c.max_age_days)
            .where(mailbox_retention.c.max_age_days.is_not(None))
            .distinct()
        ).scalars()
        for days in sorted(own_ages):
            cutoff = RetentionPolicy(days, False).cutoff(now)
            yield (
                select(*columns)
                .join(mailbox_retention, mailbox_retention.c.mailbox_id == messages.c.mailbox_id)
                .where(mailbox_retention.c.max_age_days == days, messages.c.internal_date < cutoff)
            )
        default_cutoff = self._default.cutoff(now)
        if default_cutoff is not None:
            chose = select(mailbox_retention.c.mailbox_id).where(
                mailbox_retention.c.mailbox_id == messages.c.mailbox_id
            )
            yield select(*columns).where(messages.c.internal_date < default_cutoff, ~chose.exists())

    def _of_mailbox(self, connection: Connection, mailbox_id: str) -> MailboxRetention:
        row = connection.execute(
            select(mailbox_retention.c.max_age_days, mailbox_retention.c.delete_oldest_read).where(
                mailbox_retention.c.mailbox_id == mailbox_id
            )
        ).first()
        if row is None:
            return MailboxRetention(self._default, is_default=True)
        return MailboxRetention(RetentionPolicy(row.max_age_days, row.delete_oldest_read), is_default=False)


def _read_of(mailbox_id: str) -> list[ColumnElement[bool]]:
    return [messages.c.mailbox_id == mailbox_id, messages.c.flags.contains(SEEN, autoescape=True)]


def _oldest_read_to_free(
    connection: Connection, mailbox_id: str, quota: Quota, sizes: Sequence[int]
) -> list[Any]:
    """The oldest read messages whose deletion lets the most of `sizes` (taken in order) fit; none when
    not even the first would fit after deleting every read message."""
    query = (
        select(messages.c.id, messages.c.folder_id, messages.c.uid, messages.c.size)
        .where(*_read_of(mailbox_id))
        .order_by(messages.c.internal_date, messages.c.id)
    )
    wanted = quota.used_bytes + sum(sizes) - quota.limit_bytes
    found: list[Any] = []
    freed = 0
    while freed < wanted:
        chunk = connection.execute(query.offset(len(found)).limit(_CANDIDATE_CHUNK)).all()
        for row in chunk:
            found.append(row)
            freed += row.size
            if freed >= wanted:
                return found
        if len(chunk) < _CANDIDATE_CHUNK:
            break
    return _enough_for_a_prefix(found, quota, sizes)


def _enough_for_a_prefix(found: list[Any], quota: Quota, sizes: Sequence[int]) -> list[Any]:
    """Every read message freed is not enough for all of `sizes`: the fewest that let the longest
    prefix of them fit."""
    most = sum(row.size for row in found)
    accepted = 0
    for size in sizes:
        if quota.used_bytes - most + accepted + size > quota.limit_bytes:
            break
        accepted += size
    wanted = quota.used_bytes + accepted - quota.limit_bytes
    if accepted == 0 or wanted <= 0:
        return []
    freed = 0
    for count, row in enumerate(found, 1):
        freed += row.size
        if freed >= wanted:
            return found[:count]
    return found


def _expunge_rows(connection: Connection, mailbox_id: str, rows: Sequence[Any]) -> list[FolderChanged]:
    by_folder: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_folder[row.folder_id].append(row.uid)
    changed = []
    for folder_id in sorted(by_folder):
        _, write = expunge(connection, mailbox_id, folder_id, by_folder[folder_id], only_deleted=False)
        if write is not None:
            changed.append(FolderChanged(mailbox_id, write.folder_id, write.modseq))
    return changed
