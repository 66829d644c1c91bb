"""The Grafana dashboard in deploy/ asks only for series the service exposes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mailservice.services.metrics import ServiceMetrics

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "mailservice.json"
SUFFIXES = ("_bucket", "_count", "_sum")


def exposed_names() -> set[str]:
    metrics = ServiceMetrics()
    metrics.http.record("GET", "/healthz", 200, 0.01, frozenset({"resolve"}))
    metrics.smtp.sessions.labels("smtp").inc()
    metrics.smtp.accepted.labels("smtp").inc()
    metrics.smtp.refused.labels("smtp", "550").inc()
    metrics.smtp.received_bytes.labels("smtp").inc(10)
    metrics.smtp.time_to_accept.labels("smtp").observe(0.01)
    imap = metrics.mail.of("imap")
    imap.login("ok")
    with imap.connection(), imap.command("FETCH"):
        pass
    metrics.observe_store({"mailboxes": {"active": 1}}, None, datetime.now(UTC), 0)
    text = metrics.exposition("")[0].decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def test_every_series_the_dashboard_queries_is_exposed() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    queried = {name for expr in expressions for name in re.findall(r"\bmailservice_[a-z0-9_]+", expr)}

    assert queried, "the dashboard queries nothing"
    assert queried <= exposed_names()


def test_per_runtime_registries_count_apart() -> None:
    first, second = ServiceMetrics(), ServiceMetrics()
    first.mail.of("pop3").login("failed")

    assert first.summary()["pop3"] == {"logins": {"total": 1, "ok": 0, "failed": 1}}
    assert second.summary()["pop3"] == {"logins": {"total": 0, "ok": 0, "failed": 0}}
