"""Tagged replies other than OK, and the one place domain errors become IMAP NO/BAD responses."""

from __future__ import annotations

from mailservice.domain.errors import (
    AuthenticationFailed,
    DomainError,
    FolderExists,
    FolderNotAllowed,
    FolderNotFound,
    InvalidInput,
    MailboxFull,
    MessageTooLarge,
    RateLimited,
    StorageUnavailable,
)


class CommandFailed(Exception):
    """Ends a command with `tag NO [code] text` (or BAD when `bad`)."""

    def __init__(self, text: str, code: str | None = None, bad: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.bad = bad

    def line(self, tag: str) -> bytes:
        return f"{tag} {self.reply()}\r\n".encode("utf-8", "replace")

    def reply(self) -> str:
        """The reply without its tag: `NO [code] text`."""
        status = "BAD" if self.bad else "NO"
        code = f"[{self.code}] " if self.code else ""
        return f"{status} {code}{self.text}"


def bad(text: str) -> CommandFailed:
    return CommandFailed(text, bad=True)


def from_domain_error(error: DomainError, target_missing: bool = False) -> CommandFailed:
    """`target_missing`: a missing folder is the target of APPEND/COPY/MOVE, which asks for TRYCREATE."""
    if isinstance(error, FolderNotFound):
        return CommandFailed("Mailbox doesn't exist", "TRYCREATE" if target_missing else "NONEXISTENT")
    if isinstance(error, FolderExists):
        return CommandFailed("Mailbox already exists", "ALREADYEXISTS")
    if isinstance(error, FolderNotAllowed):
        return CommandFailed(error.message, "CANNOT")
    if isinstance(error, MailboxFull):
        return CommandFailed("Quota exceeded (mailbox for user is full)", "OVERQUOTA")
    if isinstance(error, AuthenticationFailed):
        return CommandFailed("Authentication failed.", "AUTHENTICATIONFAILED")
    if isinstance(error, RateLimited):
        return CommandFailed("Too many failed attempts, try again later.", "UNAVAILABLE")
    if isinstance(error, StorageUnavailable):
        return CommandFailed("Temporary storage failure, try again later.", "UNAVAILABLE")
    if isinstance(error, MessageTooLarge):
        return CommandFailed("Message is too large.", "LIMIT")
    if isinstance(error, InvalidInput):
        return CommandFailed(error.message, "CANNOT")
    return CommandFailed(error.message, "CANNOT")


class Disconnect(Exception):
    """Ends the connection with `* BYE <text>` (inactivity, a protocol violation it cannot recover)."""
