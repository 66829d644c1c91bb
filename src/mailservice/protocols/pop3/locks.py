"""RFC 1939 section 4: a POP3 session holds an exclusive lock on its maildrop. The lock is kept in
this process (shared by the POP3 and POP3S listeners); a second session gets `-ERR [IN-USE]`."""

from __future__ import annotations


class MaildropLocks:
    def __init__(self) -> None:
        self._held: set[str] = set()

    def acquire(self, mailbox: str) -> bool:
        key = mailbox.lower()
        if key in self._held:
            return False
        self._held.add(key)
        return True

    def release(self, mailbox: str) -> None:
        self._held.discard(mailbox.lower())
