"""This process's Prometheus series (prometheus-client), and the JSON summary `/admin/metrics` shows.

Every runtime has its own `CollectorRegistry`, so several runtimes in one process (tests, benchmarks)
count apart. Counts are per node: with several nodes, scrape each (Prometheus adds them up). The
store's figures (mailboxes by status, outbox depth) are read at scrape time and are the same on every
node.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder

from mailservice.domain.errors import AuthenticationFailed, RateLimited
from mailservice.domain.mail_session import MailLogin, MailSession

disable_created_metrics()  # type: ignore[no-untyped-call]  # a `_created` series beside every counter doubles the series for no use here

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
PREFIX = "mailservice_"


class Declare:
    """Series on one registry, named with the common prefix; durations share one set of buckets."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def counter(self, name: str, help_text: str, *labels: str) -> Counter:
        return Counter(PREFIX + name, help_text, labels, registry=self._registry)

    def gauge(self, name: str, help_text: str, *labels: str) -> Gauge:
        return Gauge(PREFIX + name, help_text, labels, registry=self._registry)

    def histogram(self, name: str, help_text: str, *labels: str) -> Histogram:
        return Histogram(PREFIX + name, help_text, labels, buckets=LATENCY_BUCKETS, registry=self._registry)


class HttpSeries:
    def __init__(self, declare: Declare) -> None:
        self.requests = declare.counter(
            "http_requests", "HTTP requests by method, route and status.", "method", "route", "status"
        )
        self.duration = declare.histogram(
            "http_request_duration_seconds", "HTTP request durations by method and route.", "method", "route"
        )
        self.outcomes = declare.counter(
            "http_outcomes",
            "Key proofs and resolves by the status they were answered with.",
            "kind",
            "status",
        )

    def record(
        self, method: str, route: str, status: int, seconds: float, kinds: frozenset[str] = frozenset()
    ) -> None:
        """One answered request; `kinds` are the outcome counters its route feeds ("key_proof", "resolve")."""
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)
        for kind in kinds:
            self.outcomes.labels(kind, str(status)).inc()


class SmtpSeries:
    """SMTP and LMTP sessions, replies and accepted mail; `protocol` is `smtp` or `lmtp`."""

    def __init__(self, declare: Declare) -> None:
        self.sessions = declare.counter(
            "smtp_sessions", "SMTP/LMTP connections let in (past the connection limits).", "protocol"
        )
        self.accepted = declare.counter(
            "smtp_accepted", "Messages answered 250 after DATA (per recipient on LMTP).", "protocol"
        )
        self.refused = declare.counter(
            "smtp_refused", "Replies with a 4xx or 5xx code, by code.", "protocol", "code"
        )
        self.received_bytes = declare.counter(
            "smtp_received_bytes", "Bytes of message data received after DATA.", "protocol"
        )
        self.time_to_accept = declare.histogram(
            "smtp_time_to_accept_seconds",
            "From the end of the message data to the 250 (parse, store, durable commit).",
            "protocol",
        )


class MailAccessSeries:
    """IMAP and POP3: logins by result, open connections, command latency by command."""

    def __init__(self, declare: Declare) -> None:
        self.logins = declare.counter(
            "mail_logins",
            "IMAP and POP3 logins by result (ok, failed, throttled, error).",
            "protocol",
            "result",
        )
        self.connections = declare.gauge("mail_connections", "Open IMAP and POP3 connections.", "protocol")
        self.command_duration = declare.histogram(
            "mail_command_duration_seconds",
            "IMAP and POP3 command durations by command.",
            "protocol",
            "command",
        )

    def of(self, protocol: str) -> ProtocolMetrics:
        return ProtocolMetrics(self, protocol)


class ProtocolMetrics:
    """The series of one line protocol (`imap` or `pop3`), as its listener and connections use them."""

    def __init__(self, series: MailAccessSeries, protocol: str) -> None:
        self._series = series
        self.protocol = protocol

    @contextmanager
    def connection(self) -> Iterator[None]:
        gauge = self._series.connections.labels(self.protocol)
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()

    @contextmanager
    def command(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self._series.command_duration.labels(self.protocol, name).observe(time.perf_counter() - started)

    def login(self, result: str) -> None:
        self._series.logins.labels(self.protocol, result).inc()


def unregistered(protocol: str) -> ProtocolMetrics:
    """Series on a registry of their own, for a listener started without a runtime (tests, tools)."""
    return MailAccessSeries(Declare(CollectorRegistry())).of(protocol)


class MeasuredLogin:
    """A `MailLogin` that counts each attempt's result for its protocol."""

    def __init__(self, login: MailLogin, metrics: ProtocolMetrics) -> None:
        self._login = login
        self._metrics = metrics

    async def login(self, username: str, password: str, peer: str) -> MailSession:
        try:
            session = await self._login.login(username, password, peer)
        except AuthenticationFailed:
            self._metrics.login("failed")
            raise
        except RateLimited:
            self._metrics.login("throttled")
            raise
        except Exception:
            self._metrics.login("error")
            raise
        self._metrics.login("ok")
        return session


class BacklogSeries:
    """The notification outbox, the event bus and the store's rows, read when scraped."""

    def __init__(self, declare: Declare) -> None:
        self.outbox_depth = declare.gauge("outbox_depth", "Notifications waiting to be sent.")
        self.outbox_oldest_age = declare.gauge(
            "outbox_oldest_age_seconds", "Age of the oldest notification waiting (0 when none)."
        )
        self.event_bus_reconnects = declare.counter(
            "event_bus_reconnects", "Times the event bus listener reconnected to PostgreSQL."
        )
        self.event_bus_subscribers = declare.gauge(
            "event_bus_subscribers", "Open event subscriptions (waits, event streams, IDLE)."
        )
        self.rows = declare.gauge("store_rows", "Rows of the store by table and status.", "table", "status")


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        declare = Declare(self.registry)
        self.http = HttpSeries(declare)
        self.smtp = SmtpSeries(declare)
        self.mail = MailAccessSeries(declare)
        self.backlog = BacklogSeries(declare)

    def observe_store(
        self,
        counts: Mapping[str, Mapping[str, int]],
        oldest_pending: datetime | None,
        now: datetime,
        subscribers: int,
    ) -> None:
        self.backlog.rows.clear()
        for table, by_status in counts.items():
            for status, count in by_status.items():
                self.backlog.rows.labels(table, status).set(count)
        self.backlog.outbox_depth.set(counts.get("outbox", {}).get("pending", 0))
        age = (now - oldest_pending).total_seconds() if oldest_pending is not None else 0.0
        self.backlog.outbox_oldest_age.set(max(age, 0.0))
        self.backlog.event_bus_subscribers.set(subscribers)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The text the scraper asked for (Prometheus text, or OpenMetrics), and its content type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type

    def summary(self, top: int = 10) -> dict[str, object]:
        """What `/admin/metrics` shows: HTTP figures, the seed's IMAP login counts, POP3 and SMTP."""
        return {
            "http": self._http_summary(top),
            "imap": {"logins": self._logins("imap")},
            "pop3": {"logins": self._logins("pop3")},
            "smtp": {
                "sessions": _total(self.smtp.sessions),
                "accepted": _total(self.smtp.accepted),
                "refused": _total(self.smtp.refused),
            },
        }

    def _logins(self, protocol: str) -> dict[str, int]:
        by_result = {
            sample.labels["result"]: int(sample.value)
            for sample in _samples(self.mail.logins, "_total")
            if sample.labels["protocol"] == protocol
        }
        ok = by_result.get("ok", 0)
        return {"total": sum(by_result.values()), "ok": ok, "failed": sum(by_result.values()) - ok}

    def _http_summary(self, top: int) -> dict[str, object]:
        requests = {
            (s.labels["method"], s.labels["route"], int(s.labels["status"])): int(s.value)
            for s in _samples(self.http.requests, "_total")
        }
        errors = sorted(((k, n) for k, n in requests.items() if k[2] >= 400), key=lambda item: -item[1])
        return {
            "requests_total": sum(requests.values()),
            "key_proofs": self._outcomes("key_proof", failed_status=401),
            "resolves": self._outcomes("resolve", failed_status=None),
            "routes": self._routes(),
            "top_errors": [
                {"method": method, "route": route, "status": status, "count": count}
                for (method, route, status), count in errors[:top]
            ],
        }

    def _outcomes(self, kind: str, failed_status: int | None) -> dict[str, int]:
        """Requests of `kind`: all, answered 2xx, and refused with `failed_status` (or any 4xx/5xx)."""
        chosen = [
            (int(s.labels["status"]), int(s.value))
            for s in _samples(self.http.outcomes, "_total")
            if s.labels["kind"] == kind
        ]
        failed = sum(
            n for status, n in chosen if (status == failed_status if failed_status else status >= 400)
        )
        return {
            "total": sum(n for _, n in chosen),
            "ok": sum(n for s, n in chosen if s < 300),
            "failed": failed,
        }

    def _routes(self) -> list[dict[str, object]]:
        """Per route: the count and p50/p90/p99 in ms, estimated from the histogram's buckets."""
        buckets: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for sample in _samples(self.http.duration, "_bucket"):
            key = (sample.labels["method"], sample.labels["route"])
            buckets.setdefault(key, []).append((float(sample.labels["le"]), sample.value))
        routes = []
        for (method, route), cumulative in buckets.items():
            cumulative.sort()
            count = int(cumulative[-1][1])
            percentiles = {f"p{q}": round(_quantile(cumulative, q / 100) * 1000, 3) for q in (50, 90, 99)}
            routes.append({"method": method, "route": route, "count": count, **percentiles})
        return sorted(routes, key=lambda route: -int(str(route["count"])))


def _samples(metric: Counter | Histogram | Gauge, suffix: str) -> Iterator[_Sample]:
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith(suffix):
                yield _Sample(sample.labels, sample.value)


class _Sample:
    __slots__ = ("labels", "value")

    def __init__(self, labels: dict[str, str], value: float) -> None:
        self.labels = labels
        self.value = value


def _total(counter: Counter) -> int:
    return int(sum(sample.value for sample in _samples(counter, "_total")))


def _quantile(cumulative: list[tuple[float, float]], q: float) -> float:
    """As PromQL's histogram_quantile: linear within the bucket the rank falls in."""
    total = cumulative[-1][1]
    if total == 0:
        return 0.0
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for upper_bound, count in cumulative:
        if count >= rank:
            if upper_bound == float("inf"):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 0.0
            return lower_bound + (upper_bound - lower_bound) * share
        lower_bound, lower_count = upper_bound, count
    return lower_bound
