"""The timers of RFC 5321 §4.5.3.2 for aiosmtpd, one for each state instead of one for everything.

aiosmtpd restarts one timer on every command, so a connection that sends NOOP forever is never closed,
and a long DATA phase shares that timer with the commands. Here a connection must start a transaction
(MAIL FROM) within the transaction-start timeout of connecting or of finishing its last message; inside a
transaction the command timer restarts only when the transaction moved forward (MAIL, an accepted RCPT);
in DATA the timer runs from the last bytes received (a data block), and the processing after the final
dot has its own. When a timer runs out the client is told `421 4.4.2` and the connection is closed.

Under stress, when the listeners' connections are nearly all taken, every timer of the client's making
(not the storing after the dot) is cut to `under_stress`, as Postfix does, so that connections held
open slowly give way to senders waiting to connect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from mailservice.protocols.connection_policy import ConnectionLimits

TIMEOUT_REPLY = "421 4.4.2 {hostname} Error: timeout exceeded"
STRESS_FRACTION = 0.9


@dataclass(frozen=True)
class SmtpTimeouts:
    transaction_start: float
    command: float
    data_block: float
    data_termination: float
    under_stress: float


class Timeouts:
    """Mixed into aiosmtpd's protocol classes, before them in the MRO."""

    timeouts: SmtpTimeouts
    limits: ConnectionLimits
    envelope: Any
    hostname: str
    loop: asyncio.AbstractEventLoop
    transport: Any
    _transaction_deadline: float = 0.0
    _progress: int | None = None
    _receiving_data = False
    _last_received = 0.0

    def connection_made(self, transport: Any) -> None:
        self.wait_for_transaction()
        super().connection_made(transport)  # type: ignore[misc]

    def wait_for_transaction(self) -> None:
        """Start the time within which the next MAIL FROM must come."""
        self._transaction_deadline = self.loop.time() + self.timeouts.transaction_start
        self._progress = None

    def data_received(self, data: bytes) -> None:
        self._last_received = self.loop.time()
        super().data_received(data)  # type: ignore[misc]

    def start_data(self) -> None:
        """The DATA phase: the timer runs from the last bytes received, whatever they were."""
        self._receiving_data = True
        self._last_received = self.loop.time()
        self._reset_timeout(self._client_timeout(self.timeouts.data_block))

    def end_data(self) -> None:
        """The final dot has come: storing the message has its own timer."""
        self._receiving_data = False
        self._reset_timeout(self.timeouts.data_termination)

    def _reset_timeout(self, duration: float | None = None) -> None:
        """aiosmtpd calls this before every command it recognises; the timer depends on the state."""
        if duration is None:
            duration = self._command_timeout()
            if duration is None:
                return  # no progress since the last command: the running timer keeps running
        super()._reset_timeout(duration)  # type: ignore[misc]

    def _command_timeout(self) -> float | None:
        if self.envelope.mail_from is None:
            return self._client_timeout(max(self._transaction_deadline - self.loop.time(), 0.001))
        progress = len(self.envelope.rcpt_tos)
        if progress == self._progress:
            return None
        self._progress = progress
        return self._client_timeout(self.timeouts.command)

    def _client_timeout(self, seconds: float) -> float:
        if self.limits.is_nearly_full(STRESS_FRACTION):
            return min(seconds, self.timeouts.under_stress)
        return seconds

    def _timeout_cb(self) -> None:
        if self._receiving_data:
            # Bytes arriving do not restart the timer (that would cost a timer per read); the timer
            # looks back instead when it fires.
            block = self._client_timeout(self.timeouts.data_block)
            remaining = self._last_received + block - self.loop.time()
            if remaining > 0:
                super()._reset_timeout(remaining)  # type: ignore[misc]
                return
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(f"{TIMEOUT_REPLY.format(hostname=self.hostname)}\r\n".encode())
        super()._timeout_cb()  # type: ignore[misc]
