"""What a search means where the HTTP API's `q` and IMAP SEARCH mean the same thing, defined once.

Both parsers build their shared criteria from these types: a stored flag set or not, the internal date
in a range, the size above or below a bound, and NOT, OR and AND over any criteria. `predicate` (and
`matches`, its form for one message) is their meaning. IMAP SEARCH tests messages with it directly;
`q` runs in SQL, and the SQL compiler (`adapters/db/search_criteria_sql.py`) is held to it by a property
test that runs generated criteria through both on generated messages, on SQLite and PostgreSQL.

A criterion of one side only subclasses `OwnCriterion` and that side gives its test (IMAP's header,
text, sent-date, sequence, MODSEQ and WITHIN keys sit in the tree beside the shared ones); `q`'s own
terms (words, addresses, subject, tag, attachment, verified sender) stay fields of `MessageQuery`,
compiled to SQL beside its shared criteria. docs/architecture.md ("One meaning for the searches") says
where the two sides mean different things on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar


class OwnCriterion:
    """A criterion of one side only; `predicate` asks that side for its test."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Everything:
    pass


@dataclass(frozen=True, slots=True)
class Flag:
    """The stored flag `flag` is set (`present`) or not: exact and case-sensitive, as stored (system
    flags are stored in their canonical case; keywords as the client wrote them)."""

    flag: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class Received:
    """The internal date is at or after `since` and before `before` (an open side when None); both are
    timezone-aware. IMAP's SINCE, BEFORE and ON name whole UTC days, `q`'s after: and before: moments."""

    since: datetime | None = None
    before: datetime | None = None


@dataclass(frozen=True, slots=True)
class LargerThan:
    size: int


@dataclass(frozen=True, slots=True)
class SmallerThan:
    size: int


@dataclass(frozen=True, slots=True)
class Not:
    criterion: Criterion


@dataclass(frozen=True, slots=True)
class AnyOf:
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    criteria: tuple[Criterion, ...]


Shared = Everything | Flag | Received | LargerThan | SmallerThan | Not | AnyOf | AllOf
Criterion = Shared | OwnCriterion


class MessageFacts(Protocol):
    """What the shared criteria read of a message (`MessageMeta` has it)."""

    @property
    def flags(self) -> frozenset[str]: ...

    @property
    def internal_date(self) -> datetime: ...

    @property
    def size(self) -> int: ...


M = TypeVar("M")
Test = Callable[[M], bool]


def matches(criterion: Criterion, message: MessageFacts) -> bool:
    """Whether `message` matches `criterion`, a tree of shared criteria only."""
    return predicate(criterion, _itself, _no_own_criteria)(message)


def predicate(
    criterion: Criterion, facts: Callable[[M], MessageFacts], own: Callable[[OwnCriterion], Test[M]]
) -> Test[M]:
    """The meaning of `criterion` as a test of one message, built once per search and asked of every
    message: the facts of a message `m` are `facts(m)`, and `own` gives the test of a criterion of one
    side only (a walk of the tree for every message cost more than the tests themselves)."""
    if isinstance(criterion, Flag):
        return _flag_test(criterion, facts)
    if isinstance(criterion, Received):
        return _received_test(criterion, facts)
    if isinstance(criterion, LargerThan):
        larger = criterion.size
        return lambda m: facts(m).size > larger
    if isinstance(criterion, SmallerThan):
        smaller = criterion.size
        return lambda m: facts(m).size < smaller
    if isinstance(criterion, Not):
        inner = predicate(criterion.criterion, facts, own)
        return lambda m: not inner(m)
    if isinstance(criterion, AnyOf | AllOf):
        return _combined_test(criterion, [predicate(c, facts, own) for c in criterion.criteria])
    if isinstance(criterion, Everything):
        return _always
    return own(criterion)


def _flag_test(criterion: Flag, facts: Callable[[M], MessageFacts]) -> Test[M]:
    flag = criterion.flag
    if criterion.present:
        return lambda m: flag in facts(m).flags
    return lambda m: flag not in facts(m).flags


def _received_test(criterion: Received, facts: Callable[[M], MessageFacts]) -> Test[M]:
    since, before = criterion.since, criterion.before
    if since is not None and before is not None:
        return lambda m: since <= facts(m).internal_date < before
    if since is not None:
        return lambda m: facts(m).internal_date >= since
    if before is not None:
        return lambda m: facts(m).internal_date < before
    return _always


def _combined_test(criterion: AnyOf | AllOf, tests: list[Test[M]]) -> Test[M]:
    if len(tests) == 2:  # what OR always reads, and the commonest list
        first, second = tests
        if isinstance(criterion, AnyOf):
            return lambda m: first(m) or second(m)
        return lambda m: first(m) and second(m)
    every = tuple(tests)
    if isinstance(criterion, AnyOf):
        return lambda m: any(test(m) for test in every)
    return lambda m: all(test(m) for test in every)


def _always(message: object) -> bool:
    return True


def _itself(message: MessageFacts) -> MessageFacts:
    return message


def _no_own_criteria(criterion: OwnCriterion) -> Test[Any]:
    raise TypeError(f"no test given for {criterion!r}")


def all_of(criteria: list[Criterion]) -> Criterion:
    """The criteria together: nested AllOfs flattened, one criterion as itself, none as Everything."""
    flat: list[Criterion] = []
    for criterion in criteria:
        flat.extend(criterion.criteria if isinstance(criterion, AllOf) else (criterion,))
    if not flat:
        return Everything()
    return flat[0] if len(flat) == 1 else AllOf(tuple(flat))


def any_of(criteria: list[Criterion]) -> Criterion:
    """Any of the criteria (two or more), nested AnyOfs flattened."""
    flat: list[Criterion] = []
    for criterion in criteria:
        flat.extend(criterion.criteria if isinstance(criterion, AnyOf) else (criterion,))
    return AnyOf(tuple(flat))


def negated(criterion: Criterion) -> Criterion:
    """NOT `criterion`, a double negation removed."""
    return criterion.criterion if isinstance(criterion, Not) else Not(criterion)


def walk(criterion: Criterion) -> list[Criterion]:
    """Every criterion of the tree, `criterion` first; without recursion (IMAP's trees are deep)."""
    found: list[Criterion] = []
    waiting = [criterion]
    while waiting:
        current = waiting.pop()
        found.append(current)
        if isinstance(current, Not):
            waiting.append(current.criterion)
        elif isinstance(current, AnyOf | AllOf):
            waiting.extend(current.criteria)
    return found
