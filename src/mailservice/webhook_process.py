"""Webhook sending in a process of its own, beside the serving process.

Claiming, signing, POSTing and recording outcomes are work the serving process does not have to do: in it
they take the interpreter lock that the listeners and the store's writer thread need. The sender process
builds its own database handle, unit of work and `WebhookWorker` from the same settings and shares the
work with every other node as the in-process worker did (leases, `FOR UPDATE SKIP LOCKED`).

The two processes talk over one socket pair, one byte a message: the serving process sends `w` when
deliveries were queued (after their commit), the sender process sends `o` when it queued a notification
(an endpoint turned off), so this node's outbox worker sends it at once. Wake-ups that find one still
unread are not sent again. The sender process also claims every `WEBHOOK_POLL_SECONDS`, for deliveries
whose retry falls due and those queued by other nodes.

The sender process ends with the serving process: on Linux the kernel kills it when its parent dies
(`PR_SET_PDEATHSIG`), and anywhere it leaves at once when the socket closes without a goodbye, so a
kill -9 of the server never leaves a sender posting alone; what it had leased is sent again, with the
same `webhook-id`, once its lease ends. On a clean shutdown the serving process says `q` and waits for it
to stop. A sender process that dies is started again, after a pause that doubles up to 30 s while it
keeps dying.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from multiprocessing.process import BaseProcess

import uvloop

from mailservice.adapters.db.database import Database
from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.sealed_text import TextSealer
from mailservice.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from mailservice.adapters.db.webhook_queue import SqlDeliveryQueue
from mailservice.adapters.dev_secret import load_secret
from mailservice.adapters.events.local import InProcessEventBus
from mailservice.adapters.webhooks.guarded_connect import SystemResolver
from mailservice.adapters.webhooks.sender import HttpWebhookSender
from mailservice.config import Settings
from mailservice.domain.clock import SystemClock
from mailservice.logging_defaults import configure_logging
from mailservice.services.announce import AfterCommitPublisher
from mailservice.services.credentials import Credentials
from mailservice.services.webhooks import WebhookPolicy, WebhookWorker

log = logging.getLogger(__name__)

WAKE = b"w"
"""Serving process to sender: deliveries were queued."""
OUTBOX = b"o"
"""Sender to serving process: a notification was queued."""
QUIT = b"q"
"""Serving process to sender: stop sending and leave."""
FIRST_RESTART_PAUSE = 0.5
LAST_RESTART_PAUSE = 30.0
HEALTHY_AFTER = 60.0
"""A sender that ran this long before dying is restarted after the first pause again."""
STOP_WAIT = 15.0
_PR_SET_PDEATHSIG = 1


def webhook_policy(settings: Settings) -> WebhookPolicy:
    return WebhookPolicy(
        per_mailbox=settings.webhooks_per_mailbox,
        allow_private=settings.webhook_allow_private,
        disable_after=timedelta(days=settings.webhook_disable_after_days),
        endpoint_concurrency=settings.webhook_endpoint_concurrency,
        concurrency=settings.webhook_concurrency,
        lease=timedelta(seconds=settings.webhook_lease_seconds),
        mail_domain=settings.mail_domain,
        public_base_url=settings.public_base_url,
    )


def build_webhook_sender(settings: Settings) -> HttpWebhookSender:
    return HttpWebhookSender(
        SystemResolver(),
        settings.webhook_allow_private,
        settings.webhook_timeout_seconds,
        max_connections=settings.webhook_concurrency,
    )


class WebhookSenderProcess:
    """The serving process's side: starts the sender process, wakes it, restarts it, stops it."""

    def __init__(self, settings: Settings, wake_outbox: Callable[[], None]) -> None:
        self._settings = settings
        self._wake_outbox = wake_outbox
        self._process: BaseProcess | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._wake_scheduled = False
        self._closing = False
        self._supervisor: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def start(self) -> None:
        """Start the sender process; return once it can be woken (it may still be importing)."""
        self._supervisor = asyncio.create_task(self._supervise(), name="webhook-sender-process")
        await self._connected.wait()

    def wake(self) -> None:
        """Deliveries were queued: tell the sender, once per turn of the event loop."""
        if self._wake_scheduled:
            return
        self._wake_scheduled = True
        asyncio.get_running_loop().call_soon(self._send_wake)

    async def close(self) -> None:
        """Ask the sender to stop (its sends are cancelled; leased ones go again when their lease ends)
        and wait for it; kill it if it does not leave in time."""
        self._closing = True
        writer, process = self._writer, self._process
        if writer is not None and not writer.is_closing():
            writer.write(QUIT)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        if process is not None:
            await asyncio.to_thread(process.join, STOP_WAIT)
            if process.is_alive():
                log.error("webhooks.sender_process_stuck pid=%s; killing it", process.pid)
                process.kill()
                await asyncio.to_thread(process.join, 5)
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        if writer is not None:
            writer.close()

    def _send_wake(self) -> None:
        self._wake_scheduled = False
        writer = self._writer
        if writer is None or writer.is_closing() or writer.transport.get_write_buffer_size() > 0:
            return  # not started yet (it claims when it starts), or a wake-up is still on its way
        writer.write(WAKE)

    async def _supervise(self) -> None:
        pause = FIRST_RESTART_PAUSE
        while not self._closing:
            started = time.monotonic()
            try:
                reader = await self._spawn()
            except Exception:
                log.exception("webhooks.sender_process_failed_to_start; trying again in %.1f s", pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, LAST_RESTART_PAUSE)
                continue
            await self._listen(reader)
            if self._closing:
                return
            assert self._process is not None
            await asyncio.to_thread(self._process.join, 5)
            if time.monotonic() - started > HEALTHY_AFTER:
                pause = FIRST_RESTART_PAUSE
            log.error(
                "webhooks.sender_process_ended pid=%s exitcode=%s; starting a new one in %.1f s",
                self._process.pid,
                self._process.exitcode,
                pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, LAST_RESTART_PAUSE)

    async def _spawn(self) -> asyncio.StreamReader:
        ours, theirs = socket.socketpair()
        # spawn, not fork: this process has threads and open sockets a forked child must not share. Started
        # from the event loop's thread, which lives as long as the process: the kernel's parent-death signal
        # follows the thread that started the child.
        process = multiprocessing.get_context("spawn").Process(
            target=run_sender, args=(self._settings, theirs, os.getpid()), daemon=True, name="webhook-sender"
        )
        process.start()
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        self._process, self._writer = process, writer
        log.info("webhooks.sender_process_started pid=%s", process.pid)
        self._connected.set()
        return reader

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        """Until the sender's end closes: it queued notifications, which this node's outbox sends."""
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(256):
                if OUTBOX in data:
                    self._wake_outbox()


def run_sender(settings: Settings, connection: socket.socket, parent_pid: int) -> None:
    """The sender process: send webhooks until told to stop, or until the serving process is gone."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which then stops this
    configure_logging(settings.log_level)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        if not runner.run(_send_until_told(settings, connection)):
            os._exit(1)  # the serving process went away: leave at once, as it did


async def _send_until_told(settings: Settings, connection: socket.socket) -> bool:
    """True when asked to stop, False when the serving process's end closed without a word."""
    reader, writer = await asyncio.open_connection(sock=connection)
    secret = load_secret(settings)
    database = Database(async_database_url(settings.database_dsn))
    publisher = AfterCommitPublisher(InProcessEventBus())  # no subscribers here: mailbox events go nowhere
    publisher.wake_outbox_with(lambda: writer.write(OUTBOX))
    worker = WebhookWorker(
        SqlUnitOfWorkFactory(database, publisher, TextSealer(secret)),
        SqlDeliveryQueue(database),
        build_webhook_sender(settings),
        SystemClock(),
        Credentials(secret).webhook_secret,
        webhook_policy(settings),
    )
    running = asyncio.create_task(worker.run(settings.webhook_poll_seconds))
    told = False
    try:
        while data := await reader.read(256):
            if QUIT in data:
                told = True
                break
            worker.wake()
    except ConnectionError:
        pass
    if not told:
        return False
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await worker.close()
    await database.dispose()
    writer.close()
    return True


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when the serving process dies (Linux), and leave now if it
    already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)
