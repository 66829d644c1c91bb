"""One connection policy for the mail listeners (SMTP, LMTP, IMAP and POP3).

Every listener of a protocol shares one `ConnectionLimits` (in total and per client address), and all
of them share one process-wide cap under the open-file limit, so that no attack on one listener takes
the descriptors the others and the database need. Bytes held in memory for incoming commands, literals
and DATA are charged to a `ConnectionMemory`: a per-connection share of one process-wide
`MemoryBudget`. When a share or the budget is spent the protocol answers with a temporary refusal
instead of buffering more.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

DESCRIPTOR_RESERVE = 256
"""Descriptors kept back from the mail listeners for HTTP, the database, log files and spooled bodies."""


@dataclass
class ConnectionLimits:
    """Open connections in total and per client address; `parent` is a cap shared with other listeners."""

    max_total: int
    max_per_ip: int
    parent: ConnectionLimits | None = None
    _by_ip: dict[str, int] = field(default_factory=dict)
    _total: int = 0
    _until_none: list[asyncio.Future[None]] = field(default_factory=list)

    @property
    def open_connections(self) -> int:
        return self._total

    async def until_all_closed(self) -> None:
        """Return once no connection of these limits is open (at shutdown: the sessions have ended)."""
        while self._total > 0:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._until_none.append(waiter)
            await waiter

    def is_nearly_full(self, fraction: float) -> bool:
        """Whether this cap, or one it shares, has `fraction` of its connections taken."""
        if self._total >= self.max_total * fraction:
            return True
        return self.parent is not None and self.parent.is_nearly_full(fraction)

    def try_acquire(self, ip: str) -> bool:
        if self._total >= self.max_total or self._by_ip.get(ip, 0) >= self.max_per_ip:
            return False
        if self.parent is not None and not self.parent.try_acquire(ip):
            return False
        self._total += 1
        self._by_ip[ip] = self._by_ip.get(ip, 0) + 1
        return True

    def release(self, ip: str) -> None:
        self._total -= 1
        remaining = self._by_ip.get(ip, 1) - 1
        if remaining <= 0:
            self._by_ip.pop(ip, None)
        else:
            self._by_ip[ip] = remaining
        if self.parent is not None:
            self.parent.release(ip)
        if self._total == 0:
            waiters, self._until_none = self._until_none, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)


@dataclass
class MemoryBudget:
    """Bytes of incoming data held in memory by every connection of the process together."""

    max_bytes: int
    held: int = 0

    def try_take(self, size: int) -> bool:
        if self.held + size > self.max_bytes:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        self.held = max(0, self.held - size)


@dataclass
class ConnectionMemory:
    """One connection's share of the process budget: at most `max_bytes` held at a time."""

    budget: MemoryBudget
    max_bytes: int
    held: int = 0

    def try_take(self, size: int) -> bool:
        if self.held + size > self.max_bytes or not self.budget.try_take(size):
            return False
        self.held += size
        return True

    def try_take_beyond_share(self, size: int) -> bool:
        """Charge the process budget only: for a spooled literal read back to be stored, which is
        larger than any share but must still fit in the process's budget."""
        if not self.budget.try_take(size):
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        size = min(size, self.held)
        self.held -= size
        self.budget.give_back(size)

    def release_all(self) -> None:
        self.give_back(self.held)


@dataclass(frozen=True)
class ListenerPolicy:
    """The limits of one protocol's listeners.

    `login_timeout_seconds` bounds the time to authenticate (IMAP, POP3) or to start a transaction
    (SMTP, LMTP); `idle_timeout_seconds` is the inactivity timer after that. `connection_buffer_bytes`
    is the most a connection may hold in memory for one command, literal or message block;
    `login_buffer_bytes` the most before login (IMAP, POP3).
    """

    limits: ConnectionLimits
    memory: MemoryBudget
    login_timeout_seconds: float
    idle_timeout_seconds: float
    connection_buffer_bytes: int
    login_buffer_bytes: int = 8 * 1024

    def connection_memory(self) -> ConnectionMemory:
        return ConnectionMemory(self.memory, self.connection_buffer_bytes)


@dataclass(frozen=True)
class ProcessLimits:
    """What every mail listener of the process shares: a cap on open connections and the memory budget."""

    connections: ConnectionLimits
    memory: MemoryBudget

    @classmethod
    def for_process(cls, memory_budget_bytes: int, descriptor_reserve: int) -> ProcessLimits:
        cap = mail_connections_cap(raise_open_file_limit(), descriptor_reserve)
        return cls(ConnectionLimits(cap, cap), MemoryBudget(memory_budget_bytes))


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as error:
            log.warning("limits.nofile_not_raised soft=%s hard=%s error=%s", soft, hard, error)
    return soft


def mail_connections_cap(open_file_limit: int, reserve: int = DESCRIPTOR_RESERVE) -> int:
    """How many mail connections the process may hold open together, leaving `reserve` descriptors."""
    return max(1, open_file_limit - reserve)
