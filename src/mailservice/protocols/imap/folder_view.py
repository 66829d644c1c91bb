"""The selected folder as this connection's client knows it: sequence numbers, uids, flags, modseqs.

Changes made elsewhere (`MailSession.changes`) are folded in by `sync`, which returns the untagged
responses that tell the client. Expunges can be held back (RFC 3501 section 7.4.1: never during
FETCH, STORE or SEARCH); held-back messages keep their sequence numbers until they are announced.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mailservice.domain.mail_session import FolderChanges, MessageMeta, OpenedFolder
from mailservice.protocols.imap.flag_text import SYSTEM_FLAGS, flags_text, stored_flags_text
from mailservice.protocols.imap.replies import bad
from mailservice.protocols.imap.sequence_set import SequenceSet, uid_set_text


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

    @classmethod
    def of(cls, opened: OpenedFolder, read_only: bool) -> FolderView:
        status = opened.status
        return cls(
            folder_id=status.folder_id,
            name=status.name,
            read_only=read_only,
            uidvalidity=status.uidvalidity,
            uidnext=status.uidnext,
            highestmodseq=status.highestmodseq,
            uids=[meta.uid for meta in opened.messages],
            metas={meta.uid: meta for meta in opened.messages},
            keywords=_keywords(opened.messages),
        )

    def flags_responses(self) -> list[bytes]:
        """`* FLAGS` and `* OK [PERMANENTFLAGS]`: the system flags and every keyword told of."""
        known = flags_text((*SYSTEM_FLAGS, *self.keywords))
        permanent = b"" if self.read_only else known + b" \\*"
        return [b"* FLAGS (%s)\r\n" % known, b"* OK [PERMANENTFLAGS (%s)] Flags permitted.\r\n" % permanent]

    def announce_keywords(self, metas: Iterable[MessageMeta]) -> list[bytes]:
        """The flags responses again when `metas` use a keyword the client was not told of: a client
        must hear of a keyword before a FETCH shows it (RFC 3501 section 7.2.6)."""
        new = _keywords(metas) - self.keywords
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
        if by_uid:
            chosen = sequence_set.uids(self.uids)
            return [(self.sequence_number(uid), uid) for uid in chosen]
        largest = sequence_set.largest_number()
        if self.count == 0 or (largest is not None and largest > self.count):
            raise bad("Error in IMAP command: Invalid messageset")
        uids = self.uids
        return [(number, uids[number - 1]) for number in sequence_set.sequence_numbers(self.count)]

    def update(self, metas: Sequence[MessageMeta]) -> list[bytes]:
        """Flags this connection changed itself (the client is told by the command's own response,
        after the flags responses returned here for keywords it has not heard of)."""
        for meta in metas:
            if meta.uid in self.metas:
                self.metas[meta.uid] = meta
        return self.announce_keywords(metas)

    def remove(self, uids: Iterable[int]) -> list[int]:
        """Forget expunged messages; the EXPUNGE sequence numbers to send, in sending order."""
        present = sorted((uid for uid in set(uids) if uid in self.metas), reverse=True)
        numbers = [self.sequence_number(uid) for uid in present]
        if present:
            dropped = set(present)
            self.uids = [uid for uid in self.uids if uid not in dropped]
            for uid in present:
                del self.metas[uid]
                self.gone.discard(uid)
        return numbers

    def expunge_responses(self, uids: Iterable[int], vanished: bool) -> list[bytes]:
        """Forget expunged messages and say so: `* VANISHED uids` once QRESYNC is enabled (RFC 7162
        section 3.2.10), else `* n EXPUNGE` each."""
        present = sorted(uid for uid in set(uids) if uid in self.metas)
        numbers = self.remove(present)
        if vanished:
            return [b"* VANISHED %s\r\n" % uid_set_text(present).encode()] if present else []
        return [b"* %d EXPUNGE\r\n" % number for number in numbers]

    def sync(
        self, changes: FolderChanges, allow_expunge: bool, with_modseq: bool, vanished: bool = False
    ) -> list[bytes]:
        """Fold in what changed elsewhere; the untagged responses that announce it."""
        self.gone.update(uid for uid in changes.expunged if uid in self.metas)
        responses = self.announce_keywords(changes.changed)
        if allow_expunge and self.gone:
            responses.extend(self.expunge_responses(list(self.gone), vanished))
        responses.extend(self._flag_updates(changes.changed, with_modseq))
        added = self._add_new(changes.changed)
        if added:
            responses.append(b"* %d EXISTS\r\n" % self.count)
        self.highestmodseq = max(self.highestmodseq, changes.highestmodseq)
        self.uidnext = max(self.uidnext, changes.uidnext)
        return responses

    def _flag_updates(self, changed: Sequence[MessageMeta], with_modseq: bool) -> list[bytes]:
        responses: list[bytes] = []
        for meta in changed:
            known = self.metas.get(meta.uid)
            if known is None or known == meta:
                continue
            self.metas[meta.uid] = meta
            if meta.uid in self.gone or (known.flags == meta.flags and not with_modseq):
                continue
            modseq = b" MODSEQ (%d)" % meta.modseq if with_modseq else b""
            responses.append(
                b"* %d FETCH (UID %d FLAGS (%s)%s)\r\n"
                % (self.sequence_number(meta.uid), meta.uid, stored_flags_text(meta.flags), modseq)
            )
        return responses

    def _add_new(self, changed: Sequence[MessageMeta]) -> bool:
        added = False
        for meta in sorted(changed, key=lambda meta: meta.uid):
            if meta.uid in self.metas:
                continue
            self.metas[meta.uid] = meta
            if not self.uids or meta.uid > self.uids[-1]:
                self.uids.append(meta.uid)
            else:
                insort(self.uids, meta.uid)
            added = True
        return added


def _keywords(metas: Iterable[MessageMeta]) -> set[str]:
    return {flag for meta in metas for flag in meta.flags if not flag.startswith("\\")}
