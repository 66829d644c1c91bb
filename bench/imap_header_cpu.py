"""Server CPU per header-sync FETCH, with the HEADER.FIELDS answers kept and with nothing kept.

Run: .venv/bin/python -m bench.imap_header_cpu [--database DSN] [--messages 1000] [--repeats 200]

1,000 messages of about 2 KB are APPENDed to a running `mailservice serve` (a new SQLite file, or the
PostgreSQL database `--database` names, which should be empty); on one connection
with INBOX EXAMINEd, `UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (...)])` runs
`--repeats` times with the same six fields ("warm": answered from what the server keeps), then as many
times with the six fields in a different order each time ("cold": a new field list, so nothing kept
answers it). The figure is the serving process's CPU time (user + system, from /proc) per command, which
other work on the machine disturbs less than wall time. Set PYTHONPATH to another tree's src to measure
that tree's server.
"""

from __future__ import annotations

import argparse
import itertools
import os

from bench.imap_fetch import Side, bench_workdir, cpu_seconds, load, logged_in
from bench.mailservice_process import BENCH_SERVER_ENV, MailserviceProcess
from bench.smtp_load import make_messages

FIELDS = ("From", "To", "Cc", "Subject", "Date", "Message-ID")


def header_sync(fields: tuple[str, ...]) -> str:
    return f"UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ({' '.join(fields)})])"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="DATABASE_DSN for mailservice (default: a new SQLite file)")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with (
        bench_workdir("bench-header-cpu-") as workdir,
        MailserviceProcess(
            workdir / "ours", args.database or str(workdir / "ours" / "db.sqlite"), extra_env=BENCH_SERVER_ENV
        ) as server,
    ):
        (box,) = server.paid_access(1)
        assert server.process is not None
        pid = server.process.pid
        side = Side("mailservice", server.imap_port, str(box["email"]), str(box["password"]), pid)
        load(
            side,
            [
                raw
                for _, _, raw in make_messages(args.messages, 2000, "reader@bench.test", "load@example.org")
            ],
        )
        reader = logged_in(side)
        reader.command("EXAMINE INBOX")
        reader.command(header_sync(FIELDS))
        started = cpu_seconds(pid)
        for _ in range(args.repeats):
            reader.command(header_sync(FIELDS))
        warm = (cpu_seconds(pid) - started) / args.repeats
        orders = itertools.islice(itertools.permutations(FIELDS), 1, args.repeats + 1)
        started = cpu_seconds(pid)
        count = 0
        for order in orders:
            reader.command(header_sync(order))
            count += 1
        cold = (cpu_seconds(pid) - started) / count
        reader.close()
    print(
        f"server CPU per header sync of {args.messages} messages: warm {warm * 1000:.2f} ms, "
        f"cold (a new field order each time) {cold * 1000:.2f} ms"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
