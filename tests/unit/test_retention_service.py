"""Retention at the service layer, over the in-memory store: what an agent changes keeps the rest of its
policy, and the sweep deletes mail past each mailbox's age in bounded batches. Making room in a full
mailbox happens inside the delivery's transaction and is tested on both databases in
tests/integration/test_retention.py; the store's side is held to the SQL one by
tests/integration/test_unit_of_work_contract.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailservice.domain.errors import InvalidInput
from mailservice.domain.messages import FolderChanged
from mailservice.domain.retention import MailboxRetention, RetentionPolicy
from mailservice.services import retention
from tests.support.service_wiring import NOW, Wiring


@pytest.fixture
def wiring() -> Wiring:
    return Wiring()


async def test_a_change_keeps_what_it_does_not_name_starting_from_the_default(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()

    default = await wiring.retention.policy(mailbox)
    only_full = await wiring.retention.change(mailbox, delete_oldest_read_when_full=True)
    only_age = await wiring.retention.change(mailbox, max_age_days=7)
    forever = await wiring.retention.change(mailbox, max_age_days=None)

    assert default == MailboxRetention(RetentionPolicy(30, False), is_default=True)
    assert only_full == MailboxRetention(RetentionPolicy(30, True), is_default=False)
    assert only_age.policy == RetentionPolicy(7, True)
    assert forever.policy == RetentionPolicy(None, True)
    assert await wiring.retention.policy(mailbox) == forever


async def test_an_age_out_of_range_is_refused_and_changes_nothing(wiring: Wiring) -> None:
    mailbox = wiring.paid_mailbox()

    for days in (0, 100_000):
        with pytest.raises(InvalidInput):
            await wiring.retention.change(mailbox, max_age_days=days)

    assert (await wiring.retention.policy(mailbox)).is_default


async def test_the_sweep_deletes_mail_past_each_mailboxs_age_and_says_so(wiring: Wiring) -> None:
    weekly, default = wiring.paid_mailbox(), wiring.paid_mailbox()
    await wiring.retention.change(weekly, max_age_days=7)
    for mailbox in (weekly, default):
        for uid, days in enumerate((40, 10, 1), start=1):
            wiring.message(mailbox, uid, NOW - timedelta(days=days))
    changes = wiring.bus.subscribe(weekly.id)

    deleted = await wiring.retention.sweep()

    assert deleted == 3
    assert sorted(wiring.uow.state.messages) == sorted([(weekly.id, 3), (default.id, 2), (default.id, 3)])
    assert isinstance(await anext(changes), FolderChanged)


async def test_a_sweep_runs_in_batches_and_stops_after_its_bound(
    wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "SWEEP_BATCH", 2)
    monkeypatch.setattr(retention, "MAX_BATCHES_PER_SWEEP", 2)
    mailbox = wiring.paid_mailbox()
    for uid in range(1, 6):
        wiring.message(mailbox, uid, NOW - timedelta(days=31))

    first, second = await wiring.retention.sweep(), await wiring.retention.sweep()

    assert (first, second) == (4, 1)
    assert wiring.uow.state.messages == {}
