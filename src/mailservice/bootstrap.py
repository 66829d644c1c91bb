"""The composition root: adapters built from Settings, services wired, listeners and jobs started."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from mailservice.adapters.db.database import STATISTICS_SECONDS, Database
from mailservice.adapters.db.dsn import async_database_url, is_sqlite, libpq_dsn
from mailservice.adapters.db.mail_folders import SqlMailFolders
from mailservice.adapters.db.message_store import GroupCommitMessageStore
from mailservice.adapters.db.migrate import upgrade_to_head_async
from mailservice.adapters.db.retention import SqlRetention
from mailservice.adapters.db.sealed_text import TextSealer
from mailservice.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from mailservice.adapters.db.webhook_queue import SqlDeliveryQueue
from mailservice.adapters.dev_secret import load_secret
from mailservice.adapters.dev_tls import development_certificate
from mailservice.adapters.events.local import InProcessEventBus
from mailservice.adapters.events.postgres import PostgresEventBus
from mailservice.adapters.identity import ChallengeCodec, EdproofVerifier
from mailservice.adapters.message_reader import RawMessageReader
from mailservice.adapters.notify.selection import check_notifier_settings, select_notifier
from mailservice.adapters.parser_processes import InlineParser, PooledParser, build_message_parser
from mailservice.adapters.payments.selection import (
    check_payment_settings,
    select_payment_gateway,
    select_webhook_verifiers,
)
from mailservice.adapters.senderauth.authenticator import DnsSenderAuthenticator
from mailservice.adapters.senderauth.selection import build_sender_authenticator
from mailservice.config import Settings, parse_listen_address
from mailservice.domain.clock import SystemClock
from mailservice.domain.errors import ConfigurationError
from mailservice.domain.retention import RetentionPolicy
from mailservice.ports import Clock, Notifier, PaymentGateway
from mailservice.process_memory import (
    exempt_startup_objects_from_collection,
    give_large_buffers_back,
    give_memory_back_after_bursts,
)
from mailservice.protocols.connection_policy import (
    ConnectionLimits,
    ListenerPolicy,
    MemoryBudget,
    ProcessLimits,
)
from mailservice.protocols.http.app import create_app
from mailservice.protocols.http.header_deadline import with_header_deadline
from mailservice.protocols.imap.fields_cache import FieldsCache
from mailservice.protocols.imap.options import IDLE_TIMEOUT_SECONDS as IMAP_IDLE_TIMEOUT_SECONDS
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.server import start_imap
from mailservice.protocols.lines.listener import LineServer
from mailservice.protocols.pop3.locks import MaildropLocks
from mailservice.protocols.pop3.options import IDLE_TIMEOUT_SECONDS as POP3_IDLE_TIMEOUT_SECONDS
from mailservice.protocols.pop3.options import LINE_LIMIT as POP3_LINE_LIMIT
from mailservice.protocols.pop3.options import Pop3Options
from mailservice.protocols.pop3.server import start_pop3
from mailservice.protocols.smtp.handler import RecipientLimits
from mailservice.protocols.smtp.server import ListenerOptions, SmtpSessions, start_lmtp, start_smtp
from mailservice.protocols.smtp.spool import Spool
from mailservice.protocols.smtp.timeouts import SmtpTimeouts
from mailservice.services.account_mailboxes import AccountMailboxes
from mailservice.services.accounts import AccountService
from mailservice.services.admin import AdminService
from mailservice.services.announce import AfterCommitPublisher
from mailservice.services.credentials import Credentials
from mailservice.services.delivery import DeliveryPolicy, DeliveryService
from mailservice.services.event_feed import EventFeed
from mailservice.services.inbox import InboxService
from mailservice.services.key_proofs import KeyProofs
from mailservice.services.live_sessions import LiveSessions
from mailservice.services.login_throttle import LoginThrottle, LoginThrottlePolicy
from mailservice.services.mail_access import MailAccess, MailAccessPolicy
from mailservice.services.mailboxes import AdvertisedMailServer, MailboxService
from mailservice.services.metrics import ServiceMetrics
from mailservice.services.notifications import OutboxWorker
from mailservice.services.payment_webhooks import PaymentWebhooks
from mailservice.services.payments import PaymentService
from mailservice.services.postmaster import PostmasterService
from mailservice.services.reconcile import PaymentReconciler
from mailservice.services.registry import Services
from mailservice.services.reminders import ExpiryNotices, NoticeSettings
from mailservice.services.renewals import RenewalService
from mailservice.services.retention import RetentionService
from mailservice.services.support import SupportService
from mailservice.services.webhooks import WebhookService, WebhookWorker
from mailservice.startup_warnings import insecure_settings
from mailservice.webhook_process import WebhookSenderProcess, build_webhook_sender, webhook_policy

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 2.0
IDLE_SESSION_CHECK_SECONDS = 0.2
"""How often a stop looks for SMTP sessions whose transaction has ended, to close them."""


@dataclass
class Runtime:
    settings: Settings
    database: Database
    services: Services
    app: FastAPI
    store: GroupCommitMessageStore
    events: InProcessEventBus | PostgresEventBus
    gateway: PaymentGateway
    parser: InlineParser | PooledParser
    mail_limits: ProcessLimits
    postmaster: PostmasterService
    sender_auth: DnsSenderAuthenticator | None = None
    publisher: AfterCommitPublisher | None = None
    mail_folders: SqlMailFolders | None = None

    async def start(self) -> None:
        await self.events.start()
        await self.parser.start()

    async def close(self) -> None:
        await self.services.webhook_worker.close()
        if self.mail_folders is not None:
            await self.mail_folders.settle()
        await self.store.close()
        await self.parser.close()
        await self.events.close()
        await self.gateway.close()
        await self.database.dispose()
        if self.sender_auth is not None:
            self.sender_auth.close()

    @property
    def engine(self) -> AsyncEngine:
        return self.database.engine


def check_settings(settings: Settings) -> None:
    """Refuse to start half-configured; every problem is reported before anything runs."""
    parse_listen_address(settings.http_addr, "HTTP_ADDR")
    parse_listen_address(settings.smtp_listen_addr, "SMTP_ADDR")
    parse_listen_address(settings.imap_listen_addr, "IMAP_ADDR")
    parse_listen_address(settings.imaps_listen_addr, "IMAPS_ADDR")
    parse_listen_address(settings.pop3_listen_addr, "POP3_ADDR")
    parse_listen_address(settings.pop3s_listen_addr, "POP3S_ADDR")
    if settings.lmtp_addr:
        parse_listen_address(settings.lmtp_addr, "LMTP_ADDR")
    async_database_url(settings.database_dsn)
    load_secret(settings)
    tls_context(settings)
    check_notifier_settings(settings)
    check_payment_settings(settings)
    if settings.is_production and settings.edproof_allow_unsigned:
        raise ConfigurationError("EDPROOF_ALLOW_UNSIGNED=true is refused when MAILSERVICE_ENV=production")
    if settings.is_production and settings.webhook_allow_private:
        raise ConfigurationError("WEBHOOK_ALLOW_PRIVATE=true is refused when MAILSERVICE_ENV=production")


def with_development_tls(settings: Settings) -> Settings:
    """`serve --dev-tls`: a self-signed certificate for MAIL_DOMAIN under DATA_DIR, for local use only."""
    if settings.is_production:
        raise ConfigurationError("--dev-tls is for local use; configure TLS_CERT_FILE and TLS_KEY_FILE")
    if settings.tls_cert_file is not None or settings.tls_key_file is not None:
        raise ConfigurationError("--dev-tls cannot be combined with TLS_CERT_FILE/TLS_KEY_FILE")
    cert, key = development_certificate(settings.data_dir, settings.mail_hostname)
    return settings.model_copy(update={"tls_cert_file": cert, "tls_key_file": key})


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigurationError("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(f"cannot load the TLS certificate: {error}") from error
    return context


async def build_runtime(
    settings: Settings, clock: Clock | None = None, events: InProcessEventBus | PostgresEventBus | None = None
) -> Runtime:
    """`events` replaces the bus the database calls for (tests control its connections)."""
    check_settings(settings)
    clock = clock or SystemClock()
    secret = load_secret(settings)
    url = async_database_url(settings.database_dsn)
    database = Database(url)
    metrics = ServiceMetrics()
    if events is None:
        events = (
            InProcessEventBus()
            if is_sqlite(url)
            else PostgresEventBus(libpq_dsn(url), on_reconnect=metrics.backlog.event_bus_reconnects.inc)
        )
    publisher = AfterCommitPublisher(events)
    uow = SqlUnitOfWorkFactory(database, publisher, TextSealer(secret))
    retention = SqlRetention(
        database,
        RetentionPolicy.from_settings(settings.retention_max_age_days, settings.retention_delete_oldest_read),
        publisher,
    )
    store = GroupCommitMessageStore(database, clock, settings.mailbox_quota_bytes, publisher, retention)
    parser = build_message_parser(
        settings.parser_process_count, settings.dns_cache_size if settings.sender_auth else None
    )
    verifier = EdproofVerifier(ChallengeCodec(secret), allow_unsigned=settings.edproof_allow_unsigned)
    proofs = KeyProofs(verifier, uow, clock)
    outbox = OutboxWorker(uow, build_notifier(settings), clock)
    publisher.wake_outbox_with(outbox.wake)
    gateway = build_payment_gateway(settings)
    payments = PaymentService(
        gateway,
        uow,
        clock,
        settings.mail_domain,
        link_resend_interval=timedelta(hours=settings.payment_link_resend_hours),
    )
    credentials = Credentials(secret)
    policy_of_webhooks = webhook_policy(settings)
    webhook_sender = build_webhook_sender(settings)
    webhook_worker = WebhookWorker(
        uow, SqlDeliveryQueue(database), webhook_sender, clock, credentials.webhook_secret, policy_of_webhooks
    )
    publisher.wake_webhooks_with(webhook_worker.wake)
    mail_server = AdvertisedMailServer(
        settings.mail_domain,
        settings.advertised_imap_host,
        settings.advertised_imap_port,
        settings.advertised_pop3_port,
    )
    sender_auth = build_sender_authenticator(settings, parser if isinstance(parser, PooledParser) else None)
    policy = DeliveryPolicy(
        settings.local_domains, settings.mail_hostname, settings.mailbox_quota_bytes, settings.mail_domain
    )
    mail_folders = SqlMailFolders(database, settings.mailbox_quota_bytes, publisher, clock, events=events)
    expiry_notices = ExpiryNotices(
        uow,
        clock,
        NoticeSettings(settings.mail_domain, settings.public_base_url, settings.renewal_reminder_days),
    )
    mailboxes = MailboxService(proofs, payments, credentials, uow, clock, mail_server, expiry_notices)
    live_sessions = LiveSessions(mailboxes, events, settings.session_recheck_seconds)
    services = Services(
        clock=clock,
        proofs=proofs,
        mailboxes=mailboxes,
        payments=payments,
        credentials=credentials,
        outbox=outbox,
        delivery=DeliveryService(uow, store, parser, clock, policy, sender_auth, retention),
        inbox=InboxService(uow, events, credentials, mailboxes, RawMessageReader(), live_sessions),
        events=events,
        mail_access=MailAccess(
            uow,
            mailboxes,
            credentials,
            mail_folders,
            store,
            parser,
            events,
            live_sessions,
            clock,
            MailAccessPolicy(settings.mail_domain, settings.local_domains),
            LoginThrottle(
                LoginThrottlePolicy(
                    settings.login_failures_per_ip,
                    settings.login_failures_per_ip_and_login,
                    settings.login_failure_window_seconds,
                ),
                clock,
            ),
        ),
        accounts=AccountService(uow, clock, settings.public_base_url),
        account_mailboxes=AccountMailboxes(uow, clock, mailboxes, payments, credentials),
        support=SupportService(proofs, uow, clock, settings.support_email, settings.mail_domain),
        admin=AdminService(uow, clock, mailboxes, events, metrics),
        payment_webhooks=PaymentWebhooks(select_webhook_verifiers(settings), gateway, uow, clock),
        renewals=RenewalService(proofs, mailboxes, payments, credentials, uow, clock),
        expiry_notices=expiry_notices,
        reconciler=PaymentReconciler(gateway, payments, uow, clock),
        webhooks=WebhookService(uow, clock, credentials.webhook_secret, policy_of_webhooks),
        webhook_worker=webhook_worker,
        event_feed=EventFeed(
            uow, events, live_sessions, clock, timedelta(days=settings.event_retention_days)
        ),
        retention=RetentionService(retention, clock),
    )
    mail_limits = ProcessLimits.for_process(
        settings.mail_memory_budget_bytes, settings.mail_descriptor_reserve
    )
    runtime = Runtime(
        settings,
        database,
        services,
        create_app(services, settings),
        store,
        events,
        gateway,
        parser,
        mail_limits,
        PostmasterService(
            uow,
            parser,
            clock,
            settings.local_domains,
            settings.postmaster_forward_address,
            settings.postmaster_forwards_per_minute,
        ),
        sender_auth,
        publisher,
        mail_folders,
    )
    await runtime.start()
    return runtime


def build_payment_gateway(settings: Settings) -> PaymentGateway:
    return select_payment_gateway(settings)


def build_notifier(settings: Settings) -> Notifier:
    return select_notifier(settings)


async def migrate(settings: Settings) -> None:
    await upgrade_to_head_async(async_database_url(settings.database_dsn))


async def start_mail_listeners(
    runtime: Runtime, policy: ListenerPolicy | None = None, sessions: SmtpSessions | None = None
) -> list[asyncio.Server]:
    settings = runtime.settings
    policy = policy or smtp_policy(runtime)
    sessions = sessions or SmtpSessions()
    spool = Spool(
        settings.data_dir / "spool",
        MemoryBudget(settings.smtp_spool_max_bytes),
        asyncio.Semaphore(settings.smtp_large_message_concurrency),
    )
    context = tls_context(settings)
    delivery, postmaster = runtime.services.delivery, runtime.postmaster

    def options(addr: str, setting: str) -> ListenerOptions:
        host, port = parse_listen_address(addr, setting)
        return ListenerOptions(
            host,
            port,
            settings.mail_hostname,
            settings.max_message_bytes,
            RecipientLimits(settings.smtp_max_recipients, settings.smtp_max_refused_recipients),
            policy,
            smtp_timeouts(settings),
            spool,
            runtime.services.admin.metrics.smtp,
            context,
            sessions,
        )

    servers = [await start_smtp(delivery, postmaster, options(settings.smtp_listen_addr, "SMTP_ADDR"))]
    if settings.lmtp_addr:
        servers.append(await start_lmtp(delivery, postmaster, options(settings.lmtp_addr, "LMTP_ADDR")))
    return servers


def smtp_timeouts(settings: Settings) -> SmtpTimeouts:
    return SmtpTimeouts(
        transaction_start=settings.smtp_transaction_start_timeout_seconds,
        command=settings.smtp_command_timeout_seconds,
        data_block=settings.smtp_data_block_timeout_seconds,
        data_termination=settings.smtp_data_termination_timeout_seconds,
        under_stress=settings.smtp_stress_timeout_seconds,
    )


def smtp_policy(runtime: Runtime) -> ListenerPolicy:
    """The connection policy of the SMTP and LMTP listeners together."""
    settings = runtime.settings
    limits = ConnectionLimits(
        settings.smtp_max_connections,
        settings.smtp_max_connections_per_ip,
        parent=runtime.mail_limits.connections,
    )
    return ListenerPolicy(
        limits,
        runtime.mail_limits.memory,
        login_timeout_seconds=settings.smtp_transaction_start_timeout_seconds,
        idle_timeout_seconds=settings.smtp_command_timeout_seconds,
        connection_buffer_bytes=settings.smtp_spool_threshold_bytes,
    )


async def start_access_listeners(runtime: Runtime) -> list[LineServer]:
    """IMAP and POP3 (with STARTTLS/STLS when a certificate is configured) and, with a certificate,
    IMAPS and POP3S."""
    settings = runtime.settings
    context = tls_context(settings)
    login = runtime.services.mail_access
    imap_policy, pop3_policy = imap_listener_policy(runtime), pop3_listener_policy(runtime)
    metrics = runtime.services.admin.metrics.mail
    fields_cache = FieldsCache()  # IMAP and IMAPS serve the same folders

    def imap_options(addr: str, setting: str, implicit: bool) -> ImapOptions:
        host, port = parse_listen_address(addr, setting)
        return ImapOptions(
            host=host,
            port=port,
            tls_context=context,
            implicit_tls=context if implicit else None,
            allow_plaintext_auth=settings.plaintext_auth_allowed,
            max_literal_bytes=settings.max_message_bytes,
            spool_threshold_bytes=settings.imap_spool_threshold_bytes,
            hostname=settings.mail_hostname,
            policy=imap_policy,
            metrics=metrics.of("imap"),
            fields_cache=fields_cache,
        )

    def pop3_options(addr: str, setting: str, implicit: bool) -> Pop3Options:
        host, port = parse_listen_address(addr, setting)
        return Pop3Options(
            host=host,
            port=port,
            hostname=settings.mail_hostname,
            tls_context=context,
            implicit_tls=context if implicit else None,
            allow_plaintext_auth=settings.plaintext_auth_allowed,
            policy=pop3_policy,
            metrics=metrics.of("pop3"),
        )

    locks = MaildropLocks()  # one POP3 session per mailbox across the POP3 and POP3S listeners
    servers = [
        await start_imap(login, imap_options(settings.imap_listen_addr, "IMAP_ADDR", False)),
        await start_pop3(login, pop3_options(settings.pop3_listen_addr, "POP3_ADDR", False), locks),
    ]
    if context is not None:
        servers.append(await start_imap(login, imap_options(settings.imaps_listen_addr, "IMAPS_ADDR", True)))
        servers.append(
            await start_pop3(login, pop3_options(settings.pop3s_listen_addr, "POP3S_ADDR", True), locks)
        )
    return servers


def imap_listener_policy(runtime: Runtime) -> ListenerPolicy:
    """One policy for IMAP and IMAPS: their connections count against one cap."""
    settings = runtime.settings
    return ListenerPolicy(
        limits=ConnectionLimits(
            settings.imap_max_connections,
            settings.imap_max_connections_per_ip,
            parent=runtime.mail_limits.connections,
        ),
        memory=runtime.mail_limits.memory,
        login_timeout_seconds=settings.mail_login_timeout_seconds,
        idle_timeout_seconds=IMAP_IDLE_TIMEOUT_SECONDS,
        connection_buffer_bytes=settings.imap_connection_buffer_bytes,
        login_buffer_bytes=settings.imap_login_command_bytes,
    )


def pop3_listener_policy(runtime: Runtime) -> ListenerPolicy:
    """One policy for POP3 and POP3S; a POP3 connection holds one line at a time."""
    settings = runtime.settings
    return ListenerPolicy(
        limits=ConnectionLimits(
            settings.pop3_max_connections,
            settings.pop3_max_connections_per_ip,
            parent=runtime.mail_limits.connections,
        ),
        memory=runtime.mail_limits.memory,
        login_timeout_seconds=settings.mail_login_timeout_seconds,
        idle_timeout_seconds=POP3_IDLE_TIMEOUT_SECONDS,
        connection_buffer_bytes=POP3_LINE_LIMIT,
        login_buffer_bytes=POP3_LINE_LIMIT,
    )


def _listening_summary(settings: Settings) -> str:
    tls = settings.tls_cert_file is not None
    return " ".join(
        [
            f"http={settings.http_addr}",
            f"smtp={settings.smtp_listen_addr}",
            f"lmtp={settings.lmtp_addr or 'off'}",
            f"imap={settings.imap_listen_addr}",
            f"imaps={settings.imaps_listen_addr if tls else 'off'}",
            f"pop3={settings.pop3_listen_addr}",
            f"pop3s={settings.pop3s_listen_addr if tls else 'off'}",
        ]
    )


async def serve(settings: Settings) -> None:
    """Migrate, then run every listener and background job until SIGTERM or SIGINT."""
    check_settings(settings)
    for warning in insecure_settings(settings):
        log.warning("INSECURE %s", warning)
    give_large_buffers_back()
    await migrate(settings)
    runtime = await build_runtime(settings)
    services = runtime.services
    stop = asyncio.Event()
    _install_stop_signals(stop)
    smtp, smtp_sessions = smtp_policy(runtime), SmtpSessions()
    mail_servers: list[asyncio.Server | LineServer] = [
        *await start_mail_listeners(runtime, smtp, smtp_sessions),
        *await start_access_listeners(runtime),
    ]
    http = _HttpServer(runtime.app, settings)
    retention = timedelta(days=settings.retention_days)
    jobs = [
        asyncio.create_task(_every(settings.sweep_interval_seconds, lambda: expiry_sweep(services))),
        asyncio.create_task(
            _every(
                settings.sweep_interval_seconds, lambda: services.mailboxes.purge_mail_of_expired(retention)
            )
        ),
        asyncio.create_task(services.outbox.run(settings.outbox_poll_seconds)),
        asyncio.create_task(_every(CHECKPOINT_SECONDS, runtime.database.checkpoint)),
        asyncio.create_task(_every(STATISTICS_SECONDS, runtime.database.keep_statistics)),
        asyncio.create_task(
            give_memory_back_after_bursts(lambda: runtime.mail_limits.connections.open_connections)
        ),
    ]
    sender = await _start_webhook_sending(runtime, jobs)
    http_task = asyncio.create_task(http.serve())
    exempt_startup_objects_from_collection()
    log.info("mailservice.started %s payments=%s", _listening_summary(settings), services.payments.provider)
    await asyncio.wait([asyncio.create_task(stop.wait()), http_task], return_when=asyncio.FIRST_COMPLETED)
    log.info("mailservice.stopping")
    for server in mail_servers:
        server.close()
    http.should_exit = True
    await asyncio.gather(
        _until_sessions_end(smtp.limits, smtp_sessions, settings.shutdown_grace_seconds),
        _within(settings.shutdown_grace_seconds, asyncio.shield(http_task)),
        *(
            server.end_connections(settings.shutdown_grace_seconds)
            for server in mail_servers
            if isinstance(server, LineServer)
        ),
    )
    # Only now: a message still being received needs the store, the parser workers and the checks.
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)
    if sender is not None:
        await sender.close()
    await _final_drain(services)
    await close_within(runtime, settings.shutdown_grace_seconds)
    log.info("mailservice.stopped")
    if http_task.done() and http_task.exception() is not None:
        raise RuntimeError("the HTTP listener stopped unexpectedly") from http_task.exception()


async def _start_webhook_sending(
    runtime: Runtime, jobs: list[asyncio.Task[Any]]
) -> WebhookSenderProcess | None:
    """Webhooks are sent from a process of their own (`WEBHOOK_SENDER_PROCESS`, the default), woken after
    every commit that queued deliveries; or by a job of this process."""
    settings, services = runtime.settings, runtime.services
    if not settings.webhook_sender_process:
        jobs.append(asyncio.create_task(services.webhook_worker.run(settings.webhook_poll_seconds)))
        return None
    sender = WebhookSenderProcess(settings, services.outbox.wake)
    await sender.start()
    assert runtime.publisher is not None
    runtime.publisher.wake_webhooks_with(sender.wake)
    return sender


async def expiry_sweep(services: Services) -> None:
    """Expire lapsed mailboxes, queue the expired notices and renewal reminders that are due, forget
    webhook event ids too old to arrive again, delete events past their retention, then delete mail past
    its mailbox's age limit."""
    await services.mailboxes.expire_lapsed()
    await services.expiry_notices.queue_due()
    await services.payment_webhooks.forget_old_events()
    await services.event_feed.purge()
    await services.retention.sweep()


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
            forwarded_allow_ips=settings.forwarded_allow_ips,  # None: uvicorn's 127.0.0.1,::1
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
            http=with_header_deadline(settings.http_header_timeout_seconds),
        )
        super().__init__(config)

    def capture_signals(self) -> Any:
        return nullcontext()


async def _until_sessions_end(limits: ConnectionLimits, sessions: SmtpSessions, seconds: float) -> None:
    """Wait, at most `seconds`, for the open SMTP and LMTP sessions to end; what is being received is
    stored, checked and answered before the store and the checks stop. A session between transactions
    is told 421 and closed at once, and so is one whose transaction ends meanwhile."""
    leaving = asyncio.create_task(_close_idle_sessions(sessions))
    try:
        await _within(seconds, limits.until_all_closed())
    finally:
        leaving.cancel()
    if limits.open_connections > 0:
        log.warning("mailservice.stopping sessions_cut=%d", limits.open_connections)


async def _close_idle_sessions(sessions: SmtpSessions) -> None:
    while True:
        sessions.end_idle()
        await asyncio.sleep(IDLE_SESSION_CHECK_SECONDS)


async def _within(seconds: float, awaitable: Awaitable[Any]) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(awaitable, timeout=seconds)


class StopTimedOut(Exception):
    """The runtime did not close within the grace period; the process must end without waiting more."""


async def close_within(runtime: Runtime, seconds: float) -> None:
    """Close the runtime, or raise StopTimedOut after `seconds`. Everything acknowledged is committed
    by now, so what a stuck close would still wait for (a write nobody was answered for, a driver
    thread) is not worth a process that never stops."""
    try:
        async with asyncio.timeout(seconds):
            await runtime.close()
    except TimeoutError:
        log.error("mailservice.stop_timed_out seconds=%s", seconds)
        raise StopTimedOut from None


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
            if _cancelled():  # a job that turned the cancellation into another error still stops
                raise
            log.exception("job.failed job=%s", getattr(job, "__qualname__", job))
        await asyncio.sleep(seconds)


def _cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
