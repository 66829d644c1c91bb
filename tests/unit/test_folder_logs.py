"""What a node keeps of its folders' changes (PostgreSQL's path; wired to real sessions and PostgreSQL in
tests/integration/test_folder_logs_kept.py). Here a model folder stands for the database: every change
takes the next modseq, and a read gives the rows `CHANGES` would at that moment."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mailservice.adapters.db import folder_logs
from mailservice.adapters.db.folder_logs import FolderLogs, KnownWrite
from mailservice.adapters.db.folder_reads import changes_of_rows
from mailservice.domain.mail_session import FolderChanges, MessageMeta
from mailservice.domain.messages import FolderChanged, MessageReceived
from tests.support.change_rows import Row

KEY = ("mbx", 7)
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
UIDVALIDITY = 99


@dataclass
class State:
    highestmodseq: int = 1
    uidnext: int = 1
    messages: dict[int, tuple[int, str]] = field(default_factory=dict)
    expunged: dict[int, tuple[int, str]] = field(default_factory=dict)


class ModelFolder:
    """The database: its state after every modseq, so a read can be taken at any of them."""

    def __init__(self) -> None:
        self.now = State()
        self.history = {1: copy.deepcopy(self.now)}

    def append(self, flags: str = "") -> KnownWrite:
        uid = self.now.uidnext
        self.now.uidnext += 1
        modseq = self._commit(lambda m: self.now.messages.__setitem__(uid, (m, flags)))
        meta = MessageMeta(uid, modseq, frozenset(flags.split()), WHEN, 100)
        return KnownWrite(modseq, changed=(meta,), uidnext=uid + 1)

    def store(self, uids: list[int], flags: str) -> KnownWrite:
        modseq = self._commit(lambda m: self.now.messages.update({uid: (m, flags) for uid in uids}))
        metas = tuple(MessageMeta(uid, modseq, frozenset(flags.split()), WHEN, 100) for uid in sorted(uids))
        return KnownWrite(modseq, changed=metas)

    def expunge(self, uids: list[int]) -> KnownWrite:
        gone = {uid: self.now.messages[uid][1] for uid in uids}

        def remove(modseq: int) -> None:
            for uid, flags in gone.items():
                del self.now.messages[uid]
                self.now.expunged[uid] = (modseq, flags)

        modseq = self._commit(remove)
        return KnownWrite(modseq, expunged=tuple((uid, frozenset(gone[uid].split())) for uid in sorted(gone)))

    def rows(self, since: int, at: int | None = None) -> list[Row]:
        state = self.history[self.now.highestmodseq if at is None else at]
        rows = [Row(0, state.highestmodseq, state.uidnext, extra_a=UIDVALIDITY, extra_b=0)]
        rows += [
            Row(1, uid, modseq, flags, WHEN, 100)
            for uid, (modseq, flags) in state.messages.items()
            if modseq > since
        ]
        rows += [
            Row(2, uid, modseq, flags) for uid, (modseq, flags) in state.expunged.items() if modseq > since
        ]
        return rows

    def changes(self, since: int, at: int) -> FolderChanges:
        return changes_of_rows(self.rows(since, at))

    def _commit(self, change: Any) -> int:
        self.now.highestmodseq += 1
        change(self.now.highestmodseq)
        self.history[self.now.highestmodseq] = copy.deepcopy(self.now)
        return self.now.highestmodseq


def read(logs: FolderLogs, folder: ModelFolder, since: int) -> None:
    logs.read(KEY, logs.reading(KEY), since, folder.rows(since))


def test_nothing_is_answered_before_a_read() -> None:
    logs = FolderLogs()
    assert logs.changes(KEY, 1) is None
    logs.raised(KEY, 5)
    assert logs.changes(KEY, 1) is None


def test_after_a_read_asks_since_any_modseq_it_covers_are_answered_as_a_read_would() -> None:
    folder, logs = ModelFolder(), FolderLogs()
    for flags in ("", "$A", "\\Seen"):
        folder.append(flags)
    folder.store([1], "$B")
    read(logs, folder, 2)
    for since in (2, 3, 4, 5):
        assert logs.changes(KEY, since) == folder.changes(since, 5)
    assert logs.changes(KEY, 1) is None, "before what was read"
    assert logs.changes(KEY, 6) is None, "beyond what is known"


def test_an_own_write_that_took_the_next_modseq_extends_what_is_known() -> None:
    folder, logs = ModelFolder(), FolderLogs()
    folder.append()
    folder.append("$A")
    read(logs, folder, 1)
    logs.wrote(KEY, folder.store([1, 2], "\\Seen"))
    logs.wrote(KEY, folder.expunge([2]))

    assert logs.changes(KEY, 3) == folder.changes(3, 5)
    assert logs.changes(KEY, 1) == folder.changes(1, 5)


def test_writes_told_out_of_order_wait_for_the_one_between() -> None:
    folder, logs = ModelFolder(), FolderLogs()
    folder.append()
    read(logs, folder, 1)
    first = folder.store([1], "$A")
    second = folder.store([1], "$B")
    logs.wrote(KEY, second)
    assert logs.changes(KEY, 2) is None, "modseq 3 is missing: a read would be needed"
    logs.wrote(KEY, first)
    assert logs.changes(KEY, 2) == folder.changes(2, 4)


def test_a_change_heard_of_and_not_known_makes_the_next_ask_read() -> None:
    folder, logs = ModelFolder(), FolderLogs()
    folder.append()
    read(logs, folder, 1)
    modseq = folder.append("$Elsewhere").modseq
    logs.heard(MessageReceived(KEY[0], KEY[1], 2, modseq))
    assert logs.changes(KEY, 2) is None
    read(logs, folder, 2)
    assert logs.changes(KEY, 2) == folder.changes(2, modseq)
    logs.heard(FolderChanged("another mailbox", KEY[1], modseq + 5))
    assert logs.changes(KEY, 2) is not None, "another mailbox's folder"


def test_a_read_that_began_before_the_folder_was_forgotten_is_not_kept() -> None:
    folder, logs = ModelFolder(), FolderLogs()
    folder.append()
    token = logs.reading(KEY)
    rows = folder.rows(1)
    logs.missed()  # events were lost meanwhile: this read may be older than one of them
    logs.read(KEY, token, 1, rows)
    assert logs.changes(KEY, 1) is None


def test_a_read_older_than_what_is_known_changes_nothing() -> None:
    folder, logs = ModelFolder(), FolderLogs()
    folder.append()
    read(logs, folder, 1)
    token, old_rows = logs.reading(KEY), folder.rows(1)
    logs.wrote(KEY, folder.store([1], "$New"))
    logs.read(KEY, token, 1, old_rows)
    assert logs.changes(KEY, 1) == folder.changes(1, 3)


def test_a_deleted_folder_read_is_forgotten() -> None:
    folder, logs = ModelFolder(), FolderLogs()
    read(logs, folder, 1)
    logs.read(KEY, logs.reading(KEY), 1, [])  # no folder row: deleted
    assert logs.changes(KEY, 1) is None


def test_past_the_entries_kept_the_older_half_goes_and_asks_before_it_read(monkeypatch: Any) -> None:
    monkeypatch.setattr(folder_logs, "ENTRIES_KEPT", 16)
    folder, logs = ModelFolder(), FolderLogs()
    read(logs, folder, 1)
    for _ in range(17):
        logs.wrote(KEY, folder.append())
    high = folder.now.highestmodseq
    assert logs.changes(KEY, high - 1) == folder.changes(high - 1, high)
    assert logs.changes(KEY, 1) is None


def test_changes_replaced_by_later_ones_are_dropped_before_any_ask_is_refused(monkeypatch: Any) -> None:
    monkeypatch.setattr(folder_logs, "ENTRIES_KEPT", 16)
    folder, logs = ModelFolder(), FolderLogs()
    folder.append()
    read(logs, folder, 1)
    for number in range(40):
        logs.wrote(KEY, folder.store([1], f"$X{number % 2}"))
    assert logs.changes(KEY, 1) == folder.changes(1, folder.now.highestmodseq)


def test_reads_that_replace_kept_changes_keep_them_bounded_and_every_live_one(monkeypatch: Any) -> None:
    monkeypatch.setattr(folder_logs, "ENTRIES_KEPT", 16)
    folder, logs = ModelFolder(), FolderLogs()
    for _ in range(12):
        folder.append()
    read(logs, folder, 1)
    for number in range(60):
        write = folder.store([1 + number % 12], f"$X{number}")
        logs.raised(KEY, write.modseq)
        read(logs, folder, write.modseq - 1)  # merged: the change it replaces stays behind in `order`
        log = logs._logs[KEY]
        assert len(log.order) <= max(16, 2 * 12) + 1
        assert log.order == sorted(log.order)
        assert logs._entries == len(log.order)
    high = folder.now.highestmodseq
    assert logs.changes(KEY, 1) == folder.changes(1, high), "no live change was dropped"


def test_a_read_since_beyond_the_folders_modseq_is_kept_from_that_modseq() -> None:
    """A client may send a modseq the folder never reached (QRESYNC, CHANGEDSINCE)."""
    folder, logs = ModelFolder(), FolderLogs()
    folder.append()
    read(logs, folder, 50)
    assert logs.changes(KEY, 2) == folder.changes(2, 2)


def test_while_the_node_does_not_hear_every_event_nothing_is_answered() -> None:
    hearing = True
    folder, logs = ModelFolder(), FolderLogs(lambda: hearing)
    folder.append()
    read(logs, folder, 1)
    hearing = False
    assert logs.changes(KEY, 1) is None
    hearing = True
    assert logs.changes(KEY, 1) == folder.changes(1, 2)


def test_a_claim_of_this_node_raises_the_recent_mark_told() -> None:
    folder, logs = ModelFolder(), FolderLogs()
    folder.append()
    read(logs, folder, 1)
    logs.claimed(KEY, 1)
    told = logs.changes(KEY, 1)
    assert told is not None and told.recent_uid == 1


# Any interleaving: writes told at once, late, out of order or heard of only; reads that take
# their snapshot and answer later. Whatever is answered is what a read at its HIGHESTMODSEQ would give,
# and never older than a change already heard of.

_ACTIONS = (
    *("append", "store", "store", "expunge"),
    *("tell", "tell", "tell", "read", "begin read", "end read"),
    *("ask", "ask", "ask"),
)
_STEPS = st.lists(st.tuples(st.sampled_from(_ACTIONS), st.integers(0, 50)), max_size=80)


@settings(max_examples=300, deadline=None)
@given(steps=_STEPS)
def test_whatever_is_answered_is_what_a_read_at_its_modseq_would_find(steps: list[tuple[str, int]]) -> None:
    folder, logs = ModelFolder(), FolderLogs()
    untold: list[tuple[KnownWrite, int]] = []
    reads: list[tuple[object, int, list[Row]]] = []
    heard = 1
    for action, pick in steps:
        present = sorted(folder.now.messages)
        if action == "append":
            appended = folder.append(("", "$A", "\\Seen")[pick % 3])
            untold.append((appended, appended.modseq))
        elif action in ("store", "expunge") and present:
            chosen = present[pick % len(present) :][: 1 + pick % 3]
            write = folder.store(chosen, f"$F{pick}") if action == "store" else folder.expunge(chosen)
            untold.append((write, write.modseq))
        elif action == "tell" and untold:
            known, modseq = untold.pop(pick % len(untold))
            if pick % 4:
                logs.wrote(KEY, known)
            else:
                logs.raised(KEY, modseq)
            heard = max(heard, modseq)
        elif action == "read":
            read(logs, folder, max(1, heard - pick % 5))
        elif action == "begin read":
            since = max(1, folder.now.highestmodseq - pick % 5)
            reads.append((logs.reading(KEY), since, folder.rows(since)))
        elif action == "end read" and reads:
            token, since, rows = reads.pop(pick % len(reads))
            logs.read(KEY, token, since, rows)
        elif action == "ask":
            since = max(1, heard - pick % 6)
            told = logs.changes(KEY, since)
            if told is not None:
                assert told.highestmodseq >= heard
                assert told == folder.changes(since, told.highestmodseq)


def test_past_the_changes_kept_in_all_the_folders_asked_least_recently_go(monkeypatch: Any) -> None:
    monkeypatch.setattr(folder_logs, "ENTRIES_KEPT_IN_ALL", 10)
    logs = FolderLogs()
    folders = {key: ModelFolder() for key in (("mbx", 1), ("mbx", 2))}
    for key, folder in folders.items():
        for _ in range(4):
            folder.append()
        logs.read(key, logs.reading(key), 1, folder.rows(1))
    first, second = folders
    assert logs.changes(first, 1) is not None  # now asked most recently
    for _ in range(3):
        logs.wrote(second, folders[second].append())

    assert logs.changes(second, 1) is None, "8 changes kept in all, and the second's make 11"
    assert logs.changes(first, 1) is not None
