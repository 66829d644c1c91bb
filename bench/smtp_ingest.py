"""SMTP ingest, end to end and durable: mailservice against Postfix delivering over LMTP to Dovecot.

Run: .venv/bin/python -m bench.smtp_ingest [--database postgresql://postgres@127.0.0.1:5432/test]
                                             [--signed-with-local-dns]
Both receive the same 2,000 messages of about 5 KB over 20 concurrent connections from the same load
generator, in the same run. For mailservice the end is the last 250 (a 250 is sent only after the
message is committed and fsynced, parsing and precomputation included); for Postfix it is the moment the
last message is in Dovecot's maildir. Prints both rates and the ratio (target: at least 3x).
With --signed-with-local-dns, mailservice gets the same load DKIM-signed (2048-bit RSA) and checks every
message (SPF, DKIM, DMARC, ARC) against a DNS server on loopback (the test suite's), where each passes;
without it the checks run against the system's resolver.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from bench.baseline_postfix_dovecot import run_baseline, spread_subdirectories
from bench.mailservice_process import MailserviceProcess
from bench.sender_auth import DOMAIN, sender_checks
from bench.smtp_load import LoadResult, make_messages, send_load

COUNT = 2000
SIZE = 5000
CONNECTIONS = 20
MAILBOXES = 20
WARMUP = 200


def run_mailservice(database: str | None, signed: bool) -> LoadResult:
    workdir = Path(tempfile.mkdtemp(prefix="bench-mailservice-"))
    spread_subdirectories(workdir)
    dsn = database or str(workdir / "data" / "mailservice.db")
    with sender_checks(signed) as (env, sign), MailserviceProcess(workdir, dsn, extra_env=env) as server:
        addresses = server.paid_addresses(MAILBOXES)
        warm = make_messages(WARMUP, SIZE, lambda i: addresses[i % MAILBOXES], f"load@{DOMAIN}", seed=2)
        asyncio.run(send_load("127.0.0.1", server.smtp_port, sign(warm), CONNECTIONS))
        messages = make_messages(COUNT, SIZE, lambda i: addresses[i % MAILBOXES], f"load@{DOMAIN}")
        return asyncio.run(send_load("127.0.0.1", server.smtp_port, sign(messages), CONNECTIONS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="DATABASE_DSN for mailservice (default: a new SQLite file)")
    parser.add_argument(
        "--signed-with-local-dns",
        action="store_true",
        help="DKIM-sign the load and answer the sender checks from a DNS server on loopback",
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (a busy machine skews both sides)")
    ours = run_mailservice(args.database, args.signed_with_local_dns)
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
    checks = "signed, checked against the local DNS server" if args.signed_with_local_dns else "system DNS"
    print(f"sender authentication: on ({checks})")
    print(f"ratio: {ours.rate / baseline.end_to_end_rate:.2f}x (target 3x)")


if __name__ == "__main__":
    main()
