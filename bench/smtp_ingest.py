"""SMTP ingest, end to end and durable: mailservice against Postfix delivering over LMTP to Dovecot.

Run: .venv/bin/python -m bench.smtp_ingest [--database postgresql://postgres@127.0.0.1:5432/test]
                                             [--signed-with-local-dns] [--rounds 3] [--before OTHER/src]
Both receive the same 2,000 messages of about 5 KB over 20 concurrent connections from the same load
generator. For mailservice the end is the last 250 (a 250 is sent only after the message is committed and
fsynced, parsing and precomputation included); for Postfix it is the moment the last message is in
Dovecot's maildir. The two run in turns (ours, baseline, ours, baseline, ...) for `--rounds` rounds, so
both see about the same machine load; each round prints both rates, their ratio, the load average and
the serving process's CPU per message by thread (from /proc), and at the end the median ratio (target:
at least 3x on SQLite, 2.5x on PostgreSQL). With `--before`, each round also runs a server importing that
other `src` tree (through PYTHONPATH) beside ours (the two take turns going first), for a before/after
comparison against the same baseline.
With --signed-with-local-dns, mailservice gets the same load DKIM-signed (2048-bit RSA) and checks every
message (SPF, DKIM, DMARC, ARC) against a DNS server on loopback (the test suite's), where each passes;
without it the checks run against the system's resolver.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import thread_cpu
from bench.baseline_postfix_dovecot import run_baseline, spread_subdirectories
from bench.mailservice_process import MailserviceProcess
from bench.sender_auth import DOMAIN, sender_checks
from bench.smtp_load import LoadResult, make_messages, send_load

COUNT = 2000
SIZE = 5000
CONNECTIONS = 20
MAILBOXES = 20
WARMUP = 200


@dataclass(frozen=True)
class Ours:
    load: LoadResult
    cpu: str
    """CPU milliseconds per message by thread of the serving process and its parser workers."""
    serving_cpu_ms: float


def run_mailservice(database: str | None, signed: bool, pythonpath: Path | None = None) -> Ours:
    workdir = Path(tempfile.mkdtemp(prefix="bench-mailservice-"))
    spread_subdirectories(workdir)
    dsn = database or str(workdir / "data" / "mailservice.db")
    extra = {"PYTHONPATH": str(pythonpath)} if pythonpath else {}
    with (
        sender_checks(signed) as (env, sign),
        MailserviceProcess(workdir, dsn, extra_env=env | extra) as server,
    ):
        assert server.process is not None
        addresses = server.paid_addresses(MAILBOXES)
        warm = make_messages(WARMUP, SIZE, lambda i: addresses[i % MAILBOXES], f"load@{DOMAIN}", seed=2)
        asyncio.run(send_load("127.0.0.1", server.smtp_port, sign(warm), CONNECTIONS))
        messages = sign(make_messages(COUNT, SIZE, lambda i: addresses[i % MAILBOXES], f"load@{DOMAIN}"))
        before = thread_cpu.snapshot(server.process.pid)
        load = asyncio.run(send_load("127.0.0.1", server.smtp_port, messages, CONNECTIONS))
        after = thread_cpu.snapshot(server.process.pid)
    costs = thread_cpu.per_message(before, after, max(1, load.accepted))
    serving = sum(ms for label, ms in costs.items() if not label.startswith("worker:"))
    return Ours(load, thread_cpu.report(before, after, max(1, load.accepted)), serving)


def _describe(name: str, ours: Ours) -> str:
    load = ours.load
    return (
        f"  {name}: {load.rate:6.0f} msg/s durable end to end (accepted {load.accepted}, "
        f"p50 {load.percentile(50) * 1000:.1f} ms, p99 {load.percentile(99) * 1000:.1f} ms, "
        f"serving process CPU {ours.serving_cpu_ms:.3f} ms/msg)"
    )


def _load_averages() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="DATABASE_DSN for mailservice (default: a new SQLite file)")
    parser.add_argument(
        "--signed-with-local-dns",
        action="store_true",
        help="DKIM-sign the load and answer the sender checks from a DNS server on loopback",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of ours and the baseline")
    parser.add_argument("--before", type=Path, help="also run a server from this other src tree each round")
    parser.add_argument("--quiet-cpu", action="store_true", help="leave out the per-thread CPU tables")
    args = parser.parse_args()
    backend = "postgresql" if args.database else "sqlite"
    checks = "signed, checked against the local DNS server" if args.signed_with_local_dns else "system DNS"
    print(
        f"{COUNT} messages of ~{SIZE} bytes over {CONNECTIONS} connections to {MAILBOXES} mailboxes, "
        f"{backend}, sender authentication on ({checks}), {args.rounds} rounds"
    )
    ratios: dict[str, list[float]] = {"ours": [], "before": []}
    rates: dict[str, list[float]] = {"ours": [], "before": [], "baseline": []}
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number} (load average {_load_averages()} at the start)")
        versions = ["ours"] if args.before is None else ["ours", "before"][:: 1 if round_number % 2 else -1]
        found = {
            version: run_mailservice(
                args.database,
                args.signed_with_local_dns,
                args.before.resolve() if version == "before" else None,
            )
            for version in versions  # the two versions take turns going first
        }
        runs = {name: found[name] for name in ("ours", "before") if name in found}
        baseline = run_baseline(COUNT, SIZE, CONNECTIONS, mailboxes=MAILBOXES, warmup=WARMUP)
        rates["baseline"].append(baseline.end_to_end_rate)
        for name, ours in runs.items():
            rates[name].append(ours.load.rate)
            ratios[name].append(ours.load.rate / baseline.end_to_end_rate)
            print(_describe(name, ours))
            if not args.quiet_cpu:
                print(ours.cpu)
        print(
            f"  postfix+dovecot (lmtp, maildir): {baseline.end_to_end_rate:6.0f} msg/s end to end "
            f"(smtp {baseline.smtp_rate:.0f} msg/s)"
        )
        print(
            "  ratio: "
            + ", ".join(f"{name} {ratios[name][-1]:.2f}x" for name in runs)
            + f" (load average {_load_averages()} at the end)"
        )
    for name in ("ours", "before"):
        if ratios[name]:
            print(
                f"median of {len(ratios[name])} rounds, {name}: {statistics.median(rates[name]):.0f} msg/s, "
                f"ratio {statistics.median(ratios[name]):.2f}x (rounds: "
                + ", ".join(f"{r:.2f}x" for r in ratios[name])
                + ")"
            )
    target = "2.5x" if args.database else "3x"
    print(f"median postfix+dovecot: {statistics.median(rates['baseline']):.0f} msg/s (target ratio {target})")


if __name__ == "__main__":
    main()
