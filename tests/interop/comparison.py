"""Ask two IMAP servers the same thing and say, item by item, where their answers differ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.imap_wire import ImapWire, Response, Value, fetch_items, parse_line, search_numbers

Normalise = Callable[[int, Value], Value]
"""Maps (sequence number, value) to what it is compared as, on both sides: for documented differences."""


@dataclass
class Pair:
    """A logged-in connection to the reference server (Dovecot) and one to ours, same folder selected."""

    reference: ImapWire
    ours: ImapWire

    def both(self, command: str) -> tuple[Response, Response]:
        return self.reference.command(command, check=False), self.ours.command(command, check=False)


def fetch_differences(pair: Pair, command: str, normalise: Normalise | None = None) -> list[str]:
    """Every (message, item) whose value differs between the two FETCH answers to `command`."""
    reference, ours = pair.both(command)
    problems = _status_differences(command, reference, ours)
    theirs, mine = fetch_items(reference), fetch_items(ours)
    for number in sorted(set(theirs) | set(mine)):
        expected_items, got_items = theirs.get(number, {}), mine.get(number, {})
        for name in sorted(set(expected_items) | set(got_items)):
            expected, got = expected_items.get(name, "<missing>"), got_items.get(name, "<missing>")
            if normalise is not None:
                expected, got = normalise(number, expected), normalise(number, got)
            if expected != got:
                problems.append(
                    f"{command}: message {number} {name}:\n  dovecot: {expected!r}\n  ours:    {got!r}"
                )
    return problems


def search_difference(pair: Pair, criteria: str) -> str | None:
    """None when both servers find the same messages for `SEARCH criteria`, else what each found."""
    command = f"SEARCH {criteria}"
    reference, ours = pair.both(command)
    if not reference.ok:
        raise AssertionError(f"dovecot refused {command}: {reference.tagged!r}")
    expected, got = sorted(search_numbers(reference)), sorted(search_numbers(ours))
    if ours.ok and expected == got:
        return None
    return f"{command}:\n  dovecot: {expected} {reference.tagged!r}\n  ours:    {got} {ours.tagged!r}"


def _status_differences(command: str, reference: Response, ours: Response) -> list[str]:
    if reference.ok == ours.ok:
        return []
    return [f"{command}: dovecot {reference.tagged!r}, ours {ours.tagged!r}"]


def response_codes(response: Response) -> dict[str, list[Value]]:
    """`* OK [CODE args]` and `* N WORD` lines of a SELECT/EXAMINE answer, by code or word."""
    found: dict[str, list[Value]] = {}
    for line in response.lines:
        values = parse_line(line)
        if len(values) < 3 or values[0] != "*":
            continue
        first, second = values[1], values[2]
        if (
            isinstance(first, str)
            and first.upper() == "OK"
            and isinstance(second, str)
            and second.startswith("[")
        ):
            name, _, arguments = second[1:-1].partition(" ")
            found[name.upper()] = parse_line(arguments.encode("latin-1"))
        elif isinstance(first, str) and first.isdigit() and isinstance(second, str):
            found[second.upper()] = [first]
        elif isinstance(first, str) and first.upper() == "FLAGS":
            found["FLAGS"] = [second]
    return found
