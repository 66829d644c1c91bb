"""The POP3 command grammar: a keyword, then arguments separated by single spaces (RFC 1939 section 3).

Keywords are case-insensitive. Message numbers are decimal and start at 1. PASS takes the rest of the
line (a password may hold spaces); AUTH takes a mechanism and an optional initial response (RFC 5034,
"=" for an empty one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ARGUMENT = 255
_NUMBER = re.compile(r"[0-9]{1,10}")


class ParseError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Command:
    name: str
    """The upper-case keyword."""


@dataclass(frozen=True)
class NoArguments(Command):
    """CAPA, STLS, STAT, NOOP, RSET, QUIT."""


@dataclass(frozen=True)
class User(Command):
    username: str


@dataclass(frozen=True)
class Pass(Command):
    password: str


@dataclass(frozen=True)
class Auth(Command):
    mechanism: str | None
    """None: list the mechanisms."""
    initial: bytes | None
    """The initial response as sent (base64); b"" when the client sent "="."""


@dataclass(frozen=True)
class MessageNumber(Command):
    """RETR, DELE (a number is required); LIST, UIDL (optional: None lists every message)."""

    number: int | None


@dataclass(frozen=True)
class Top(Command):
    number: int
    lines: int


_NO_ARGUMENTS = frozenset({"CAPA", "STLS", "STAT", "NOOP", "RSET", "QUIT"})
_REQUIRED_NUMBER = frozenset({"RETR", "DELE"})
_OPTIONAL_NUMBER = frozenset({"LIST", "UIDL"})
KEYWORDS = _NO_ARGUMENTS | _REQUIRED_NUMBER | _OPTIONAL_NUMBER | {"USER", "PASS", "AUTH", "TOP"}


def parse_command(line: bytes) -> Command:
    """One command line without its CRLF; `ParseError` says what is wrong with it."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("Command is not valid UTF-8.") from None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ParseError("Command contains control characters.")
    keyword, _, rest = text.partition(" ")
    name = keyword.upper()
    if name not in KEYWORDS:
        raise ParseError("Unknown command." if keyword else "Empty command.")
    if name == "PASS":
        return Pass(name, _required(rest, "PASS needs a password."))
    arguments = rest.split(" ") if rest else []
    if any(not argument or len(argument) > MAX_ARGUMENT for argument in arguments):
        raise ParseError("Arguments are separated by single spaces and at most 255 characters long.")
    return _with_arguments(name, arguments)


def _with_arguments(name: str, arguments: list[str]) -> Command:
    if name in _NO_ARGUMENTS:
        _count(arguments, 0, 0, name)
        return NoArguments(name)
    if name in _REQUIRED_NUMBER:
        _count(arguments, 1, 1, name)
        return MessageNumber(name, _number(arguments[0]))
    if name in _OPTIONAL_NUMBER:
        _count(arguments, 0, 1, name)
        return MessageNumber(name, _number(arguments[0]) if arguments else None)
    if name == "TOP":
        _count(arguments, 2, 2, name)
        return Top(name, _number(arguments[0]), _line_count(arguments[1]))
    if name == "USER":
        _count(arguments, 1, 1, name)
        return User(name, arguments[0])
    _count(arguments, 0, 2, name)
    mechanism = arguments[0].upper() if arguments else None
    initial = None if len(arguments) < 2 else b"" if arguments[1] == "=" else arguments[1].encode()
    return Auth(name, mechanism, initial)


def _required(rest: str, message: str) -> str:
    if not rest:
        raise ParseError(message)
    return rest


def _count(arguments: list[str], least: int, most: int, name: str) -> None:
    if not least <= len(arguments) <= most:
        if least == most:
            wanted = "no arguments" if most == 0 else f"{most} argument{'s' if most > 1 else ''}"
        else:
            wanted = f"{least} to {most} arguments"
        raise ParseError(f"{name} takes {wanted}.")


def _number(argument: str) -> int:
    if not _NUMBER.fullmatch(argument) or int(argument) == 0:
        raise ParseError(f"Invalid message number: {argument[:20]}")
    return int(argument)


def _line_count(argument: str) -> int:
    if not _NUMBER.fullmatch(argument):
        raise ParseError(f"Invalid number of lines: {argument[:20]}")
    return int(argument)
