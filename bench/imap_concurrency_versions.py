"""The IMAP concurrency load against two versions of the code in turns in one run: is a change faster?

Run: .venv/bin/python -m bench.imap_concurrency_versions --before /path/to/other/src
        [--clients 10] [--seconds 15] [--rounds 3] [--backend sqlite|postgresql]
        [--postgres postgresql://postgres@127.0.0.1:5432]

`--before` is the `src` directory of another checkout (a copy made before the change, say). Both
servers start at once, each with its own database seeded as `bench/imap_concurrency.py` seeds it; then
each round runs that benchmark's load (same seeds, same checkpoints) against the older tree's server and
then this checkout's, so both see about the same machine. Printed per round and server: the
benchmark's line (commands/s, STORE/EXPUNGE/APPEND median/mean, view errors, server CPU per command),
then each server's median rate and server CPU, and each IMAP command's mean time inside the server
(from its /metrics, parse to tagged reply), which says where the time went. Dovecot is not run: the two
versions are each other's baseline, which on a machine whose speed drifts is a steadier comparison
than two runs of `bench/imap_concurrency.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.imap_concurrency import (
    Endpoint,
    _postgres_command,
    bench_messages,
    cpu_seconds,
    describe,
    run_load,
    seed_mailboxes,
)
from bench.imap_fetch import bench_workdir
from bench.mailservice_process import BENCH_SERVER_ENV, MailserviceProcess

ADMIN_KEY = "bench-admin-key"
_DURATION = re.compile(
    r'mail_command_duration_seconds_(sum|count)\{command="([^"]+)",protocol="imap"\} (\S+)'
)


@dataclass
class Version:
    name: str
    server: MailserviceProcess
    endpoint: Endpoint
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


def start(stack: ExitStack, name: str, pythonpath: Path | None, backend: str, postgres: str) -> Version:
    workdir = stack.enter_context(bench_workdir(f"bench-imapversions-{name}-"))
    if backend == "sqlite":
        dsn = str(workdir / "data" / "mailservice.db")
    else:
        database = f"bench_imapversions_{uuid.uuid4().hex[:8]}"
        _postgres_command(postgres, f"CREATE DATABASE {database}")
        stack.callback(_postgres_command, postgres, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        dsn = f"{postgres.rstrip('/')}/{database}"
    env = {**BENCH_SERVER_ENV, "ADMIN_API_KEY": ADMIN_KEY}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    server = MailserviceProcess(workdir, dsn, extra_env=env)
    stack.enter_context(server)
    if backend != "sqlite":  # stopped before its database is dropped
        stack.callback(server.__exit__, None, None, None)
    access = server.paid_access(1)[0]
    endpoint = Endpoint(server.imap_port, str(access["email"]), str(access["password"]))
    seed_mailboxes(endpoint, bench_messages())
    return Version(name, server, endpoint)


def run_round(version: Version, clients: int, seconds: float) -> str:
    assert version.server.process is not None
    pids = [version.server.process.pid]
    before = cpu_seconds(pids)
    tally = asyncio.run(run_load([version.endpoint], clients, seconds, 5.0, bench_messages()))
    tally.server_cpu = cpu_seconds(pids) - before
    version.rates.append(tally.rate)
    version.cpu_ms.append(1000 * tally.server_cpu / max(tally.commands, 1))
    return describe(version.name, tally)


def command_times(version: Version) -> str:
    """Each command's mean time in the server, from its Prometheus metrics."""
    request = urllib.request.Request(
        f"{version.server.base_url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read().decode()
    totals: dict[str, dict[str, float]] = {}
    for kind, command, value in _DURATION.findall(text):
        totals.setdefault(command, {})[kind] = float(value)
    means = {c: t["sum"] / t["count"] for c, t in totals.items() if t.get("count")}
    return " ".join(f"{command} {1000 * mean:.2f}" for command, mean in sorted(means.items()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", type=Path, required=True, help="the src directory of the older tree")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    with ExitStack() as stack:
        versions = [
            start(stack, "before", args.before.resolve(), args.backend, args.postgres),
            start(stack, "after", None, args.backend, args.postgres),
        ]
        for number in range(args.rounds):
            for version in versions:
                print(f"round {number + 1} {run_round(version, args.clients, args.seconds)}", flush=True)
        for version in versions:
            rate, cpu = statistics.median(version.rates), statistics.median(version.cpu_ms)
            rounds = ", ".join(f"{r:.0f}" for r in version.rates)
            print(f"{version.name}: median {rate:.1f} commands/s ({rounds}), server cpu {cpu:.2f} ms/command")
            print(f"  mean ms in the server: {command_times(version)}")
        before, after = versions
        ratio = statistics.median(after.rates) / statistics.median(before.rates)
        print(f"after/before: commands/s {ratio:.2f}x")


if __name__ == "__main__":
    main()
