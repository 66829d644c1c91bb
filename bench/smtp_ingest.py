"""SMTP ingest, end to end and durable: mailservice against Postfix delivering over LMTP to Dovecot.

Run: .venv/bin/python -m bench.smtp_ingest [--database postgresql://postgres@127.0.0.1:5432/test]
Both receive the same 2,000 messages of about 5 KB over 20 concurrent connections from the same load
generator, in the same run. For mailservice the end is the last 250 (a 250 is sent only after the
message is committed and fsynced, parsing and precomputation included); for Postfix it is the moment the
last message is in Dovecot's maildir. Prints both rates and the ratio (target: at least 2.5x).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from bench.baseline_postfix_dovecot import run_baseline, spread_subdirectories
from bench.mailservice_process import MailserviceProcess
from bench.smtp_load import LoadResult, make_messages, send_load

COUNT = 2000
SIZE = 5000
CONNECTIONS = 20
MAILBOXES = 20
WARMUP = 200


def run_mailservice(database: str | None) -> LoadResult:
    workdir = Path(tempfile.mkdtemp(prefix="bench-mailservice-"))
    spread_subdirectories(workdir)
    dsn = database or str(workdir / "data" / "mailservice.db")
    with MailserviceProcess(workdir, dsn) as server:
        addresses = server.paid_addresses(MAILBOXES)
        warm = make_messages(WARMUP, SIZE, lambda i: addresses[i % MAILBOXES], "load@example.org", seed=2)
        asyncio.run(send_load("127.0.0.1", server.smtp_port, warm, CONNECTIONS))
        messages = make_messages(COUNT, SIZE, lambda i: addresses[i % MAILBOXES], "load@example.org")
        return asyncio.run(send_load("127.0.0.1", server.smtp_port, messages, CONNECTIONS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="DATABASE_DSN for mailservice (default: a new SQLite file)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (a busy machine skews both sides)")
    ours = run_mailservice(args.database)
    baseline = run_baseline(COUNT, SIZE, CONNECTIONS, mailboxes=MAILBOXES, warmup=WARMUP)
    backend = "postgresql" if args.database else "sqlite"
    print(f"{COUNT} messages of ~{SIZE} bytes over {CONNECTIONS} connections to {MAILBOXES} mailboxes")
    print(
        f"mailservice ({backend}): {ours.rate:8.0f} msg/s durable end to end "
        f"(accepted {ours.accepted}, p50 {ours.percentile(50) * 1000:.1f} ms, p99 {ours.percentile(99) * 1000:.1f} ms)"
    )
    print(
        f"postfix+dovecot (lmtp, maildir): {baseline.end_to_end_rate:8.0f} msg/s end to end "
        f"(smtp {baseline.smtp_rate:.0f} msg/s)"
    )
    print(f"ratio: {ours.rate / baseline.end_to_end_rate:.2f}x (target 2.5x)")


if __name__ == "__main__":
    main()
