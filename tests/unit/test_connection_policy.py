"""The connection policy shared by the mail listeners: connection caps and the memory budget."""

from __future__ import annotations

import resource

from hypothesis import given
from hypothesis import strategies as st

from mailservice.protocols.connection_policy import (
    ConnectionLimits,
    ConnectionMemory,
    MemoryBudget,
    ProcessLimits,
    mail_connections_cap,
)


def test_a_client_address_over_its_share_is_refused_while_others_connect() -> None:
    limits = ConnectionLimits(max_total=10, max_per_ip=2)
    assert limits.try_acquire("192.0.2.1")
    assert limits.try_acquire("192.0.2.1")
    assert not limits.try_acquire("192.0.2.1")
    assert limits.try_acquire("192.0.2.2")
    limits.release("192.0.2.1")
    assert limits.try_acquire("192.0.2.1")


def test_the_process_cap_is_shared_by_every_listener() -> None:
    process = ConnectionLimits(max_total=2, max_per_ip=2)
    smtp = ConnectionLimits(max_total=10, max_per_ip=10, parent=process)
    imap = ConnectionLimits(max_total=10, max_per_ip=10, parent=process)
    assert smtp.try_acquire("192.0.2.1")
    assert imap.try_acquire("192.0.2.2")
    assert not imap.try_acquire("192.0.2.3")
    assert imap.open_connections == 1  # a refusal by the parent counts nothing
    smtp.release("192.0.2.1")
    assert imap.try_acquire("192.0.2.3")
    assert process.open_connections == 2


@given(st.lists(st.tuples(st.booleans(), st.sampled_from(["a", "b", "c"])), max_size=60))
def test_connection_counts_never_exceed_the_caps_and_return_to_zero(steps: list[tuple[bool, str]]) -> None:
    process = ConnectionLimits(max_total=4, max_per_ip=4)
    listener = ConnectionLimits(max_total=3, max_per_ip=2, parent=process)
    held: list[str] = []
    for acquire, ip in steps:
        if acquire:
            if listener.try_acquire(ip):
                held.append(ip)
        elif ip in held:
            held.remove(ip)
            listener.release(ip)
        assert listener.open_connections == len(held) <= 3
        assert all(held.count(address) <= 2 for address in held)
    for ip in held:
        listener.release(ip)
    assert listener.open_connections == process.open_connections == 0


def test_a_connection_cannot_hold_more_than_its_share_or_the_process_budget() -> None:
    budget = MemoryBudget(max_bytes=100)
    first = ConnectionMemory(budget, max_bytes=60)
    second = ConnectionMemory(budget, max_bytes=60)
    assert first.try_take(60)
    assert not first.try_take(1)
    assert not second.try_take(41)  # the process budget has 40 left
    assert second.try_take(40)
    first.release_all()
    assert budget.held == 40
    assert second.try_take(20)
    second.give_back(1000)  # giving back more than held gives back what is held
    assert budget.held == 0 and second.held == 0


def test_the_process_keeps_a_reserve_of_descriptors() -> None:
    assert mail_connections_cap(1024, 256) == 768
    assert mail_connections_cap(100, 256) == 1
    limits = ProcessLimits.for_process(memory_budget_bytes=1 << 20, descriptor_reserve=256)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard or hard == resource.RLIM_INFINITY
    assert limits.connections.max_total == mail_connections_cap(soft, 256)


def test_limits_are_nearly_full_when_they_or_the_cap_they_share_are() -> None:
    process = ConnectionLimits(max_total=8, max_per_ip=8)
    smtp = ConnectionLimits(max_total=10, max_per_ip=10, parent=process)
    for index in range(3):
        assert smtp.try_acquire(f"192.0.2.{index}")
    assert not smtp.is_nearly_full(0.5)
    assert smtp.is_nearly_full(0.3)
    assert process.is_nearly_full(0.35)
    assert smtp.is_nearly_full(0.35)  # through the process-wide cap
