"""An in-memory unit of work for service tests (Cosmic Python's `FakeUnitOfWork`).

Each unit of work changes a copy of the shared state; `commit()` makes the copy the state and hands the
recorded events to the publisher once the unit of work is left, exactly as the SQL one does. Only the
repositories the service tests need are here: asking for another one is an AttributeError that names it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Self, cast

from mailservice.domain.agent_events import LoggedEvent
from mailservice.domain.errors import StorageUnavailable
from mailservice.domain.events import DomainEvent, NotificationQueued
from mailservice.domain.expiry_notice import ExpiryNotice
from mailservice.domain.mailbox import Mailbox, MailboxStatus
from mailservice.domain.messages import AccessRevoked, FolderChanged, StoredMessage
from mailservice.domain.notification import Notification
from mailservice.domain.search import MessageQuery
from mailservice.ports import EventPublisher, UnitOfWork

INBOX_FOLDER_ID = 1


@dataclass
class MemoryState:
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    messages: dict[tuple[str, int], StoredMessage] = field(default_factory=dict)
    modseqs: dict[str, int] = field(default_factory=dict)
    notices_sent: set[tuple[str, ExpiryNotice, datetime]] = field(default_factory=set)
    outbox: list[Notification] = field(default_factory=list)
    event_log: list[LoggedEvent] = field(default_factory=list)


class FakeMailboxes:
    def __init__(self, state: MemoryState, uow: FakeUnitOfWork) -> None:
        self._state = state
        self._uow = uow

    async def get(self, mailbox_id: str) -> Mailbox | None:
        return self._state.mailboxes.get(mailbox_id)

    async def update(self, mailbox: Mailbox) -> None:
        self._state.mailboxes[mailbox.id] = mailbox
        if mailbox.status is MailboxStatus.EXPIRED:
            self._uow.record(AccessRevoked(mailbox.id))

    async def expire_lapsed(self, now: datetime) -> int:
        lapsed = [m for m in self._state.mailboxes.values() if m.has_lapsed(now)]
        for mailbox in lapsed:
            await self.update(mailbox.expire(now))
        return len(lapsed)

    async def due_for_notice(
        self, notice: ExpiryNotice, after: datetime, until: datetime, limit: int
    ) -> list[Mailbox]:
        status = MailboxStatus.ACTIVE if notice is ExpiryNotice.REMINDER else MailboxStatus.EXPIRED
        due = [
            m
            for m in self._state.mailboxes.values()
            if m.status is status
            and m.expires_at is not None
            and after < m.expires_at <= until
            and (m.id, notice, m.expires_at) not in self._state.notices_sent
        ]
        return sorted(due, key=lambda m: m.expires_at or until)[:limit]

    async def mark_notice_sent(self, mailbox_id: str, notice: ExpiryNotice, expires_at: datetime) -> bool:
        key = (mailbox_id, notice, expires_at)
        if key in self._state.notices_sent:
            return False
        self._state.notices_sent.add(key)
        return True


class FakeMessages:
    def __init__(self, state: MemoryState, uow: FakeUnitOfWork) -> None:
        self._state = state
        self._uow = uow

    async def find(
        self,
        mailbox_id: str,
        query: MessageQuery,
        *,
        limit: int,
        after_uid: int | None = None,
        before_uid: int | None = None,
        newest_first: bool = True,
        with_text: bool = False,
    ) -> list[StoredMessage]:
        if query != MessageQuery():
            raise NotImplementedError("the fake finds with the empty query only")
        found = sorted(
            (message for (owner, uid), message in self._state.messages.items() if owner == mailbox_id),
            key=lambda message: message.uid,
            reverse=newest_first,
        )
        low, high = after_uid or 0, before_uid or 2**63
        return [message for message in found if low < message.uid < high][:limit]

    async def get(self, mailbox_id: str, uid: int, with_text: bool = True) -> StoredMessage | None:
        return self._state.messages.get((mailbox_id, uid))

    async def set_flags(
        self, mailbox_id: str, uid: int, add: set[str], remove: set[str]
    ) -> StoredMessage | None:
        current = self._state.messages.get((mailbox_id, uid))
        if current is None:
            return None
        flags = (current.flags | add) - remove
        if flags == current.flags:
            return current
        self._changed(mailbox_id)
        self._state.messages[(mailbox_id, uid)] = replace(current, flags=frozenset(flags))
        return self._state.messages[(mailbox_id, uid)]

    async def delete(self, mailbox_id: str, uid: int) -> bool:
        if self._state.messages.pop((mailbox_id, uid), None) is None:
            return False
        self._changed(mailbox_id)
        return True

    def _changed(self, mailbox_id: str) -> None:
        modseq = self._state.modseqs.get(mailbox_id, 1) + 1
        self._state.modseqs[mailbox_id] = modseq
        self._uow.record(FolderChanged(mailbox_id, INBOX_FOLDER_ID, modseq))


class FakeOutbox:
    def __init__(self, state: MemoryState, uow: FakeUnitOfWork) -> None:
        self._state = state
        self._uow = uow

    async def enqueue(self, notification: Notification, now: datetime) -> None:
        self._state.outbox.append(notification)
        self._uow.record(NotificationQueued())


class FakeChallenges:
    async def purge_expired(self, now: datetime) -> int:
        return 0


class FakeAdmin:
    def __init__(self, state: MemoryState, uow: FakeUnitOfWork) -> None:
        self._state = state
        self._uow = uow

    async def mailbox_ids(self) -> list[str]:
        return sorted(self._state.mailboxes)

    async def ensure_inbox(self, mailbox_id: str, now: datetime) -> bool:
        return False

    async def rotate_credentials(self, mailbox_id: str, now: datetime) -> None:
        mailbox = self._state.mailboxes[mailbox_id]
        self._state.mailboxes[mailbox_id] = replace(
            mailbox, credential_epoch=mailbox.credential_epoch + 1, updated_at=now
        )
        self._uow.record(AccessRevoked(mailbox_id))


class FakeEventLog:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def read_after(self, mailbox_id: str, after: int, limit: int) -> list[LoggedEvent]:
        found = [e for e in self._state.event_log if e.mailbox_id == mailbox_id and e.id > after]
        return found[:limit]

    async def latest_id(self, mailbox_id: str) -> int:
        return max((e.id for e in self._state.event_log if e.mailbox_id == mailbox_id), default=0)

    async def delete_before(self, cutoff: datetime, limit: int) -> int:
        doomed = [e for e in self._state.event_log if e.occurred_at < cutoff][:limit]
        self._state.event_log = [e for e in self._state.event_log if e not in doomed]
        return len(doomed)


class FakeUnitOfWork:
    def __init__(self, factory: FakeUnitOfWorkFactory) -> None:
        self._factory = factory
        self._recorded: list[DomainEvent] = []
        self._committed: list[DomainEvent] = []
        self._state = copy.deepcopy(factory.state)
        self.mailboxes = FakeMailboxes(self._state, self)
        self.messages = FakeMessages(self._state, self)
        self.outbox = FakeOutbox(self._state, self)
        self.challenges = FakeChallenges()
        self.admin = FakeAdmin(self._state, self)
        self.event_log = FakeEventLog(self._state)

    def __getattr__(self, name: str) -> object:
        raise AttributeError(f"the fake unit of work has no {name!r} repository")

    def record(self, event: DomainEvent) -> None:
        self._recorded.append(event)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._recorded.clear()
        committed, self._committed = self._committed, []
        if committed:
            await self._factory.publisher.publish(committed)

    async def commit(self) -> None:
        if self._factory.fail_commits:
            raise StorageUnavailable("the fake database refuses to commit")
        self._factory.state = self._state
        self._factory.commits += 1
        self._committed += self._recorded
        self._recorded.clear()


class FakeUnitOfWorkFactory:
    def __init__(self, publisher: EventPublisher) -> None:
        self.publisher = publisher
        self.state = MemoryState()
        self.fail_commits = False
        self.commits = 0

    def __call__(self, read_only: bool = False) -> UnitOfWork:
        # Structurally a partial `UnitOfWork`: the repositories a service test does not use are absent.
        return cast(UnitOfWork, FakeUnitOfWork(self))
