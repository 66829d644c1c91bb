"""SORT, ESORT and THREAD speed against Dovecot.

Run: .venv/bin/python -m bench.imap_sort [--database DSN] [--messages 1000]

The same messages (about 2 KB each, 50 subjects, each message after the first 50 a reply to the one 50
before it, with References, "Re:" and its own Date and sender) are APPENDed to a running `mailservice
serve` and to Dovecot (Debian's dovecot-imapd, bench/dovecot.py). On one connection to each with
INBOX EXAMINEd, each command below is timed from the command to its tagged OK, five times, alternating
servers; the median of each side and their ratio are printed.
"""

from __future__ import annotations

import argparse
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.dovecot import DovecotImap
from bench.imap_fetch import ROUNDS, Side, bench_workdir, fetch_medians, load, report_pair
from bench.mailservice_process import MailserviceProcess, free_port

COMMANDS = [
    "SORT (ARRIVAL) UTF-8 ALL",
    "SORT (SUBJECT) UTF-8 ALL",
    "SORT (REVERSE DATE) UTF-8 ALL",
    "SORT (FROM SIZE) UTF-8 ALL",
    "UID SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL",
    "THREAD ORDEREDSUBJECT UTF-8 ALL",
    "THREAD REFERENCES UTF-8 ALL",
]
TOPICS = 50
_START = datetime(2026, 3, 1, tzinfo=UTC)


def threaded_messages(count: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    messages = []
    for number in range(count):
        topic = number % TOPICS
        headers = [
            f"From: Sender {number % 37} <sender{number % 37}@example.org>",
            "To: reader@bench.test",
            f"Subject: {'Re: ' if number >= TOPICS else ''}Topic {topic} {words[topic % len(words)]}",
            f"Date: {(_START + timedelta(minutes=rng.randrange(100_000))).strftime('%a, %d %b %Y %H:%M:%S +0000')}",
            f"Message-ID: <{number}@bench.test>",
        ]
        if number >= TOPICS:
            headers.append(f"References: <{number - TOPICS}@bench.test>")
        body = " ".join(rng.choice(words) for _ in range(300))
        messages.append(("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode())
    return messages


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="DATABASE_DSN for mailservice (default: a new SQLite file)")
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()} (a busy machine skews both sides)")
    with bench_workdir("bench-imap-sort-") as workdir:
        run(workdir, args.database, args.messages)


def run(workdir: Path, database: str | None, count: int) -> None:
    dsn = database or str(workdir / "ours" / "data" / "mailservice.db")
    with (
        MailserviceProcess(workdir / "ours", dsn, extra_env={"RATE_LIMIT_PER_MINUTE": "0"}) as server,
        DovecotImap(workdir / "dovecot", free_port(), user="bench") as dovecot,
    ):
        (box,) = server.paid_access(1)
        ours = Side("mailservice", server.imap_port, str(box["email"]), str(box["password"]))
        theirs = Side("dovecot", dovecot.port, dovecot.user, dovecot.password)
        raws = threaded_messages(count)
        for side in (ours, theirs):
            load(side, raws)
        backend = "postgresql" if database else "sqlite"
        print(f"{count} messages of ~2 KB (same bytes in both); mailservice on {backend}; median of {ROUNDS}")
        medians = fetch_medians([ours, theirs], COMMANDS)
        for command in COMMANDS:
            print(report_pair(command, medians[command][0], medians[command][1], None))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
