"""The selected folder as this connection's client knows it: sequence numbers, uids, flags, modseqs.

Changes made elsewhere (`MailSession.changes`) are folded in by `sync`, which returns the untagged
responses that tell the client. Expunges can be held back (RFC 3501 section 7.4.1: never during
FETCH, STORE or SEARCH); held-back messages keep their sequence numbers until they are announced, with
the flags they were expunged with. `refresh_flags` takes in other sessions' flag changes before a
FETCH shows them, to be announced after it (SEARCH sees what was last announced, as in Dovecot).

\\Recent is this connection's own: the messages in `recent` show it in their flags here only (see
recent.py for who gets them).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mailservice.domain.mail_session import FlagChange, FolderChanges, MessageMeta, OpenedFolder
from mailservice.domain.messages import SortKeys, keywords_in
from mailservice.protocols.imap.flag_text import SYSTEM_FLAGS, flags_text, stored_flags_text
from mailservice.protocols.imap.recent import RECENT_FLAG
from mailservice.protocols.imap.replies import bad
from mailservice.protocols.imap.sequence_set import SequenceSet, uid_set_text

_REMOVED_ONE_BY_ONE = 64
"""Up to this many expunged messages are taken out of the uid list one at a time."""


@dataclass
class FolderView:
    folder_id: int
    name: str
    read_only: bool
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    uids: list[int]
    metas: dict[int, MessageMeta]
    gone: set[int] = field(default_factory=set)
    """Expunged elsewhere, not yet announced."""
    keywords: set[str] = field(default_factory=set)
    """The keywords the client has been told of in FLAGS and PERMANENTFLAGS."""
    recent: set[int] = field(default_factory=set)
    """The messages that are \\Recent to this connection."""
    unannounced: set[int] = field(default_factory=set)
    """Messages whose new flags `refresh_flags` took in and the client has not been told of."""
    stored_here: set[int] = field(default_factory=set)
    """Messages this connection's STORE changed only in the view (expunged elsewhere): their flags
    stay as shown until their EXPUNGE."""
    saved: set[int] = field(default_factory=set)
    """The uids of the last saved SEARCH result (`$`, RFC 5182)."""
    sort_keys: dict[int, SortKeys] = field(default_factory=dict)
    """SORT keys already read, by uid: a message's never change (its header does not)."""
    synced_modseq: int = 0
    """HIGHESTMODSEQ as of the last updates that held back no expunge (`updates.highestmodseq_told`)."""
    shown_modseq: int = 0
    """The highest MODSEQ sent in a FETCH line since then."""

    @classmethod
    def of(cls, opened: OpenedFolder, read_only: bool, recent_above: int = 0) -> FolderView:
        """`recent_above`: the messages above this uid are recent to this connection."""
        status = opened.status
        uids = list(opened.by_uid)  # copies, at C speed: a folder may hold thousands
        view = cls(
            folder_id=status.folder_id,
            name=status.name,
            read_only=read_only,
            uidvalidity=status.uidvalidity,
            uidnext=status.uidnext,
            highestmodseq=status.highestmodseq,
            synced_modseq=status.highestmodseq,
            uids=uids,
            metas=dict(opened.by_uid),
            keywords=set(opened.keywords),
            recent=set(uids[bisect_right(uids, recent_above) :]),
        )
        for uid in view.recent:
            view.metas[uid] = view._shown(view.metas[uid])
        return view

    def _shown(self, meta: MessageMeta) -> MessageMeta:
        """The message's flags as this connection shows them: with \\Recent when it is recent here."""
        return meta._replace(flags=meta.flags | RECENT_FLAG) if meta.uid in self.recent else meta

    def flags_responses(self) -> list[bytes]:
        """`* FLAGS` and `* OK [PERMANENTFLAGS]`: the system flags and every keyword told of."""
        known = flags_text((*SYSTEM_FLAGS, *self.keywords))
        permanent = b"" if self.read_only else known + b" \\*"
        return [b"* FLAGS (%s)\r\n" % known, b"* OK [PERMANENTFLAGS (%s)] Flags permitted.\r\n" % permanent]

    def announce_keywords(self, metas: Iterable[MessageMeta]) -> list[bytes]:
        """The flags responses again when `metas` use a keyword the client was not told of: a client
        must hear of a keyword before a FETCH shows it (RFC 3501 section 7.2.6)."""
        return self.announce(_keywords(metas))

    def announce(self, keywords: Iterable[str]) -> list[bytes]:
        """The flags responses again when `keywords` has one the client was not told of."""
        new = set(keywords) - self.keywords
        if not new:
            return []
        self.keywords |= new
        return self.flags_responses()

    @property
    def count(self) -> int:
        return len(self.uids)

    def sequence_number(self, uid: int) -> int:
        return bisect_left(self.uids, uid) + 1

    def select(self, sequence_set: SequenceSet, by_uid: bool) -> list[tuple[int, int]]:
        """(sequence number, uid) of the messages named, ascending. A sequence number beyond the
        folder is a client error (BAD); uids that do not exist are left out."""
        if by_uid or sequence_set.saved:
            return self._numbered(self.uids_named(sequence_set))
        largest = sequence_set.largest_number()
        if self.count == 0 or (largest is not None and largest > self.count):
            raise bad("Error in IMAP command: Invalid messageset")
        uids = self.uids
        return [(number, uids[number - 1]) for number in sequence_set.sequence_numbers(self.count)]

    def _numbered(self, named: list[int]) -> list[tuple[int, int]]:
        """(sequence number, uid) of existing uids, ascending: a run of the folder's uids (as `1:*`
        names) is numbered by counting, any other set by searching each uid."""
        if not named:
            return []
        start = bisect_left(self.uids, named[0])
        if self.uids[start : start + len(named)] == named:
            return list(zip(range(start + 1, start + len(named) + 1), named, strict=True))
        return [(self.sequence_number(uid), uid) for uid in named]

    def uids_named(self, sequence_set: SequenceSet) -> list[int]:
        """The uids a uid set names (`$`: those of the saved result still here), ascending."""
        if sequence_set.saved:
            return sorted(uid for uid in self.saved if uid in self.metas)
        return sequence_set.uids(self.uids)

    def update(self, metas: Sequence[MessageMeta]) -> list[bytes]:
        """Flags this connection changed itself (the client is told by the command's own response,
        after the flags responses returned here for keywords it has not heard of)."""
        for meta in metas:
            if meta.uid in self.metas:
                self.metas[meta.uid] = self._shown(meta)
        return self.announce_keywords(metas)

    def stored(self, uid: int, change: FlagChange, flags: frozenset[str]) -> bool:
        """After this connection's STORE, for a message the store did not update (it had the flags
        already, or another session expunged it: Dovecot shows the change on it until its EXPUNGE):
        its flags with the change applied; True when the client has not seen them."""
        known = self.metas[uid]
        kept = known.flags - RECENT_FLAG
        if change is FlagChange.ADD:
            changed = kept | flags
        elif change is FlagChange.REMOVE:
            changed = kept - flags
        else:
            changed = flags
        shown = self._shown(known._replace(flags=changed))
        if shown.flags == known.flags:
            return uid in self.unannounced
        self.metas[uid] = shown
        self.stored_here.add(uid)
        return True

    def remove(self, uids: Iterable[int]) -> list[int]:
        """Forget expunged messages; the EXPUNGE sequence numbers to send, in sending order."""
        present = sorted((uid for uid in set(uids) if uid in self.metas), reverse=True)
        numbers = [self.sequence_number(uid) for uid in present]
        if present:
            if len(present) <= _REMOVED_ONE_BY_ONE:  # each a move in C, not a pass over every uid
                for number in numbers:  # descending: a removal leaves the numbers below it as they are
                    del self.uids[number - 1]
            else:
                dropped = set(present)
                self.uids = [uid for uid in self.uids if uid not in dropped]
            for uid in present:
                del self.metas[uid]
                self.gone.discard(uid)
                self.recent.discard(uid)
                self.unannounced.discard(uid)
                self.stored_here.discard(uid)
                self.saved.discard(uid)
                self.sort_keys.pop(uid, None)
        return numbers

    def expunge_responses(self, uids: Iterable[int], vanished: bool) -> list[bytes]:
        """Forget expunged messages and say so, then the new RECENT count if it changed."""
        recent = len(self.recent)
        return self._expunge_lines(uids, vanished) + self._recent_count(recent)

    def _expunge_lines(self, uids: Iterable[int], vanished: bool) -> list[bytes]:
        """`* VANISHED uids` once QRESYNC is enabled (RFC 7162 section 3.2.10), else `* n EXPUNGE` each."""
        present = sorted(uid for uid in set(uids) if uid in self.metas)
        numbers = self.remove(present)
        if vanished:
            return [b"* VANISHED %s\r\n" % uid_set_text(present).encode()] if present else []
        return [b"* %d EXPUNGE\r\n" % number for number in numbers]

    def _recent_count(self, before: int) -> list[bytes]:
        return [b"* %d RECENT\r\n" % len(self.recent)] if len(self.recent) != before else []

    def refresh_flags(self, changes: FolderChanges) -> list[bytes]:
        """Take in other sessions' flag changes to messages the client knows: a FETCH then shows them,
        and the next `sync` announces them. New and expunged messages wait for it. Returns the flags
        responses for keywords the client has not heard of."""
        taken = [*changes.changed, *self._expunged_with(changes)]
        for meta in taken:
            known = self.metas.get(meta.uid)
            shown = self._shown(meta)
            if known is not None and known.flags != shown.flags:
                self.metas[meta.uid] = shown  # its modseq too, so that FETCH MODSEQ agrees with FLAGS
                self.unannounced.add(meta.uid)
        return self.announce_keywords(meta for meta in taken if meta.uid in self.metas)

    def _expunged_with(self, changes: FolderChanges) -> list[MessageMeta]:
        """Known messages expunged elsewhere, with the flags they were expunged with."""
        return [
            known._replace(flags=flags)
            for uid, flags in changes.last_flags
            if (known := self.metas.get(uid)) is not None and uid not in self.stored_here
        ]

    def sync(
        self,
        changes: FolderChanges,
        allow_expunge: bool,
        with_modseq: bool,
        recent_above: int | None = None,
        vanished: bool = False,
    ) -> list[bytes]:
        """Fold in what changed elsewhere; the untagged responses that announce it. New messages above
        `recent_above` are recent to this connection (none when it is None); `vanished`: expunges are
        announced as VANISHED (QRESYNC)."""
        recent = len(self.recent)
        if recent_above is not None:
            self.recent.update(
                meta.uid for meta in changes.changed if meta.uid > recent_above and meta.uid not in self.metas
            )
        expunged_with = self._expunged_with(changes)
        # Their keywords too, even when they go now: a command refused before it read the changes (a
        # STORE in a read-only folder, a bad sequence set) shows them, as Dovecot does.
        responses = self.announce_keywords([*changes.changed, *expunged_with])
        if not allow_expunge:  # the client still sees them until their EXPUNGE: with these flags
            responses.extend(self._flag_updates(expunged_with, with_modseq=False))
        self.gone.update(uid for uid in changes.expunged if uid in self.metas)
        if allow_expunge and self.gone:
            responses.extend(self._expunge_lines(list(self.gone), vanished))
        responses.extend(self._flag_updates(changes.changed, with_modseq))
        responses.extend(self._unannounced_updates())
        added = self._add_new(changes.changed)
        if added:
            responses.append(b"* %d EXISTS\r\n" % self.count)
        responses.extend(self._recent_count(recent))
        self.highestmodseq = max(self.highestmodseq, changes.highestmodseq)
        self.uidnext = max(self.uidnext, changes.uidnext)
        return responses

    def _unannounced_updates(self) -> list[bytes]:
        uids, self.unannounced = sorted(self.unannounced), set()
        return [self._flags_line(self.metas[uid], False) for uid in uids if uid in self.metas]

    def _flag_updates(self, changed: Sequence[MessageMeta], with_modseq: bool) -> list[bytes]:
        responses: list[bytes] = []
        for stored in changed:
            known = self.metas.get(stored.uid)
            meta = self._shown(stored)
            if known is None or (known == meta and meta.uid not in self.unannounced):
                continue
            self.metas[meta.uid] = meta
            told = known.flags == meta.flags and meta.uid not in self.unannounced
            self.unannounced.discard(meta.uid)
            if meta.uid in self.gone or (told and not with_modseq):
                continue
            responses.append(self._flags_line(meta, with_modseq))
        return responses

    def modseq_item(self, modseq: int) -> bytes:
        """`MODSEQ (n)` for a FETCH line, remembered as shown (`updates.highestmodseq_told`)."""
        self.shown_modseq = max(self.shown_modseq, modseq)
        return b"MODSEQ (%d)" % modseq

    def _flags_line(self, meta: MessageMeta, with_modseq: bool) -> bytes:
        # MODSEQ before FLAGS, as Dovecot sends it
        modseq = self.modseq_item(meta.modseq) + b" " if with_modseq else b""
        return b"* %d FETCH (UID %d %sFLAGS (%s))\r\n" % (
            self.sequence_number(meta.uid),
            meta.uid,
            modseq,
            stored_flags_text(meta.flags),
        )

    def _add_new(self, changed: Sequence[MessageMeta]) -> bool:
        added = False
        for meta in sorted(changed, key=lambda meta: meta.uid):
            if meta.uid in self.metas:
                continue
            self.metas[meta.uid] = self._shown(meta)
            if not self.uids or meta.uid > self.uids[-1]:
                self.uids.append(meta.uid)
            else:
                insort(self.uids, meta.uid)
            added = True
        return added


def _keywords(metas: Iterable[MessageMeta]) -> frozenset[str]:
    return keywords_in({meta.flags for meta in metas})
