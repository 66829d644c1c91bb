"""`BODY[HEADER.FIELDS (...)]` answers already made, kept for the next header sync.

A client syncing headers asks for the same few fields of every message (`UID FETCH 1:* (UID FLAGS
BODY.PEEK[HEADER.FIELDS (From To Subject Date ...)])`), again after each reconnect and once per device.
A message's header never changes, so the answer made for it once serves every later such FETCH of the
process's connections, without reading its header block from the store or picking the fields again
(Dovecot keeps the same in its cache file).

Answers are kept by folder, UIDVALIDITY and field list, then by uid with the message's size: a uid
names one message for good within one UIDVALIDITY of one folder (RFC 3501 section 2.3.1.1), and the
size is checked as well. The cache is bounded in bytes; the answers of the folder used least recently
go first.
"""

from __future__ import annotations

from collections import OrderedDict

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
ENTRY_OVERHEAD = 120
"""What one kept answer costs besides its bytes (its dict slot, tuple and bytes object headers)."""

FolderKey = tuple[int, int, tuple[tuple[str, ...], bool]]
"""(folder id, UIDVALIDITY, (field names, excluded))."""
Answers = dict[int, tuple[int, bytes]]
"""uid -> (message size, the item's literal)."""


class FieldsCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._folders: OrderedDict[FolderKey, Answers] = OrderedDict()
        self._sizes: dict[FolderKey, int] = {}
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def answers(self, key: FolderKey) -> Answers:
        """The answers kept for a folder and field list (a copy: the caller may keep it across awaits)."""
        found = self._folders.get(key)
        if found is None:
            return {}
        self._folders.move_to_end(key)
        return dict(found)

    def keep(self, key: FolderKey, answers: Answers) -> None:
        kept = self._folders.get(key)
        if kept is None:
            kept = self._folders[key] = {}
            self._sizes[key] = 0
        self._folders.move_to_end(key)
        new = answers.keys() - kept.keys()
        added = sum([len(answers[uid][1]) for uid in new]) + ENTRY_OVERHEAD * len(new)
        kept.update(answers)
        self._sizes[key] += added
        self._bytes += added
        while self._bytes > self.max_bytes and self._folders:
            oldest, _ = self._folders.popitem(last=False)
            self._bytes -= self._sizes.pop(oldest)
