"""A folder's snapshot brought up to date from its changes, and the process's bounded set of them."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from mailservice.adapters.db.folder_reads import flag_set, stored_utc
from mailservice.adapters.db.folder_snapshots import FolderSnapshot, FolderSnapshots
from mailservice.domain.mail_session import MessageMeta

SEEN = frozenset({"\\Seen"})
NONE: frozenset[str] = frozenset()
WHEN = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def meta(uid: int, modseq: int = 1, flags: frozenset[str] = NONE, size: int = 100) -> MessageMeta:
    return MessageMeta(uid, modseq, flags, WHEN, size)


def snapshot(
    *messages: MessageMeta, modseq: int = 5, folder_id: int = 1, uidvalidity: int = 10
) -> FolderSnapshot:
    return FolderSnapshot.of("mailbox", folder_id, uidvalidity, modseq, messages)


def test_a_snapshot_counts_unseen_messages_size_and_recent_ones() -> None:
    folder = snapshot(meta(1, flags=SEEN, size=10), meta(2, size=20), meta(5, size=30))

    assert (folder.unseen, folder.size) == (2, 60)
    assert [folder.recent_above(mark) for mark in (0, 1, 2, 4, 5, 9)] == [3, 2, 1, 1, 0, 0]


def test_advancing_applies_new_reflagged_and_expunged_messages_in_uid_order() -> None:
    folder = snapshot(meta(1), meta(2), meta(3, flags=SEEN))

    later = folder.advanced(8, [meta(4, 7), meta(2, 8, SEEN)], [3, 9])

    assert later.highestmodseq == 8
    assert list(later.messages.values()) == [meta(1), meta(2, 8, SEEN), meta(4, 7)]
    assert later.uids == [1, 2, 4]
    assert (later.unseen, later.size) == (2, 300)
    assert later.messages[1] is folder.messages[1]
    assert list(folder.messages.values()) == [meta(1), meta(2), meta(3, flags=SEEN)]


def test_advancing_with_no_change_keeps_the_same_messages() -> None:
    folder = snapshot(meta(1), meta(2))

    assert folder.advanced(5, [], []) is folder
    assert folder.advanced(6, [], []).messages is folder.messages


LABEL = frozenset({"$Label1"})
JUNK = frozenset({"$Junk", "\\Deleted"})
flag_sets = st.sampled_from([NONE, SEEN, LABEL, JUNK, SEEN | LABEL])
metas = st.builds(meta, st.integers(1, 40), st.integers(1, 9), flag_sets, st.integers(0, 500))


@given(st.lists(metas), st.lists(metas), st.sets(st.integers(1, 45)))
def test_a_snapshot_brought_up_to_date_is_the_one_read_whole(
    first: list[MessageMeta], changed: list[MessageMeta], expunged: set[int]
) -> None:
    """Counts, keywords and uid order kept by `advanced` from what changed are those of the folder
    read whole, whatever the uids that changed (a new one below a known one, one changed twice)."""
    before = snapshot(*sorted({m.uid: m for m in first}.values(), key=lambda m: m.uid))
    changes = [m for m in changed if m.uid not in expunged]
    later = before.advanced(9, changes, expunged)

    result = {uid: m for uid, m in before.messages.items() if uid not in expunged}
    result.update((m.uid, m) for m in changes)
    whole = snapshot(*(result[uid] for uid in sorted(result)), modseq=9)
    assert list(later.messages.items()) == list(whole.messages.items())
    assert later.uids == whole.uids == sorted(result)
    assert (later.unseen, later.size, later.deleted) == (whole.unseen, whole.size, whole.deleted)
    assert later.flag_sets == whole.flag_sets
    assert later.keywords == whole.keywords == {f for m in result.values() for f in m.flags if f[0] != "\\"}


def test_keywords_no_message_has_any_more_are_not_the_folder_s() -> None:
    folder = snapshot(meta(1, flags=LABEL), meta(2, flags=JUNK))

    assert folder.keywords == {"$Label1", "$Junk"}
    assert folder.advanced(6, [meta(1, 6)], [2]).keywords == frozenset()


def test_a_kept_snapshot_is_found_only_for_the_same_folder() -> None:
    kept = FolderSnapshots()
    folder = snapshot(meta(1))
    kept.keep(folder)

    assert kept.find("mailbox", 1, 10) is folder
    assert kept.find("mailbox", 1, 11) is None  # deleted and created again with the same id
    assert kept.find("other mailbox", 1, 10) is None
    assert kept.find("mailbox", 2, 10) is None


def test_an_older_snapshot_never_replaces_a_newer_one() -> None:
    kept = FolderSnapshots()
    newer = snapshot(meta(1), modseq=9)
    kept.keep(newer)

    kept.keep(snapshot(modseq=8))
    assert kept.find("mailbox", 1, 10) is newer

    recreated = snapshot(modseq=1, uidvalidity=11)
    kept.keep(recreated)
    assert kept.find("mailbox", 1, 11) is recreated


def test_the_least_recently_used_snapshots_go_first_when_the_capacity_is_reached() -> None:
    kept = FolderSnapshots(capacity=8)
    for folder_id in (1, 2):
        kept.keep(snapshot(meta(1), meta(2), folder_id=folder_id))
    assert kept.find("mailbox", 1, 10) is not None

    kept.keep(snapshot(meta(1), meta(2), folder_id=3))

    assert kept.find("mailbox", 2, 10) is None
    assert kept.find("mailbox", 1, 10) is not None
    assert kept.find("mailbox", 3, 10) is not None
    assert (len(kept), kept.messages_held()) == (2, 6)


def test_a_folder_larger_than_the_capacity_is_not_kept() -> None:
    kept = FolderSnapshots(capacity=2)
    kept.keep(snapshot(meta(1)))

    kept.keep(snapshot(meta(1), meta(2), meta(3), modseq=6))

    assert kept.find("mailbox", 1, 10) is None
    assert (len(kept), kept.messages_held()) == (0, 0)


def test_whole_reads_are_counted() -> None:
    kept = FolderSnapshots()
    kept.keep(snapshot(meta(1)), read_whole=True)
    kept.keep(snapshot(meta(1), modseq=6))

    assert kept.whole_reads() == 1


def test_stored_dates_read_from_either_driver_are_aware_utc() -> None:
    assert stored_utc("2026-12-06 08:00:00.000000") == WHEN
    assert stored_utc("2026-12-06 08:00:00.000000").tzinfo is UTC
    assert stored_utc(WHEN) is WHEN
    assert stored_utc(datetime(2026, 12, 6, 8, 0)) == WHEN
    assert stored_utc(datetime.fromisoformat("2026-12-06T09:00:00+01:00")).tzinfo is UTC


def test_the_same_flags_text_gives_one_shared_set() -> None:
    assert flag_set("\\Seen $Label1") == frozenset({"\\Seen", "$Label1"})
    assert flag_set("\\Seen $Label1") is flag_set("\\Seen $Label1")
    assert flag_set("") == frozenset()


def test_a_snapshot_is_found_by_the_name_it_was_last_kept_under() -> None:
    kept = FolderSnapshots(capacity=4)
    inbox, other = snapshot(meta(1), folder_id=1), snapshot(meta(1), folder_id=2)
    kept.keep(inbox, name="INBOX")
    kept.keep(other, name="Other")

    assert kept.find_named("mailbox", "INBOX") is inbox
    assert kept.find_named("other mailbox", "INBOX") is None

    kept.keep(inbox.advanced(6, [meta(2, 6)], []), name="Renamed")  # INBOX renamed, then its next read
    assert kept.find_named("mailbox", "INBOX") is None
    assert kept.find_named("mailbox", "Renamed") is not None

    kept.keep(snapshot(meta(1), meta(2), folder_id=3), name="Third")  # Other is evicted
    assert kept.find_named("mailbox", "Other") is None
    assert kept.find_named("mailbox", "Third") is not None


def test_an_older_snapshot_or_one_too_large_leaves_no_name_to_the_wrong_folder() -> None:
    kept = FolderSnapshots(capacity=3)
    newer = snapshot(meta(1), modseq=9)
    kept.keep(newer, name="Renamed")

    kept.keep(snapshot(meta(1), modseq=8), name="Old name")  # read before the rename, kept after it
    assert kept.find_named("mailbox", "Renamed") is newer
    assert kept.find_named("mailbox", "Old name") is None

    kept.keep(snapshot(meta(1), meta(2), meta(3), modseq=10), name="Renamed")  # grew past the capacity
    assert kept.find_named("mailbox", "Renamed") is None

    kept.keep(newer, name="Renamed")
    kept.forget_name("mailbox", "Renamed")
    assert kept.find_named("mailbox", "Renamed") is None


def test_cleared_snapshots_are_gone_and_none_brought_up_to_date_from_them_is_kept() -> None:
    kept = FolderSnapshots()
    kept.keep(snapshot(meta(1)), read_whole=True, name="INBOX")
    found = kept.find_named("mailbox", "INBOX")  # a read under way found it ...
    assert found is not None

    kept.clear()  # ... when the node may have missed events
    kept.keep(found.advanced(6, [meta(2, 6)], []), name="INBOX")

    assert (len(kept), kept.find_named("mailbox", "INBOX"), kept.messages_held()) == (0, None, 0)
    read_again = FolderSnapshot.of("mailbox", 1, 10, 6, [meta(1), meta(2, 6)], kept.epoch)
    kept.keep(read_again, read_whole=True, name="INBOX")
    assert kept.find_named("mailbox", "INBOX") is read_again
