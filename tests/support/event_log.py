"""The event log as tests read it: through the port the service reads it with."""

from __future__ import annotations

from mailservice.adapters.db.sealed_text import TextSealer
from mailservice.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from mailservice.bootstrap import Runtime
from mailservice.domain.agent_events import LoggedEvent
from mailservice.services.announce import AfterCommitPublisher
from tests.conftest import TEST_SECRET


async def logged_events(
    runtime: Runtime, mailbox_id: str, after: int = 0, limit: int = 100
) -> list[LoggedEvent]:
    uow = SqlUnitOfWorkFactory(
        runtime.database, AfterCommitPublisher(runtime.events), TextSealer(TEST_SECRET.encode())
    )
    async with uow(read_only=True) as reading:
        return await reading.event_log.read_after(mailbox_id, after, limit)
