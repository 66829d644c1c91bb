"""The errors the command parser raises: the client sent something that is not valid IMAP (BAD), or
valid IMAP the server refuses as soon as it reads it (NO)."""

from __future__ import annotations


class ParseError(Exception):
    """Answered with BAD; `tag` is the command's tag when it could be read (else "*")."""

    def __init__(self, message: str, tag: str = "*") -> None:
        super().__init__(message)
        self.message = message
        self.tag = tag


class RefusedArgument(ParseError):
    """A well-formed argument the server refuses: answered `NO` with `text` (response code included)."""

    def __init__(self, message: str, text: str, tag: str = "*") -> None:
        super().__init__(message, tag)
        self.text = text
