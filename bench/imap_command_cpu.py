"""Server CPU per IMAP command, one kind of command at a time, under concurrent clients.

Run: .venv/bin/python -m bench.imap_command_cpu [--clients 10] [--seconds 5]
        [--database postgresql://postgres@127.0.0.1:5432/<new database>] [--kinds NOOP STORE ...]

One mailservice process (SQLite unless `--database`), the mailboxes of `bench.imap_concurrency` seeded
with 100 messages each; then for each kind, `--clients` clients repeat only that command (as the
concurrency benchmark's mix issues it) for `--seconds`. Printed per kind: commands/s, the serving
process's CPU per command (from /proc) and the clients' own CPU per command. Where the mixed load's
CPU goes, command by command, without a profiler's overhead.
"""

from __future__ import annotations

import argparse
import asyncio

from bench.imap_concurrency import (
    MIX,
    Endpoint,
    bench_messages,
    cpu_seconds,
    load_text,
    run_load,
    seed_mailboxes,
)
from bench.imap_fetch import bench_workdir
from bench.mailservice_process import BENCH_SERVER_ENV, MailserviceProcess

KINDS = ("NOOP", "STATUS", *MIX)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--database", default=None, help="a PostgreSQL DSN (an empty database)")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    args = parser.parse_args()
    messages = bench_messages()
    with bench_workdir("bench-imapcmd-") as workdir:
        dsn = args.database or str(workdir / "data" / "mailservice.db")
        with MailserviceProcess(workdir, dsn, extra_env=BENCH_SERVER_ENV) as server:
            access = server.paid_access(1)[0]
            endpoint = Endpoint(server.imap_port, str(access["email"]), str(access["password"]))
            seed_mailboxes(endpoint, messages)
            assert server.process is not None
            print(f"{load_text()}; {args.clients} clients, {args.seconds:g} s per kind")
            for kind in args.kinds:
                before = cpu_seconds([server.process.pid])
                tally = asyncio.run(
                    run_load([endpoint], args.clients, args.seconds, args.seconds, messages, {kind: 1})
                )
                used = cpu_seconds([server.process.pid]) - before
                print(
                    f"  {kind:<8} {tally.rate:8.1f} commands/s   server cpu "
                    f"{1000 * used / tally.commands:.3f} ms/command   client cpu "
                    f"{1000 * tally.client_cpu / tally.commands:.3f} ms/command   ({load_text()})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
