"""The process's memory of opened folders, as Dovecot keeps an index: SELECT reads only what changed.

A `FolderSnapshot` is a folder's messages (uid, modseq, flags, internal date, size) as one read saw
them at the folder's HIGHESTMODSEQ M. Every change to a folder's messages raises its HIGHESTMODSEQ
under the folder's row lock and gives the changed messages (or, for messages that went, their rows in
`expunged_messages`, kept while the folder lives) the new modseq, so modseqs rise in commit order:
the snapshot and the changes after M are the folder as it is now, exactly. A folder deleted and
created again has a new id or a higher UIDVALIDITY, so an old snapshot is never taken for it.

`FolderSnapshots` keeps the last snapshot of each folder for the whole process, shared by every
session (snapshots are never changed once made; `MessageMeta`s are tuples whose flags are
frozensets), and bounded by the number of messages held, least recently used first out. It learns
only from what was read from the database, never from what this process wrote, so any number of
processes may share one database.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter

from mailservice.domain.mail_session import MessageMeta
from mailservice.domain.messages import DELETED, SEEN, keywords_in

DEFAULT_CAPACITY = 100_000
"""Messages held in all snapshots together (about 25 MB): many folders of thousands of messages."""

_UID = itemgetter(0)


@dataclass(frozen=True, slots=True)
class FolderSnapshot:
    """One folder's messages at `highestmodseq`, by uid in ascending order, with the counts SELECT and
    STATUS report and the keywords its messages have. Shared by every session that opens the folder:
    nothing in it is changed once it is made. A session copies `messages` and `uids` at C speed, and
    bringing a snapshot up to date costs what changed, not what the folder holds (but for those copies):
    in a folder of thousands of messages, building them anew was most of a SELECT's CPU."""

    mailbox_id: str
    folder_id: int
    uidvalidity: int
    highestmodseq: int
    messages: dict[int, MessageMeta]
    uids: list[int]
    unseen: int
    size: int
    deleted: int
    flag_sets: dict[frozenset[str], int]
    """How many messages have each set of flags (a folder's messages share few)."""
    epoch: int = 0
    """`FolderSnapshots.epoch` when the folder was read whole: a snapshot brought up to date from one
    read before the snapshots were cleared is not kept."""

    @classmethod
    def of(
        cls,
        mailbox_id: str,
        folder_id: int,
        uidvalidity: int,
        highestmodseq: int,
        messages: Iterable[MessageMeta],
        epoch: int = 0,
    ) -> FolderSnapshot:
        """`messages` ascending by uid."""
        by_uid = {meta.uid: meta for meta in messages}
        tally = _Tally(0, 0, 0, {})
        tally.add(by_uid.values())
        return cls._made(mailbox_id, folder_id, uidvalidity, highestmodseq, by_uid, tally, epoch)

    @classmethod
    def _made(
        cls,
        mailbox_id: str,
        folder_id: int,
        uidvalidity: int,
        highestmodseq: int,
        by_uid: dict[int, MessageMeta],
        tally: _Tally,
        epoch: int,
    ) -> FolderSnapshot:
        return cls(
            mailbox_id,
            folder_id,
            uidvalidity,
            highestmodseq,
            by_uid,
            list(by_uid),
            tally.unseen,
            tally.size,
            tally.deleted,
            {flags: count for flags, count in tally.flag_sets.items() if count},
            epoch,
        )

    def advanced(
        self, highestmodseq: int, changed: Sequence[MessageMeta], expunged: Collection[int]
    ) -> FolderSnapshot:
        """This folder at `highestmodseq`, from the messages changed (new or re-flagged) and the uids
        expunged after this snapshot's modseq (a uid changed twice: the last change)."""
        if not changed and not expunged:
            return self if highestmodseq == self.highestmodseq else replace(self, highestmodseq=highestmodseq)
        changed = list({meta.uid: meta for meta in changed}.values())
        by_uid = dict(self.messages)
        tally = _Tally(self.unseen, self.size, self.deleted, dict(self.flag_sets))
        tally.remove(meta for uid in expunged if (meta := by_uid.pop(uid, None)) is not None)
        known = [meta for meta in changed if meta.uid in by_uid]
        new = sorted((meta for meta in changed if meta.uid not in by_uid), key=_UID)
        tally.remove(by_uid[meta.uid] for meta in known)
        tally.add(changed)
        # New messages have uids above every visible one, so they go last; the check keeps a
        # snapshot in uid order even if one did not.
        in_order = not new or not by_uid or new[0].uid > next(reversed(by_uid))
        by_uid.update((meta.uid, meta) for meta in known)  # a known uid keeps its place
        by_uid.update((meta.uid, meta) for meta in new)
        if not in_order:
            by_uid = dict(sorted(by_uid.items()))
        return FolderSnapshot._made(
            self.mailbox_id, self.folder_id, self.uidvalidity, highestmodseq, by_uid, tally, self.epoch
        )

    @property
    def keywords(self) -> frozenset[str]:
        """Every keyword the folder's messages have."""
        return keywords_in(self.flag_sets)

    def recent_above(self, recent_uid: int) -> int:
        """How many messages have a uid above the folder's recent mark."""
        return len(self.uids) - bisect_right(self.uids, recent_uid)

    def supersedes(self, other: FolderSnapshot) -> bool:
        """Newer than `other`, a snapshot of the same folder id: a later folder or a later modseq."""
        return (self.uidvalidity, self.highestmodseq) >= (other.uidvalidity, other.highestmodseq)


@dataclass(slots=True)
class _Tally:
    """A snapshot's counts, kept as messages come and go."""

    unseen: int
    size: int
    deleted: int
    flag_sets: dict[frozenset[str], int]

    def add(self, metas: Iterable[MessageMeta], sign: int = 1) -> None:
        for meta in metas:
            flags = meta.flags
            self.unseen += sign * (SEEN not in flags)
            self.size += sign * meta.size
            self.deleted += sign * (DELETED in flags)
            self.flag_sets[flags] = self.flag_sets.get(flags, 0) + sign

    def remove(self, metas: Iterable[MessageMeta]) -> None:
        self.add(metas, -1)


class FolderSnapshots:
    """The last snapshot of each folder, by (mailbox, folder id), at most `capacity` messages in all.

    Thread-safe: on SQLite the reads that use it run in reader threads."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, int], FolderSnapshot] = OrderedDict()
        self._named: dict[tuple[str, str], tuple[str, int]] = {}
        """(mailbox, folder name) -> the key of the folder last kept under that name."""
        self._name_of: dict[tuple[str, int], str] = {}
        self._held = 0
        self._whole_reads = 0
        self._epoch = 0
        self._lock = threading.Lock()

    @property
    def epoch(self) -> int:
        """How many times the snapshots were cleared: a whole read is made with it (`FolderSnapshot.of`)."""
        return self._epoch

    @property
    def largest_kept(self) -> int:
        """The most messages a folder may hold and still be kept."""
        return self._capacity - 1

    def find(self, mailbox_id: str, folder_id: int, uidvalidity: int) -> FolderSnapshot | None:
        """The snapshot kept of this folder, if it is the same folder (not one deleted before it)."""
        key = (mailbox_id, folder_id)
        with self._lock:
            found = self._entries.get(key)
            if found is None or found.uidvalidity != uidvalidity:
                return None
            self._entries.move_to_end(key)
            return found

    def find_named(self, mailbox_id: str, name: str) -> FolderSnapshot | None:
        """The snapshot kept of the folder last kept under `name`: a guess, since folders are renamed,
        deleted and made again; the caller checks it against the folder's row."""
        with self._lock:
            key = self._named.get((mailbox_id, name))
            found = None if key is None else self._entries.get(key)
            if found is not None:
                self._entries.move_to_end((mailbox_id, found.folder_id))
            return found

    def keep(self, snapshot: FolderSnapshot, read_whole: bool = False, name: str | None = None) -> None:
        """Remember `snapshot` unless a newer one of the folder is kept; a folder too large to hold is
        not kept, nor one that comes from before the snapshots were last cleared. `read_whole`: the
        snapshot was read whole, not brought up to date from a kept one; `name`: the folder's name as it
        was read with it."""
        key = (snapshot.mailbox_id, snapshot.folder_id)
        size = _weight(snapshot)
        with self._lock:
            if snapshot.epoch != self._epoch:
                return
            self._whole_reads += read_whole
            kept = self._entries.get(key)
            if kept is not None:
                if kept is snapshot or not snapshot.supersedes(kept):
                    if kept is snapshot and name is not None:  # the same folder, read under this name now
                        self._name(key, name)
                    self._entries.move_to_end(key)
                    return
                del self._entries[key]
                self._held -= _weight(kept)
            if size > self._capacity:
                self._forget_name(key)
                return
            self._entries[key] = snapshot
            self._held += size
            if name is not None:
                self._name(key, name)
            while self._held > self._capacity:
                evicted_key, evicted = self._entries.popitem(last=False)
                self._held -= _weight(evicted)
                self._forget_name(evicted_key)

    def clear(self) -> None:
        """Forget every snapshot: what they were read from may be gone. A snapshot brought up to date
        from one of them by a read under way is not kept either."""
        with self._lock:
            self._epoch += 1
            self._entries.clear()
            self._named.clear()
            self._name_of.clear()
            self._held = 0

    def forget_name(self, mailbox_id: str, name: str) -> None:
        """`name` no longer leads to the snapshot last kept under it (the caller found another folder
        by that name, or none)."""
        with self._lock:
            key = self._named.pop((mailbox_id, name), None)
            if key is not None and self._name_of.get(key) == name:
                del self._name_of[key]

    def _name(self, key: tuple[str, int], name: str) -> None:
        if self._name_of.get(key) != name:
            self._forget_name(key)
            self._named[(key[0], name)] = key
            self._name_of[key] = name

    def _forget_name(self, key: tuple[str, int]) -> None:
        name = self._name_of.pop(key, None)
        if name is not None and self._named.get((key[0], name)) == key:
            del self._named[(key[0], name)]

    def whole_reads(self) -> int:
        """How many folders were read whole (the others were brought up to date from a snapshot)."""
        with self._lock:
            return self._whole_reads

    def messages_held(self) -> int:
        with self._lock:
            return self._held

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _weight(snapshot: FolderSnapshot) -> int:
    return len(snapshot.messages) + 1
