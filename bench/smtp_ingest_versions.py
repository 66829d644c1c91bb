"""Our SMTP ingest, two versions of the code in turns in one run: is a change faster or slower?

Run: .venv/bin/python -m bench.smtp_ingest_versions --before /path/to/other/src [--rounds 4]
                                                     [--database postgresql://postgres@127.0.0.1:5432/test]
`--before` is the `src` directory of another checkout (a copy made before the change, say). Each round
sends `bench/smtp_ingest.py`'s load (2,000 messages of about 5 KB over 20 connections, after a warm-up)
to a server importing that tree (through PYTHONPATH) and to one running this checkout, in turns which
goes first, so both see about the same machine load. Besides the rate it reports the server's CPU time
per message (user and system, from /proc), which a busy machine disturbs far less than the rate: the
server parses in place (PARSER_PROCESSES=0), so all of its work is in the one process. It prints each
round and the after/before ratios of the medians. The Postfix and Dovecot baseline of
`bench/smtp_ingest.py` is not run: the two versions are each other's baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.baseline_postfix_dovecot import spread_subdirectories
from bench.mailservice_process import MailserviceProcess
from bench.sender_auth import DOMAIN, sender_checks
from bench.smtp_ingest import CONNECTIONS, COUNT, MAILBOXES, SIZE, WARMUP
from bench.smtp_load import make_messages, send_load


@dataclass(frozen=True)
class Measured:
    rate: float
    """Messages per second, durable end to end."""
    cpu_ms: float
    """The server's CPU milliseconds per message."""


def run_version(database: str | None, pythonpath: Path | None) -> Measured:
    workdir = Path(tempfile.mkdtemp(prefix="bench-versions-"))
    spread_subdirectories(workdir)
    dsn = database or str(workdir / "data" / "mailservice.db")
    extra = {"PARSER_PROCESSES": "0"} | ({"PYTHONPATH": str(pythonpath)} if pythonpath else {})
    with sender_checks(False) as (env, _), MailserviceProcess(workdir, dsn, extra_env=env | extra) as server:
        assert server.process is not None
        addresses = server.paid_addresses(MAILBOXES)
        warm = make_messages(WARMUP, SIZE, lambda i: addresses[i % MAILBOXES], f"load@{DOMAIN}", seed=2)
        asyncio.run(send_load("127.0.0.1", server.smtp_port, warm, CONNECTIONS))
        messages = make_messages(COUNT, SIZE, lambda i: addresses[i % MAILBOXES], f"load@{DOMAIN}")
        cpu_before = _cpu_seconds(server.process.pid)
        result = asyncio.run(send_load("127.0.0.1", server.smtp_port, messages, CONNECTIONS))
        cpu = _cpu_seconds(server.process.pid) - cpu_before
    assert result.accepted == COUNT, result.failures[:5]
    return Measured(result.rate, cpu / COUNT * 1000)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])  # utime and stime, fields 14 and 15 of stat(5)
    return (user + system) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", required=True, type=Path, help="the src directory of the other version")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--database", help="DATABASE_DSN for mailservice (default: a new SQLite file each run)"
    )
    args = parser.parse_args()
    before_path = args.before.resolve()
    runs: dict[str, list[Measured]] = {"before": [], "after": []}
    for round_number in range(1, args.rounds + 1):
        load = os.getloadavg()[0]
        order = ("before", "after") if round_number % 2 else ("after", "before")
        for version in order:
            runs[version].append(run_version(args.database, before_path if version == "before" else None))
        before, after = runs["before"][-1], runs["after"][-1]
        print(
            f"round {round_number} (load {load:.2f}): "
            f"before {before.rate:5.0f} msg/s {before.cpu_ms:.3f} ms CPU/msg, "
            f"after {after.rate:5.0f} msg/s {after.cpu_ms:.3f} ms CPU/msg"
        )
    backend = "postgresql" if args.database else "sqlite"
    rate = {v: statistics.median(m.rate for m in runs[v]) for v in runs}
    cpu = {v: statistics.median(m.cpu_ms for m in runs[v]) for v in runs}
    print(
        f"{backend} medians: before {rate['before']:.0f} msg/s {cpu['before']:.3f} ms CPU/msg, "
        f"after {rate['after']:.0f} msg/s {cpu['after']:.3f} ms CPU/msg; "
        f"rate after/before {rate['after'] / rate['before']:.3f}, CPU after/before {cpu['after'] / cpu['before']:.3f}"
    )


if __name__ == "__main__":
    main()
