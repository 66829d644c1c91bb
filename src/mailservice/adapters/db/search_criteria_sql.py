"""The shared search criteria (`domain/search_criteria.py`) as SQL conditions on `messages`, so the HTTP
API's `q` is searched in the database, whatever the mailbox's size.

Each condition means what `search_criteria.matches` means; `tests/integration/test_search_criteria.py`
runs generated criteria through both on generated messages, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, false, not_, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from mailservice.adapters.db.tables import messages
from mailservice.domain.search_criteria import (
    AllOf,
    AnyOf,
    Criterion,
    Everything,
    Flag,
    LargerThan,
    Not,
    Received,
    SmallerThan,
)


def condition(criterion: Criterion) -> ColumnElement[bool]:
    """The SQL condition of `criterion`; TypeError for a criterion of one side only."""
    if isinstance(criterion, Flag):
        present = has_flag(criterion.flag)
        return present if criterion.present else not_(present)
    if isinstance(criterion, Received):
        return _received(criterion)
    if isinstance(criterion, LargerThan):
        return messages.c.size > criterion.size
    if isinstance(criterion, SmallerThan):
        return messages.c.size < criterion.size
    if isinstance(criterion, Not):
        return not_(condition(criterion.criterion))
    if isinstance(criterion, AnyOf):
        return or_(false(), *(condition(inner) for inner in criterion.criteria))
    if isinstance(criterion, AllOf):
        return and_(true(), *(condition(inner) for inner in criterion.criteria))
    if isinstance(criterion, Everything):
        return true()
    raise TypeError(f"no SQL for {criterion!r}")


def has_flag(flag: str) -> ColumnElement[bool]:
    """`flag` is one of the space-separated stored flags. A backslash only begins a flag and the system
    flags are stored in their canonical case, none the beginning of another, so a system flag is found
    by its position alone (faster than LIKE on SQLite); a keyword needs a space or an end on each side."""
    if flag.startswith("\\"):
        return _position(messages.c.flags, flag) > 0
    return _position(" " + messages.c.flags + " ", f" {flag} ") > 0


def _received(criterion: Received) -> ColumnElement[bool]:
    bounds: list[ColumnElement[bool]] = []
    if criterion.since is not None:
        bounds.append(messages.c.internal_date >= criterion.since)
    if criterion.before is not None:
        bounds.append(messages.c.internal_date < criterion.before)
    return and_(true(), *bounds)


class _position(FunctionElement[int]):
    """Where `needle` starts in `text` (1-based, 0 when absent), case-sensitively on every database:
    SQLite's LIKE ignores ASCII case, and keywords differing only in case are different flags."""

    type = Integer()
    inherit_cache = True


@compiles(_position)
def _strpos(element: _position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


@compiles(_position, "sqlite")
def _instr(element: _position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"
