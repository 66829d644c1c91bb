"""The maildrop of one POP3 session: INBOX as it was at login, numbered from 1 (RFC 1939 section 5).

Numbers never change during the session. DELE only marks a message; RSET unmarks them all; the
marked ones are expunged when the client QUITs. A unique-id is the folder's UIDVALIDITY and the
message's uid, so it stays the same across sessions for as long as the message exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailservice.domain.mail_session import OpenedFolder

SEEN = "\\Seen"


class NoSuchMessage(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Entry:
    number: int
    uid: int
    size: int
    seen: bool
    deleted: bool = False


@dataclass
class Maildrop:
    folder_id: int
    uidvalidity: int
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def of(cls, folder: OpenedFolder) -> Maildrop:
        entries = [
            Entry(number, meta.uid, meta.size, SEEN in meta.flags)
            for number, meta in enumerate(folder.messages, start=1)
        ]
        return cls(folder.status.folder_id, folder.status.uidvalidity, entries)

    def present(self) -> list[Entry]:
        """Every message not marked deleted, in number order."""
        return [entry for entry in self.entries if not entry.deleted]

    def stat(self) -> tuple[int, int]:
        """The number of messages not marked deleted and their total size."""
        present = self.present()
        return len(present), sum(entry.size for entry in present)

    def get(self, number: int) -> Entry:
        """A message not marked deleted; `NoSuchMessage` otherwise."""
        if not 1 <= number <= len(self.entries):
            raise NoSuchMessage(f"There's no message {number}.")
        entry = self.entries[number - 1]
        if entry.deleted:
            raise NoSuchMessage(f"Message {number} is deleted.")
        return entry

    def mark_deleted(self, number: int) -> None:
        self.get(number).deleted = True

    def reset(self) -> None:
        for entry in self.entries:
            entry.deleted = False

    def marked(self) -> list[int]:
        """The uids of the messages marked deleted."""
        return [entry.uid for entry in self.entries if entry.deleted]

    def unique_id(self, entry: Entry) -> str:
        return f"{self.uidvalidity}.{entry.uid}"
