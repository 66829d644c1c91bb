"""CPU time of a process's threads and of its child processes, read from /proc, for "where does it go".

`snapshot(pid)` reads every thread of the process and of its direct children (the parser workers);
`per_message(before, after, count)` turns two snapshots into milliseconds of CPU per message, by
thread: the main thread (the event loop) by that name, the others by their name and id.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")

Snapshot = dict[tuple[int, int], tuple[str, float]]
"""(pid, tid) -> (label, CPU seconds)."""


def snapshot(pid: int) -> Snapshot:
    threads: Snapshot = {}
    for process, prefix in [(pid, ""), *((child, "worker:") for child in _children(pid))]:
        for task in Path(f"/proc/{process}/task").glob("*"):
            read = _task_cpu(task)
            if read is not None:
                tid = int(task.name)
                label = "main thread" if tid == process else f"{read[0]} {tid}"
                threads[(process, tid)] = (prefix + label, read[1])
    return threads


def per_message(before: Snapshot, after: Snapshot, count: int) -> dict[str, float]:
    """Milliseconds of CPU per message by thread label, largest first."""
    spent: dict[str, float] = defaultdict(float)
    for key, (label, seconds) in after.items():
        spent[label] += seconds - before.get(key, (label, 0.0))[1]
    ordered = sorted(spent.items(), key=lambda item: -item[1])
    return {label: seconds * 1000 / count for label, seconds in ordered if seconds > 0}


def report(before: Snapshot, after: Snapshot, count: int) -> str:
    costs = per_message(before, after, count)
    serving = sum(ms for label, ms in costs.items() if not label.startswith("worker:"))
    lines = [f"  {label:<28} {ms:6.3f} ms" for label, ms in costs.items() if ms >= 0.005]
    return "\n".join([*lines, f"  {'serving process, all threads':<28} {serving:6.3f} ms"])


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _task_cpu(task: Path) -> tuple[str, float] | None:
    try:
        stat = (task / "stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    return name, (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
