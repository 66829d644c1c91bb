"""The POP3 maildrop: numbers from 1 in uid order, DELE marks, RSET unmarks, STAT counts the rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.domain.mail_session import FolderStatus, MessageMeta, OpenedFolder
from mailservice.protocols.pop3.maildrop import Maildrop, NoSuchMessage

WHEN = datetime(2026, 2, 2, tzinfo=UTC)


def opened(sizes: list[int], seen: frozenset[int] = frozenset()) -> OpenedFolder:
    messages = tuple(
        MessageMeta(uid, 1, frozenset({"\\Seen"}) if uid in seen else frozenset(), WHEN, size)
        for uid, size in zip(range(3, 3 + 2 * len(sizes), 2), sizes, strict=True)
    )
    status = FolderStatus(7, "INBOX", 1234, 99, 5, len(sizes), 0, sum(sizes))
    return OpenedFolder.of(status, messages)


def test_messages_are_numbered_from_one_with_their_unique_ids() -> None:
    maildrop = Maildrop.of(opened([10, 20], seen=frozenset({5})))
    first, second = maildrop.entries
    assert (first.number, first.uid, first.size, first.seen) == (1, 3, 10, False)
    assert (second.number, second.uid, second.seen) == (2, 5, True)
    assert maildrop.unique_id(second) == "1234.5"
    assert maildrop.folder_id == 7


def test_a_deleted_or_missing_message_is_no_such_message() -> None:
    maildrop = Maildrop.of(opened([10, 20]))
    maildrop.mark_deleted(1)
    with pytest.raises(NoSuchMessage, match="Message 1 is deleted"):
        maildrop.get(1)
    with pytest.raises(NoSuchMessage, match="no message 3"):
        maildrop.get(3)
    with pytest.raises(NoSuchMessage):
        maildrop.mark_deleted(1)


operations = st.lists(st.tuples(st.sampled_from(["DELE", "RSET"]), st.integers(min_value=0, max_value=12)))


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=10), operations)
def test_stat_and_marks_follow_every_dele_and_rset(sizes: list[int], ops: list[tuple[str, int]]) -> None:
    maildrop = Maildrop.of(opened(sizes))
    deleted: set[int] = set()
    for name, number in ops:
        if name == "RSET":
            maildrop.reset()
            deleted.clear()
        elif 1 <= number <= len(sizes) and number not in deleted:
            maildrop.mark_deleted(number)
            deleted.add(number)
        else:
            with pytest.raises(NoSuchMessage):
                maildrop.mark_deleted(number)
    kept = [n for n in range(1, len(sizes) + 1) if n not in deleted]
    assert maildrop.stat() == (len(kept), sum(sizes[n - 1] for n in kept))
    assert [entry.number for entry in maildrop.present()] == kept
    assert maildrop.marked() == [maildrop.entries[n - 1].uid for n in sorted(deleted)]
