"""The Prometheus text exposition format (version 0.0.4) of our metrics."""

from __future__ import annotations

from mailservice.services.http_metrics import HttpMetrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def exposition(http: HttpMetrics, counts: dict[str, dict[str, int]]) -> str:
    lines: list[str] = []
    _header(lines, "mailservice_http_requests_total", "counter", "HTTP requests by method, route and status.")
    for (method, route, status), count in sorted(http.requests.items()):
        labels = _labels(method=method, route=route, status=str(status))
        lines.append(f"mailservice_http_requests_total{labels} {count}")
    name = "mailservice_http_request_duration_seconds"
    _header(lines, name, "histogram", "HTTP request durations by method and route.")
    for key in sorted(http.latency, key=lambda k: (k.route, k.method)):
        stats = http.latency[key]
        for bound, cumulative in http.cumulative_buckets(key):
            lines.append(f"{name}_bucket{_labels(method=key.method, route=key.route, le=bound)} {cumulative}")
        labels = _labels(method=key.method, route=key.route)
        lines.append(f"{name}_sum{labels} {stats.total_seconds:.6f}")
        lines.append(f"{name}_count{labels} {stats.count}")
    for table, by_status in sorted(counts.items()):
        if table == "accounts":
            _header(lines, "mailservice_accounts", "gauge", "Accounts of the legacy flow.")
            lines.append(f"mailservice_accounts {by_status.get('total', 0)}")
            continue
        metric = f"mailservice_{table}"
        _header(lines, metric, "gauge", f"Rows of {table} by status.")
        lines.extend(f"{metric}{_labels(status=status)} {n}" for status, n in sorted(by_status.items()))
    return "\n".join(lines) + "\n"


def _header(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def _labels(**values: str) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in values.items()) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
