"""The selected-folder view: sequence numbers, and folding in other sessions' changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.domain.mail_session import FolderChanges, FolderStatus, MessageMeta, OpenedFolder
from mailservice.protocols.imap.folder_view import FolderView
from mailservice.protocols.imap.replies import CommandFailed
from mailservice.protocols.imap.sequence_set import parse_sequence_set

MOMENT = datetime(2026, 2, 2, tzinfo=UTC)


def meta(uid: int, modseq: int = 1, *flags: str) -> MessageMeta:
    return MessageMeta(uid, modseq, frozenset(flags), MOMENT, 100)


def view(*uids: int) -> FolderView:
    """A view of messages another session has already taken as recent."""
    status = FolderStatus(7, "INBOX", 99, max(uids, default=0) + 1, 1, len(uids), 0, 0)
    opened = OpenedFolder.of(status, (meta(uid) for uid in uids))
    return FolderView.of(opened, read_only=False, recent_above=max(uids, default=0))


def test_sequence_numbers_follow_uids() -> None:
    folder = view(3, 8, 9)
    assert folder.select(parse_sequence_set(b"2:*"), by_uid=False) == [(2, 8), (3, 9)]
    assert folder.select(parse_sequence_set(b"4:8"), by_uid=True) == [(2, 8)]
    with pytest.raises(CommandFailed):
        folder.select(parse_sequence_set(b"4"), by_uid=False)


def test_expunges_wait_when_not_allowed_and_keep_numbers_until_announced() -> None:
    folder = view(1, 2, 3)
    changes = FolderChanges(5, 5, (meta(4, 4),), (2,), 7)
    assert folder.sync(changes, allow_expunge=False, with_modseq=False) == [b"* 4 EXISTS\r\n"]
    assert folder.sequence_number(3) == 3
    later = FolderChanges(5, 5, (), (), 7)
    assert folder.sync(later, allow_expunge=True, with_modseq=False) == [b"* 2 EXPUNGE\r\n"]
    assert folder.uids == [1, 3, 4]


def test_expunges_are_sent_highest_first_so_numbers_stay_right() -> None:
    folder = view(1, 2, 3, 4)
    changes = FolderChanges(6, 5, (), (1, 3), 7)
    assert folder.sync(changes, allow_expunge=True, with_modseq=False) == [
        b"* 3 EXPUNGE\r\n",
        b"* 1 EXPUNGE\r\n",
    ]


def test_flag_changes_are_announced_once_and_own_changes_not_at_all() -> None:
    folder = view(1, 2)
    changes = FolderChanges(3, 3, (meta(1, 3, "\\Seen"),), (), 7)
    assert folder.sync(changes, allow_expunge=True, with_modseq=True) == [
        b"* 1 FETCH (UID 1 MODSEQ (3) FLAGS (\\Seen))\r\n"
    ]
    assert folder.sync(changes, allow_expunge=True, with_modseq=True) == []
    folder.update([meta(2, 4, "\\Flagged")])
    assert folder.sync(FolderChanges(4, 3, (meta(2, 4, "\\Flagged"),), (), 7), True, True) == []


@given(st.sets(st.integers(1, 300), min_size=1), st.data())
def test_removed_messages_leave_the_rest_numbered_in_order(uids: set[int], data: st.DataObject) -> None:
    """A few expunges are taken out one by one, many in one pass: the same numbers either way."""
    folder = view(*sorted(uids))
    ordered = sorted(uids)
    some = st.sets(st.sampled_from(ordered) | st.integers(301, 310))
    every_few = st.integers(1, 3).map(lambda step: set(ordered[::step]))
    gone = data.draw(some | every_few)

    numbers = folder.remove(gone)

    expected = sorted((ordered.index(uid) + 1 for uid in gone if uid in uids), reverse=True)
    assert numbers == expected
    assert folder.uids == [uid for uid in ordered if uid not in gone]
    assert set(folder.metas) == set(folder.uids)
    assert folder.recent == set()
