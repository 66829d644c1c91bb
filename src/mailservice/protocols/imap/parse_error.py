"""The one error the command parser raises: the client sent something that is not valid IMAP."""

from __future__ import annotations


class ParseError(Exception):
    """Answered with BAD; `tag` is the command's tag when it could be read (else "*")."""

    def __init__(self, message: str, tag: str = "*") -> None:
        super().__init__(message)
        self.message = message
        self.tag = tag
