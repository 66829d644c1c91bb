"""The POP3 command grammar: keywords in any case, single-space separated arguments, message numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.protocols.pop3.commands import (
    KEYWORDS,
    Auth,
    Command,
    MessageNumber,
    NoArguments,
    ParseError,
    Pass,
    Top,
    User,
    parse_command,
)

numbers = st.integers(min_value=1, max_value=9_999_999_999)
atoms = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=255)


def any_case(keyword: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(keyword), max_size=len(keyword)).map(
        lambda upper: "".join(ch.upper() if up else ch.lower() for ch, up in zip(keyword, upper, strict=True))
    )


@st.composite
def commands(draw: st.DrawFn) -> tuple[str, Command]:
    """A valid command line and what it parses to."""
    keyword = draw(st.sampled_from(sorted(KEYWORDS)))
    spelled = draw(any_case(keyword))
    if keyword in ("CAPA", "STLS", "STAT", "NOOP", "RSET", "QUIT"):
        return spelled, NoArguments(keyword)
    if keyword in ("RETR", "DELE"):
        number = draw(numbers)
        return f"{spelled} {number}", MessageNumber(keyword, number)
    if keyword in ("LIST", "UIDL"):
        optional = draw(st.none() | numbers)
        return (spelled if optional is None else f"{spelled} {optional}"), MessageNumber(keyword, optional)
    if keyword == "TOP":
        number, lines = draw(numbers), draw(st.integers(min_value=0, max_value=9_999_999_999))
        return f"{spelled} {number} {lines}", Top(keyword, number, lines)
    if keyword == "USER":
        name = draw(atoms)
        return f"{spelled} {name}", User(keyword, name)
    if keyword == "PASS":
        password = draw(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1))
        return f"{spelled} {password}", Pass(keyword, password)
    mechanism = draw(st.none() | atoms)
    initial = draw(st.none() | atoms) if mechanism is not None else None
    line = " ".join(part for part in (spelled, mechanism, initial) if part is not None)
    expected = None if initial is None else b"" if initial == "=" else initial.encode()
    return line, Auth(keyword, mechanism.upper() if mechanism else None, expected)


@given(commands())
def test_every_valid_command_parses_to_its_meaning(command: tuple[str, Command]) -> None:
    line, expected = command
    assert parse_command(line.encode()) == expected


@given(st.binary(max_size=300))
def test_any_line_parses_or_is_refused_with_a_parse_error(line: bytes) -> None:
    try:
        command = parse_command(line)
    except ParseError as error:
        assert error.message
    else:
        assert command.name in KEYWORDS


@given(st.sampled_from(["RETR", "DELE", "LIST", "UIDL"]), st.text(min_size=1, max_size=12))
def test_message_numbers_are_positive_decimals(keyword: str, argument: str) -> None:
    line = f"{keyword} {argument}".encode()
    if argument.isascii() and argument.isdigit() and 0 < len(argument) <= 10 and int(argument) > 0:
        assert parse_command(line) == MessageNumber(keyword, int(argument))
    else:
        with pytest.raises(ParseError):
            parse_command(line)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"", "Empty command."),
        (b"XTND", "Unknown command."),
        (b" STAT", "Empty command."),
        (b"STAT  ", "Arguments are separated by single spaces and at most 255 characters long."),
        (b"STAT 1", "STAT takes no arguments."),
        (b"RETR", "RETR takes 1 argument."),
        (b"TOP 1 x", "Invalid number of lines: x"),
        (b"LIST 1 2", "LIST takes 0 to 1 arguments."),
        (b"AUTH PLAIN a b", "AUTH takes 0 to 2 arguments."),
        (b"USER " + b"a" * 256, "Arguments are separated by single spaces and at most 255 characters long."),
        (b"PASS", "PASS needs a password."),
        (b"USER a\tb", "Command contains control characters."),
        (b"USER \xc3", "Command is not valid UTF-8."),
    ],
)
def test_malformed_commands_say_what_is_wrong(line: bytes, message: str) -> None:
    with pytest.raises(ParseError) as refused:
        parse_command(line)
    assert refused.value.message == message


def test_pass_takes_the_rest_of_the_line_and_auth_an_empty_initial_response() -> None:
    assert parse_command(b"pass two words ") == Pass("PASS", "two words ")
    assert parse_command(b"AUTH plain =") == Auth("AUTH", "PLAIN", b"")
    assert parse_command(b"AUTH") == Auth("AUTH", None, None)


def test_one_trailing_space_is_tolerated() -> None:
    assert parse_command(b"STAT ") == NoArguments("STAT")
    assert parse_command(b"LIST ") == MessageNumber("LIST", None)
