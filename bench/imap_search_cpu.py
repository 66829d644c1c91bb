"""CPU time of IMAP SEARCH's matcher over one folder, in one process.

Run: .venv/bin/python -m bench.imap_search_cpu [--messages 1000] [--rounds 30]

The messages of `bench/imap_sort.py` (about 2 KB each, 37 senders, 50 subjects) get flags, sizes and
internal dates spread over a month, as a selected folder holds them. Each SEARCH below is parsed once,
its test built once (`search_match.message_test`) and asked about every message (ALL too, which
`search_command.find_matches` no longer asks about); header and text keys have the message's bytes
and stored structure beside them, as the command's batches read them. Prints, per SEARCH, the median
over the rounds of the process's CPU time (`time.process_time`) for the whole folder, and the load
average before and after. It runs on the code before the shared criteria too (PYTHONPATH=old/src).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from tests.support.memory_mail_session import structure_of

from bench.imap_sort import threaded_messages
from mailservice.domain.mail_session import MessageMeta, MessageStructure
from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.search_keys import SearchKey, parse_search
from mailservice.protocols.imap.search_match import Candidate, matches, needs_content

try:
    from mailservice.protocols.imap.search_match import message_test
except ImportError:  # the code before the shared criteria asked its matcher about each message

    def message_test(key: SearchKey) -> Callable[[Candidate], bool]:
        return partial(matches, key)


SEARCHES = [
    "ALL",
    "UNSEEN",
    "FLAGGED UNDELETED",
    "SINCE 10-Mar-2026",
    "ON 12-Mar-2026",
    "LARGER 2100",
    "OR SEEN (FLAGGED SMALLER 2000)",
    "NOT (OR DELETED (BEFORE 5-Mar-2026 UNSEEN))",
    "OR OR OR ANSWERED FLAGGED DRAFT SINCE 20-Mar-2026",
    "FROM sender3",
    "SUBJECT topic UNSEEN",
    "BODY juliet",
]
_START = datetime(2026, 3, 1, tzinfo=UTC)
_FLAG_SETS = [
    frozenset(),
    frozenset({"\\Seen"}),
    frozenset({"\\Seen", "\\Flagged"}),
    frozenset({"\\Seen", "\\Answered"}),
    frozenset({"\\Deleted", "\\Seen"}),
    frozenset({"$Junk"}),
]


def folder(count: int) -> list[tuple[MessageMeta, bytes, MessageStructure]]:
    found = []
    for index, raw in enumerate(threaded_messages(count), 1):
        structure = structure_of(index, raw)
        when = _START + timedelta(minutes=index * 43)
        meta = MessageMeta(index, index, _FLAG_SETS[index % len(_FLAG_SETS)], when, len(raw))
        found.append((meta, raw, structure))
    return found


def search_cpu(text: str, messages: list[tuple[MessageMeta, bytes, MessageStructure]]) -> tuple[float, int]:
    """CPU seconds to match every message against `text`, and how many matched."""
    uids = [meta.uid for meta, _, _ in messages]
    now = datetime.now(UTC)
    started = time.process_time()
    key = parse_search(CommandReader(text.encode()), "UTF-8")
    content, test = needs_content(key), message_test(key)
    found = 0
    for number, (meta, raw, structure) in enumerate(messages, 1):
        candidate = Candidate(number, meta, len(messages), uids, now=now)
        if content:
            candidate.raw, candidate.structure = raw, structure
        found += test(candidate)
    return time.process_time() - started, found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()
    messages = folder(options.messages)
    print(f"load average before: {os.getloadavg()}")
    times: dict[str, list[float]] = {text: [] for text in SEARCHES}
    counts: dict[str, int] = {}
    for _ in range(options.rounds):
        for text in SEARCHES:  # interleaved, so a burst of other load touches every search alike
            seconds, counts[text] = search_cpu(text, messages)
            times[text].append(seconds)
    for text in SEARCHES:
        median = statistics.median(times[text]) * 1000
        print(f"{text:50} {counts[text]:5} found  {median:8.3f} ms CPU per folder")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
