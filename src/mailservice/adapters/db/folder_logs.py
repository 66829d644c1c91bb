"""PostgreSQL: what the node knows of its folders' changes, kept, so that most commands tell their
updates without a read.

Every IMAP command ends by telling the session what changed in its folder since it last looked, and on
PostgreSQL a read is a round trip that waits for a core on both sides. So the node keeps, for each
folder its sessions read, the changes after some modseq (`base`), complete up to `high`:

- from the folder's last shared read (`SharedChangeReads`), merged into what was kept;
- extended by the node's own writes whose changes it knows (a STORE's flags, an EXPUNGE's uids, an
  APPEND's message, a COPY's), each applied once every modseq below it is: every change to a folder raises its
  HIGHESTMODSEQ by one, so a write that took `high + 1` shows that nothing came between.

It also hears of every change, wherever it was made: a write of its own whose changes it does not keep
(MOVE, a STORE of several rounds) at once, and every other through the event bus (`MessageReceived` and `FolderChanged`
carry the folder's new modseq). While nothing heard lies beyond `high`, a session asking since a modseq
between `base` and `high` is answered from memory with exactly what a read at `high` would have found.
Otherwise it reads, and the read is kept.

A change made elsewhere (another node, SMTP, the HTTP API) is heard a moment after its commit, when its
notification arrives, so a command may tell it one command later than a read would have: IMAP lets a
server tell updates when it sees them. A poll (NOOP, CHECK, IDLE) always reads, and so sees everything
committed before it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mailservice.adapters.db.folder_reads import changes_of_rows, expunged_modseqs
from mailservice.domain.errors import FolderNotFound
from mailservice.domain.mail_session import FolderChanges, MessageMeta
from mailservice.domain.messages import FolderChanged, MailboxEvent, MessageReceived

FolderKey = tuple[str, int]
"""(mailbox id, folder id)."""

FOLDERS_KEPT = 4096
"""Folders whose changes the node keeps; the one asked least recently is dropped for a new one."""
ENTRIES_KEPT = 4096
"""Changes kept per folder (with those a later change of the same message replaced); past this, the
older half is dropped, and a session asking since before what is left reads."""
ENTRIES_KEPT_IN_ALL = 1 << 18
"""Changes kept in all folders together (some 100 bytes each); past this, the folders asked least
recently are dropped."""
WRITES_WAITING = 64
"""Own writes kept while one below them is missing; past this they are dropped (a read follows)."""


@dataclass(frozen=True)
class KnownWrite:
    """A write of the node whose changes it knows: every message it changed took `modseq`."""

    modseq: int
    changed: tuple[MessageMeta, ...] = ()
    expunged: tuple[tuple[int, frozenset[str]], ...] = ()
    """(uid, flags it was removed with)."""
    uidnext: int = 0
    """The folder's UIDNEXT after it, when it added messages."""


@dataclass(eq=False)
class _Log:
    heard: int = 0
    ready: bool = False
    """Whether a read has filled it (until then, only what is heard and the writes waiting count)."""
    base: int = 0
    high: int = 0
    uidnext: int = 0
    uidvalidity: int = 0
    recent_uid: int = 0
    changed: dict[int, MessageMeta] = field(default_factory=dict)
    expunged: dict[int, tuple[int, frozenset[str] | None]] = field(default_factory=dict)
    """uid -> (modseq of its expunge, the flags it was removed with when known)."""
    order: list[tuple[int, int]] = field(default_factory=list)
    """(modseq, uid) of every change kept, ascending; one that a later change replaced is skipped."""
    waiting: dict[int, KnownWrite] = field(default_factory=dict)

    def fresh_for(self, since: int) -> bool:
        return self.ready and self.heard <= self.high and self.base <= since <= self.high

    def since(self, since: int) -> FolderChanges:
        changed: list[MessageMeta] = []
        gone: list[tuple[int, frozenset[str] | None]] = []
        for modseq, uid in self.order[bisect_right(self.order, (since, _ANY_UID)) :]:
            meta = self.changed.get(uid)
            if meta is not None and meta.modseq == modseq:
                changed.append(meta)
                continue
            expunge = self.expunged.get(uid)
            if expunge is not None and expunge[0] == modseq:
                gone.append((uid, expunge[1]))
        gone.sort(key=lambda entry: entry[0])
        return FolderChanges(
            highestmodseq=self.high,
            uidnext=self.uidnext,
            changed=tuple(sorted(changed, key=lambda meta: meta.uid)),
            expunged=tuple(uid for uid, _ in gone),
            uidvalidity=self.uidvalidity,
            recent_uid=self.recent_uid,
            last_flags=tuple((uid, flags) for uid, flags in gone if flags is not None),
        )

    def take_read(self, since: int, rows: Sequence[Any]) -> None:
        """A read's rows, since `since`: merged into what is kept when that covers up to `since` (what
        the read tells replaces what is kept of the same messages), else kept alone."""
        changes = changes_of_rows(rows)
        since = min(since, changes.highestmodseq)  # a client's modseq may lie beyond the folder's
        if self.ready and changes.highestmodseq <= self.high:
            return  # began before something already kept
        if self.ready and self.base <= since <= self.high:
            # The read tells every change after `since`: what is kept after it goes. A change kept
            # before it that the read replaces stays in `order`, skipped as replaced (as `_apply`'s).
            self._forget_after(since)
        else:
            self.base = since
            self.changed, self.expunged, self.order = {}, {}, []
        last_flags = dict(changes.last_flags)
        read: list[tuple[int, int]] = []
        for uid, modseq in expunged_modseqs(rows).items():
            self.changed.pop(uid, None)
            self.expunged[uid] = (modseq, last_flags.get(uid))
            read.append((modseq, uid))
        for meta in changes.changed:
            self.changed[meta.uid] = meta
            read.append((meta.modseq, meta.uid))
        self._extend_order(sorted(read))
        self.high = changes.highestmodseq
        self.heard = max(self.heard, self.high)
        self.uidnext = changes.uidnext
        self.uidvalidity = changes.uidvalidity
        self.recent_uid = max(self.recent_uid, changes.recent_uid)  # a mark only rises
        self.ready = True
        if len(self.order) > max(ENTRIES_KEPT, 2 * (len(self.changed) + len(self.expunged))):
            self._reorder()  # mostly changes replaced since: dropped, and no live one with them
        self.apply_waiting()

    def wait_or_apply(self, write: KnownWrite) -> None:
        self.heard = max(self.heard, write.modseq)
        if self.ready and write.modseq <= self.high:
            return
        if len(self.waiting) >= WRITES_WAITING:
            self.waiting.clear()
        self.waiting[write.modseq] = write
        self.apply_waiting()

    def apply_waiting(self) -> None:
        if not self.ready:
            return
        while (write := self.waiting.pop(self.high + 1, None)) is not None:
            self._apply(write)
        for modseq in [modseq for modseq in self.waiting if modseq <= self.high]:
            del self.waiting[modseq]

    def _apply(self, write: KnownWrite) -> None:
        for meta in write.changed:
            self.changed[meta.uid] = meta
            self.order.append((write.modseq, meta.uid))
        for uid, flags in write.expunged:
            self.changed.pop(uid, None)
            self.expunged[uid] = (write.modseq, flags)
            self.order.append((write.modseq, uid))
        self.high = write.modseq
        self.uidnext = max(self.uidnext, write.uidnext)
        if len(self.order) > ENTRIES_KEPT:
            self._drop_older_half()

    def _drop_older_half(self) -> None:
        self._reorder()  # changes replaced by later ones first
        if len(self.order) <= ENTRIES_KEPT // 2:
            return
        self.base = max(self.base, self.order[len(self.order) // 2][0])
        self.changed = {uid: meta for uid, meta in self.changed.items() if meta.modseq > self.base}
        self.expunged = {uid: gone for uid, gone in self.expunged.items() if gone[0] > self.base}
        self._reorder()

    def _forget_after(self, since: int) -> None:
        cut = bisect_right(self.order, (since, _ANY_UID))
        for modseq, uid in self.order[cut:]:
            meta = self.changed.get(uid)
            if meta is not None and meta.modseq == modseq:
                del self.changed[uid]
            elif (gone := self.expunged.get(uid)) is not None and gone[0] == modseq:
                del self.expunged[uid]
        del self.order[cut:]

    def _extend_order(self, after: list[tuple[int, int]]) -> None:
        """Add changes, ascending, that come after every one kept (each read's are, so a read costs
        what it tells, not a sort of everything kept); else sort again."""
        if after and self.order and after[0] <= self.order[-1]:
            self.order.extend(after)
            self._reorder()
        else:
            self.order.extend(after)

    def _reorder(self) -> None:
        self.order = sorted(
            [(meta.modseq, uid) for uid, meta in self.changed.items()]
            + [(gone[0], uid) for uid, gone in self.expunged.items()]
        )


_ANY_UID = 1 << 63
"""Above every uid: `bisect_right` past every change of a modseq."""


class FolderLogs:
    """What the node knows of the changes of the folders its sessions read (see the module's text)."""

    def __init__(self, listening: Callable[[], bool] = lambda: True) -> None:
        """`listening`: whether the node hears every event now; while it does not, nothing is answered."""
        self._logs: OrderedDict[FolderKey, _Log] = OrderedDict()
        self._listening = listening
        self._entries = 0
        """Changes kept in all folders (`_Log.order`, which counts every one of them)."""

    def changes(self, key: FolderKey, since_modseq: int) -> FolderChanges | None:
        """The changes since `since_modseq`, when what is kept answers for them; None: read."""
        log = self._logs.get(key)
        if log is None or not log.fresh_for(since_modseq) or not self._listening():
            return None
        self._logs.move_to_end(key)
        return log.since(since_modseq)

    def answers(self, key: FolderKey, since_modseq: int) -> bool:
        """Whether `changes(key, since_modseq)` would answer now (without building the answer)."""
        log = self._logs.get(key)
        return log is not None and log.fresh_for(since_modseq) and self._listening()

    def reading(self, key: FolderKey) -> object:
        """A read of the folder begins: from now on what is heard of it counts. Its token, for `read`."""
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = _Log()
            if len(self._logs) > FOLDERS_KEPT:
                self._drop_least_recent()
        self._logs.move_to_end(key)
        return log

    def read(self, key: FolderKey, token: object, since_modseq: int, rows: Sequence[Any]) -> None:
        """The rows of a read that began at `reading(key)` (`token`), since `since_modseq`. A folder
        forgotten meanwhile (dropped, deleted, or its events missed) is not kept again from a read that
        began before: what it missed could be lost."""
        log = self._logs.get(key)
        if log is None or log is not token:
            return
        kept = len(log.order)
        try:
            log.take_read(since_modseq, rows)
        except FolderNotFound:
            self.forget(key)
            return
        self._resized(log, kept)

    def wrote(self, key: FolderKey, write: KnownWrite) -> None:
        """A write of this node, committed, whose changes are known."""
        log = self._logs.get(key)
        if log is not None:
            kept = len(log.order)
            log.wait_or_apply(write)
            self._resized(log, kept)

    def raised(self, key: FolderKey, modseq: int) -> None:
        """A change committed, anywhere, took the folder to `modseq`."""
        log = self._logs.get(key)
        if log is not None:
            log.heard = max(log.heard, modseq)

    def heard(self, event: MailboxEvent) -> None:
        """The event bus's (`EventWatcher`): every event this node hears, its own included."""
        if isinstance(event, MessageReceived | FolderChanged):
            self.raised((event.mailbox_id, event.folder_id), event.modseq)

    def missed(self) -> None:
        """The event bus's: events may have been missed, so nothing kept can be vouched for."""
        self._logs.clear()
        self._entries = 0

    def claimed(self, key: FolderKey, recent_uid: int) -> None:
        """The folder's recent mark is at least `recent_uid` (a claim of this node)."""
        log = self._logs.get(key)
        if log is not None:
            log.recent_uid = max(log.recent_uid, recent_uid)

    def forget_mailbox(self, mailbox_id: str) -> None:
        for key in [key for key in self._logs if key[0] == mailbox_id]:
            self.forget(key)

    def forget(self, key: FolderKey) -> None:
        log = self._logs.pop(key, None)
        if log is not None:
            self._entries -= len(log.order)

    def _resized(self, log: _Log, kept_before: int) -> None:
        self._entries += len(log.order) - kept_before
        while self._entries > ENTRIES_KEPT_IN_ALL and self._logs:
            self._drop_least_recent()

    def _drop_least_recent(self) -> None:
        _, log = self._logs.popitem(last=False)
        self._entries -= len(log.order)
