"""`-ERR` replies, with RFC 2449/3206 response codes, and the one place domain errors become them."""

from __future__ import annotations

from mailservice.domain.errors import AuthenticationFailed, DomainError, RateLimited, StorageUnavailable


class Pop3Error(Exception):
    """Ends a command with `-ERR [code] text`."""

    def __init__(self, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code

    def line(self) -> bytes:
        code = f"[{self.code}] " if self.code else ""
        return f"-ERR {code}{self.text}\r\n".encode("utf-8", "replace")


class Disconnect(Exception):
    """Ends the connection after `-ERR text` (inactivity, too many bad commands)."""


def from_domain_error(error: DomainError) -> Pop3Error:
    if isinstance(error, AuthenticationFailed):
        return Pop3Error(f"Authentication failed: {error.message}.", "AUTH")
    if isinstance(error, RateLimited):
        return Pop3Error("Too many failed logins, try again in a few minutes.", "LOGIN-DELAY")
    if isinstance(error, StorageUnavailable):
        return Pop3Error("Temporary storage failure, try again later.", "SYS/TEMP")
    return Pop3Error(f"{error.message}.", "SYS/PERM")
