"""The arguments of SORT (RFC 5256, with ESORT's RETURN from RFC 5267 and RFC 5957's DISPLAYFROM and
DISPLAYTO) and of THREAD: what to order by, then a charset and search keys as in SEARCH."""

from __future__ import annotations

from dataclasses import dataclass

from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.search_keys import SearchKey, parse_search, read_charset
from mailservice.protocols.imap.search_results import parse_return

SORT_CRITERIA = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)
THREAD_ALGORITHMS = frozenset({"ORDEREDSUBJECT", "REFERENCES"})


@dataclass(frozen=True)
class SortCriterion:
    name: str
    reverse: bool = False


@dataclass(frozen=True)
class SortArgs:
    """`returns`: ESORT's RETURN options, None for a plain SORT (RETURN () means ALL)."""

    criteria: tuple[SortCriterion, ...]
    key: SearchKey
    returns: frozenset[str] | None = None


@dataclass(frozen=True)
class ThreadArgs:
    algorithm: str
    key: SearchKey


def parse_sort(reader: CommandReader) -> SortArgs:
    reader.space()
    returns = parse_return(reader)
    criteria = _criteria(reader)
    reader.space()
    charset = read_charset(reader)
    reader.space()
    return SortArgs(criteria, parse_search(reader, charset), returns)


def parse_thread(reader: CommandReader) -> ThreadArgs:
    reader.space()
    algorithm = reader.word()
    if algorithm not in THREAD_ALGORITHMS:
        raise reader.error(f"unknown threading algorithm {algorithm}")
    reader.space()
    charset = read_charset(reader)
    reader.space()
    return ThreadArgs(algorithm, parse_search(reader, charset))


def _criteria(reader: CommandReader) -> tuple[SortCriterion, ...]:
    reader.expect(b"(")
    criteria: list[SortCriterion] = []
    reverse = False
    while True:
        name = reader.word()
        if name == "REVERSE":
            reverse = True
        elif name in SORT_CRITERIA:
            criteria.append(SortCriterion(name, reverse))
            reverse = False
        else:
            raise reader.error(f"unknown sort criterion {name}")
        if reader.accept(b")"):
            break
        reader.space()
    if reverse:
        raise reader.error("REVERSE must come before a sort criterion")
    return tuple(criteria)
