"""Inbound delivery: which recipients we accept, and storing a message for them durably."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime

from mailservice.domain.authentication_results import authentication_results
from mailservice.domain.claimed_results import without_claimed_results
from mailservice.domain.errors import MailboxFull, RecipientExpired, UnknownRecipient
from mailservice.domain.mailbox import Mailbox, MailboxStatus
from mailservice.domain.messages import Delivery, MessageCopy, StoredCopy
from mailservice.domain.quota import Quota
from mailservice.domain.recipient import parse_recipient
from mailservice.domain.sender_auth import SenderAuth, SmtpSender
from mailservice.ports import (
    Clock,
    MessageParser,
    MessageStore,
    RetentionStore,
    SenderAuthenticator,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

RECIPIENT_CACHE_TTL = timedelta(seconds=2)
RECIPIENT_CACHE_SIZE = 10_000
_BARE_LF = re.compile(rb"(?<!\r)\n")


@dataclass(frozen=True)
class AcceptedRecipient:
    mailbox_id: str
    login: str
    tag: str | None
    address: str


class IncomingMessage:
    """The received bytes, handed over once: whoever takes them holds the only reference.

    A 25 MiB message is copied when its trace headers are prepended; letting go of the received bytes
    right after keeps the peak memory of a delivery near two message sizes instead of three.
    """

    def __init__(self, raw: bytes | bytearray) -> None:
        self._raw: bytes | bytearray | None = raw

    def take(self) -> bytes | bytearray:
        raw, self._raw = self._raw, None
        if raw is None:
            raise RuntimeError("the message was already taken")
        return raw


@dataclass(frozen=True)
class Trace:
    """Where a message came from, for its Received header."""

    protocol: str
    helo: str | None
    peer_ip: str | None
    mail_from: str


@dataclass(frozen=True)
class DeliveryPolicy:
    local_domains: frozenset[str]
    hostname: str
    default_quota_bytes: int
    authserv_id: str


class DeliveryService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        store: MessageStore,
        parser: MessageParser,
        clock: Clock,
        policy: DeliveryPolicy,
        authenticator: SenderAuthenticator | None = None,
        retention: RetentionStore | None = None,
    ) -> None:
        self._uow = uow
        self._retention = retention
        self._authenticator = authenticator
        self._store = store
        self._parser = parser
        self._clock = clock
        self._policy = policy
        self._recent: dict[str, tuple[datetime, Mailbox, Quota]] = {}
        self._lookups: dict[str, asyncio.Future[tuple[Mailbox | None, Quota]]] = {}
        self._room: dict[str, tuple[datetime, bool]] = {}

    async def check_recipient(self, address: str) -> AcceptedRecipient:
        """Accept a RCPT or raise why not: unknown/unpaid, relay, expired, or already full (and not
        allowed to make room by deleting read mail)."""
        recipient = parse_recipient(address, self._policy.local_domains)
        mailbox, quota = await self._lookup(recipient.login)
        self._require_receiving(mailbox)
        assert mailbox is not None
        if quota.exhausted and not await self._can_make_room(mailbox.id):
            raise MailboxFull("mailbox is full", mailbox_id=mailbox.id)
        return AcceptedRecipient(mailbox.id, mailbox.login, recipient.tag, recipient.address)

    async def _can_make_room(self, mailbox_id: str) -> bool:
        """Whether a full mailbox may still take mail, remembered like the quota: a flood to a full
        mailbox costs one look at its read mail every few seconds, not one per RCPT."""
        if self._retention is None:
            return False
        now = self._clock.now()
        remembered = self._room.get(mailbox_id)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        room = await self._retention.can_make_room(mailbox_id)
        if len(self._room) >= RECIPIENT_CACHE_SIZE:
            self._room.clear()
        self._room[mailbox_id] = (now + RECIPIENT_CACHE_TTL, room)
        return room

    async def _lookup(self, login: str) -> tuple[Mailbox | None, Quota]:
        """The mailbox and its quota; a receiving mailbox is remembered for a few seconds.

        Only the RCPT-time answer comes from memory: the quota is enforced exactly when the message is
        stored, and expiry is checked against the clock, so the cache can only delay a revocation.
        Concurrent lookups of one login share a single query.
        """
        now = self._clock.now()
        cached = self._recent.get(login)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        pending = self._lookups.get(login)
        if pending is None:
            pending = asyncio.ensure_future(self._load(login))
            self._lookups[login] = pending
            pending.add_done_callback(lambda _: self._lookups.pop(login, None))
        return await asyncio.shield(pending)

    async def _load(self, login: str) -> tuple[Mailbox | None, Quota]:
        async with self._uow(read_only=True) as uow:
            mailbox = await uow.mailboxes.get_by_login(login)
            own_limit, used = await uow.mailboxes.usage(mailbox.id) if mailbox is not None else (None, 0)
        quota = Quota.of_mailbox(own_limit, used, self._policy.default_quota_bytes)
        now = self._clock.now()
        if mailbox is not None and mailbox.is_usable(now):
            if len(self._recent) >= RECIPIENT_CACHE_SIZE:
                self._recent.clear()
            self._recent[login] = (now + RECIPIENT_CACHE_TTL, mailbox, quota)
        return mailbox, quota

    async def deliver(
        self, message: bytes | IncomingMessage, recipients: list[AcceptedRecipient], trace: Trace
    ) -> list[StoredCopy]:
        """Store one copy per mailbox (tags of the same mailbox merged); the store publishes `message.received`."""
        raw = with_crlf_line_ends(message.take() if isinstance(message, IncomingMessage) else message)
        return await self._deliver_checked(raw, await self._authenticate(raw, trace), recipients, trace)

    async def _authenticate(self, raw: bytes | bytearray, trace: Trace) -> SenderAuth | None:
        if self._authenticator is None:
            return None
        sender = SmtpSender(trace.peer_ip, trace.helo, trace.mail_from)
        return await self._authenticator.authenticate(raw, sender)

    async def _deliver_checked(
        self,
        raw: bytes | bytearray,
        auth: SenderAuth | None,
        recipients: list[AcceptedRecipient],
        trace: Trace,
    ) -> list[StoredCopy]:
        received_at = self._clock.now()
        queue_id = secrets.token_hex(6)
        raw = without_claimed_results(raw, self._policy.authserv_id)
        size = len(raw)
        by_mailbox = _by_mailbox(recipients)
        if len(by_mailbox) == 1:  # the usual case, awaited in place: gather's task costs a loop turn
            copies = [await self._copy(raw, auth, by_mailbox[0], trace, received_at, queue_id)]
        else:
            copies = await asyncio.gather(
                *(self._copy(raw, auth, group, trace, received_at, queue_id) for group in by_mailbox)
            )
        del raw
        stored = await self._store.store(Delivery(tuple(copies)))
        log.info(
            "mail.delivered id=%s from=%s mailboxes=%d size=%d dmarc=%s verified=%s",
            queue_id,
            trace.mail_from or "<>",
            len(stored),
            size,
            auth.dmarc.result if auth is not None else "-",
            (auth.verified_domain if auth is not None else None) or "-",
        )
        return stored

    async def deliver_per_recipient(
        self, raw: bytes, recipients: list[AcceptedRecipient], trace: Trace
    ) -> list[Exception | None]:
        """LMTP: store each mailbox's copy on its own, and report an outcome for every recipient."""
        groups = _by_mailbox(recipients)
        crlf_raw = with_crlf_line_ends(raw)
        auth = await self._authenticate(crlf_raw, trace)
        results = await asyncio.gather(
            *(self._deliver_checked(crlf_raw, auth, group, trace) for group in groups), return_exceptions=True
        )
        outcome_by_mailbox: dict[str, Exception | None] = {}
        for group, result in zip(groups, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
            outcome_by_mailbox[group[0].mailbox_id] = result if isinstance(result, Exception) else None
        return [outcome_by_mailbox[r.mailbox_id] for r in recipients]

    async def _copy(
        self,
        raw: bytes | bytearray,
        auth: SenderAuth | None,
        recipients: list[AcceptedRecipient],
        trace: Trace,
        received_at: datetime,
        queue_id: str,
    ) -> MessageCopy:
        first = recipients[0]
        trace_headers = self._trace_headers(first.address, trace, auth, received_at, queue_id)
        stored_raw = bytes(trace_headers + raw)
        tags = tuple(sorted({r.tag for r in recipients if r.tag}))
        return MessageCopy(
            mailbox_id=first.mailbox_id,
            raw=stored_raw,
            parsed=await self._parser.parse(stored_raw),
            internal_date=received_at,
            tags=tags,
            envelope_from=trace.mail_from,
            auth=auth,
        )

    def _trace_headers(
        self, address: str, trace: Trace, auth: SenderAuth | None, received_at: datetime, queue_id: str
    ) -> bytes:
        helo = _header_safe(trace.helo or "unknown")
        peer = _header_safe(trace.peer_ip or "unknown")
        stamp = format_datetime(received_at)
        results = authentication_results(self._policy.authserv_id, auth).decode() if auth is not None else ""
        return (
            f"Return-Path: <{_header_safe(trace.mail_from)}>\r\n"
            f"Delivered-To: {_header_safe(address)}\r\n"
            f"{results}"
            f"Received: from {helo} ([{peer}])\r\n"
            f"\tby {self._policy.hostname} (mailservice) with {trace.protocol} id {queue_id}\r\n"
            f"\tfor <{_header_safe(address)}>; {stamp}\r\n"
        ).encode("utf-8", "replace")

    def _require_receiving(self, mailbox: Mailbox | None) -> None:
        now = self._clock.now()
        if mailbox is None or mailbox.status is MailboxStatus.PENDING_PAYMENT:
            raise UnknownRecipient("no such mailbox")
        if not mailbox.is_usable(now):
            raise RecipientExpired("mailbox has expired")


def _by_mailbox(recipients: list[AcceptedRecipient]) -> list[list[AcceptedRecipient]]:
    grouped: dict[str, list[AcceptedRecipient]] = {}
    for recipient in recipients:
        grouped.setdefault(recipient.mailbox_id, []).append(recipient)
    return list(grouped.values())


def with_crlf_line_ends(raw: bytes | bytearray) -> bytes | bytearray:
    """Stored messages use CRLF throughout, as IMAP sizes and offsets assume; bare LFs are converted."""
    if raw.count(b"\n") == raw.count(b"\r\n"):
        return raw
    return _BARE_LF.sub(b"\r\n", raw)


def _header_safe(value: str) -> str:
    """Keep a value on one header line: no CR, LF or other control characters."""
    return "".join(ch for ch in value if ch >= " " and ch != "\x7f")[:200]
