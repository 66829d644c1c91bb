"""What a search means where the HTTP API's `q` and IMAP SEARCH mean the same thing, defined once.

Both parsers build their shared criteria from these types: a stored flag set or not, the internal date
in a range, the size above or below a bound, and NOT, OR and AND over any criteria. `matches` is their
meaning. IMAP SEARCH evaluates a tree with it directly; `q` runs in SQL, and the SQL compiler
(`adapters/db/search_criteria_sql.py`) is held to `matches` by a property test that runs generated
criteria through both on generated messages, on SQLite and PostgreSQL.

A criterion only one side has subclasses `OwnCriterion`; each side evaluates its own (IMAP's header,
text, sent date, sequence, MODSEQ and WITHIN keys; `q`'s words, addresses, subject, tag, attachment and
verified-sender terms) and the tree around them is walked here. See docs/architecture.md ("One meaning
for the searches") for the criteria the two sides keep apart on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class OwnCriterion:
    """A criterion of one side only; the tree's walker hands it to that side's evaluator."""

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


def _no_own_criteria(criterion: OwnCriterion) -> bool:
    raise TypeError(f"no evaluator given for {criterion!r}")


def matches(
    criterion: Criterion, message: MessageFacts, own: Callable[[OwnCriterion], bool] = _no_own_criteria
) -> bool:
    """Whether `message` matches `criterion`; `own` decides the criteria of one side only."""
    check = _CHECKS.get(type(criterion))
    if check is None:
        assert isinstance(criterion, OwnCriterion), criterion
        return own(criterion)
    return check(criterion, message, own)


Own = Callable[[OwnCriterion], bool]


def _everything(criterion: Everything, message: MessageFacts, own: Own) -> bool:
    return True


def _flag(criterion: Flag, message: MessageFacts, own: Own) -> bool:
    return (criterion.flag in message.flags) == criterion.present


def _received(criterion: Received, message: MessageFacts, own: Own) -> bool:
    when = message.internal_date
    return (criterion.since is None or when >= criterion.since) and (
        criterion.before is None or when < criterion.before
    )


def _larger(criterion: LargerThan, message: MessageFacts, own: Own) -> bool:
    return message.size > criterion.size


def _smaller(criterion: SmallerThan, message: MessageFacts, own: Own) -> bool:
    return message.size < criterion.size


def _not(criterion: Not, message: MessageFacts, own: Own) -> bool:
    return not matches(criterion.criterion, message, own)


def _any_of(criterion: AnyOf, message: MessageFacts, own: Own) -> bool:
    return any(matches(inner, message, own) for inner in criterion.criteria)


def _all_of(criterion: AllOf, message: MessageFacts, own: Own) -> bool:
    return all(matches(inner, message, own) for inner in criterion.criteria)


_CHECKS: dict[type, Callable[[Any, MessageFacts, Own], bool]] = {
    Everything: _everything,
    Flag: _flag,
    Received: _received,
    LargerThan: _larger,
    SmallerThan: _smaller,
    Not: _not,
    AnyOf: _any_of,
    AllOf: _all_of,
}
"""The meaning of each shared criterion, found by its type (one lookup, where a chain of isinstance
checks cost the later types more)."""


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
