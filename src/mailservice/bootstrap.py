"""The composition root: adapters built from Settings, services wired, listeners and jobs started."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.engine import create_engine
from mailservice.adapters.db.migrate import upgrade_to_head_async
from mailservice.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from mailservice.adapters.dev_secret import load_secret
from mailservice.adapters.identity import ChallengeCodec, EdproofVerifier
from mailservice.adapters.notify.log import LogNotifier
from mailservice.adapters.payments.mock import MockPaymentGateway
from mailservice.config import Settings, parse_listen_address
from mailservice.domain.clock import SystemClock
from mailservice.domain.errors import ConfigurationError
from mailservice.ports import Clock, Notifier, PaymentGateway
from mailservice.protocols.http.app import create_app
from mailservice.services.credentials import Credentials
from mailservice.services.key_proofs import KeyProofs
from mailservice.services.mailboxes import MailboxService, MailHost
from mailservice.services.notifications import OutboxWorker
from mailservice.services.payments import PaymentService
from mailservice.services.registry import Services

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    services: Services
    app: FastAPI

    async def close(self) -> None:
        await self.engine.dispose()


def check_settings(settings: Settings) -> None:
    """Refuse to start half-configured; every problem is reported before anything runs."""
    parse_listen_address(settings.http_addr, "HTTP_ADDR")
    async_database_url(settings.database_dsn)
    load_secret(settings)
    if settings.is_production and settings.edproof_allow_unsigned:
        raise ConfigurationError("EDPROOF_ALLOW_UNSIGNED=true is refused when MAILSERVICE_ENV=production")


async def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    check_settings(settings)
    clock = clock or SystemClock()
    secret = load_secret(settings)
    engine = create_engine(async_database_url(settings.database_dsn))
    uow = SqlUnitOfWorkFactory(engine)
    verifier = EdproofVerifier(ChallengeCodec(secret), allow_unsigned=settings.edproof_allow_unsigned)
    proofs = KeyProofs(verifier, uow, clock)
    outbox = OutboxWorker(uow, build_notifier(settings), clock)
    payments = PaymentService(build_payment_gateway(settings), uow, clock, settings.mail_domain, outbox.wake)
    credentials = Credentials(secret)
    mail_host = MailHost(settings.mail_domain, settings.advertised_imap_host, settings.imap_port)
    services = Services(
        clock=clock,
        proofs=proofs,
        mailboxes=MailboxService(proofs, payments, credentials, uow, clock, mail_host),
        payments=payments,
        credentials=credentials,
        outbox=outbox,
    )
    return Runtime(settings, engine, services, create_app(services, settings))


def build_payment_gateway(settings: Settings) -> PaymentGateway:
    return MockPaymentGateway(settings.public_base_url)


def build_notifier(settings: Settings) -> Notifier:
    return LogNotifier()


async def migrate(settings: Settings) -> None:
    await upgrade_to_head_async(async_database_url(settings.database_dsn))


async def serve(settings: Settings) -> None:
    """Migrate, then run every listener and background job until SIGTERM or SIGINT."""
    check_settings(settings)
    await migrate(settings)
    runtime = await build_runtime(settings)
    services = runtime.services
    stop = asyncio.Event()
    _install_stop_signals(stop)
    http = _HttpServer(runtime.app, settings)
    jobs = [
        asyncio.create_task(_every(settings.sweep_interval_seconds, services.mailboxes.expire_lapsed)),
        asyncio.create_task(services.outbox.run(settings.outbox_poll_seconds)),
    ]
    http_task = asyncio.create_task(http.serve())
    log.info("mailservice.started http=%s payments=%s", settings.http_addr, services.payments.provider)
    await asyncio.wait([asyncio.create_task(stop.wait()), http_task], return_when=asyncio.FIRST_COMPLETED)
    log.info("mailservice.stopping")
    http.should_exit = True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(http_task), timeout=settings.shutdown_grace_seconds)
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)
    await _final_drain(services)
    await runtime.close()
    log.info("mailservice.stopped")
    if http_task.done() and http_task.exception() is not None:
        raise RuntimeError("the HTTP listener stopped unexpectedly") from http_task.exception()


class _HttpServer(uvicorn.Server):
    """uvicorn without its own signal handling: `serve` decides when every listener stops."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        host, port = parse_listen_address(settings.http_addr, "HTTP_ADDR")
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        )
        super().__init__(config)

    def capture_signals(self) -> Any:
        return nullcontext()


async def _final_drain(services: Services) -> None:
    """Send what is already queued before leaving; what fails stays queued for the next start."""
    try:
        await asyncio.wait_for(services.outbox.drain_once(), timeout=5)
    except Exception:
        log.exception("outbox.final_drain_failed")


def _install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


async def _every(seconds: float, job: Callable[[], Awaitable[Any]]) -> None:
    while True:
        try:
            await job()
        except Exception:
            log.exception("job.failed job=%s", getattr(job, "__qualname__", job))
        await asyncio.sleep(seconds)
