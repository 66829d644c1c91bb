"""Our SMTP ingest, two versions of the code alternately in one run: is a change faster or slower?

Run: .venv/bin/python -m bench.smtp_ingest_versions --before /path/to/other/src [--rounds 3]
                                                     [--database postgresql://postgres@127.0.0.1:5432/test]
`--before` is the `src` directory of another checkout (a copy made before the change, say). Each round
runs `bench/smtp_ingest.py`'s load (2,000 messages of about 5 KB over 20 connections, after a warm-up)
against a server importing that tree (through PYTHONPATH), then against this checkout, so both see the
same machine load; it prints each rate and the after/before ratio of each round and of the medians. The
Postfix and Dovecot baseline of `bench/smtp_ingest.py` is not run: the two versions are each other's
baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from bench.smtp_ingest import COUNT, run_mailservice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", required=True, type=Path, help="the src directory of the other version")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database", help="DATABASE_DSN for mailservice (default: a new SQLite file each run)"
    )
    args = parser.parse_args()
    before_env = {"PYTHONPATH": str(args.before.resolve())}
    before_rates: list[float] = []
    after_rates: list[float] = []
    for round_number in range(1, args.rounds + 1):
        load = os.getloadavg()[0]
        before = run_mailservice(args.database, signed=False, extra_env=before_env)
        after = run_mailservice(args.database, signed=False)
        assert before.accepted == after.accepted == COUNT, (before.accepted, after.accepted)
        before_rates.append(before.rate)
        after_rates.append(after.rate)
        print(
            f"round {round_number} (load {load:.2f}): before {before.rate:7.0f} msg/s, "
            f"after {after.rate:7.0f} msg/s, ratio {after.rate / before.rate:.3f}"
        )
    backend = "postgresql" if args.database else "sqlite"
    before_median, after_median = statistics.median(before_rates), statistics.median(after_rates)
    print(
        f"{backend}: median before {before_median:.0f} msg/s, after {after_median:.0f} msg/s, "
        f"ratio {after_median / before_median:.3f}"
    )


if __name__ == "__main__":
    main()
