"""Statements compiled once per dialect and run on the driver's cursor, for the hot paths.

`connection.execute(statement, parameters)` costs about 15 microseconds of Python on SQLite before the
database does anything (execution context, compiled-cache lookup, result metadata, row objects), where
the statement itself takes one or two; in the one writer thread that every IMAP session waits behind,
and in the reads asked after every command, that overhead was most of the work. Here a statement is
compiled once per dialect; each parameter goes through its type's bind processor and each column
through its type's result processor, so values are exactly what `execute` would store and return, and
rows come back as named tuples. The statement runs on the connection's own driver connection, inside
whatever transaction the `Connection` has begun.

Only statements without expanding parameters (`IN` lists) can be prepared this way.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, BindParameter, Executable, Table, bindparam
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from mailservice.adapters.db.statement_pool import StatementPool

Processor = Callable[[Any], Any] | None
_GIVEN = object()
"""A parameter the caller gives (as opposed to a value built into the statement)."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    keys: tuple[str, ...]
    binds: tuple[Processor, ...]
    fixed: tuple[Any, ...]
    """The values written into the statement itself (e.g. a `contains` pattern), or `_GIVEN`."""
    results: tuple[Processor, ...]
    row: Any
    """The named tuple type of result rows (None for a statement that returns none)."""


class Prepared:
    """A prebuilt statement, run through the driver. Parameters are given by their bind names."""

    def __init__(self, statement: Executable, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, connection: Connection, parameters: Mapping[str, Any]) -> list[Any]:
        return _rows(self._for(connection.dialect), self.driver_rows(connection, parameters))

    def rows_on_driver(self, driver: Any, dialect: Dialect, parameters: Mapping[str, Any]) -> list[Any]:
        """The rows, read on a DB-API connection directly (SQLite; `dialect` the engine's), in whatever
        transaction it is in: none, for a read of one statement in autocommit mode."""
        found = self.rows_on_driver_up_to(driver, dialect, parameters, None)
        assert found is not None
        return found

    def rows_on_driver_up_to(
        self, driver: Any, dialect: Dialect, parameters: Mapping[str, Any], at_most: int | None
    ) -> list[Any] | None:
        """`rows_on_driver`, or None as soon as there are more than `at_most` rows (the rest is not read)."""
        compiled = self._for(dialect)
        cursor = driver.execute(compiled.sql, _values(compiled, parameters))
        try:
            if at_most is None:
                return _rows(compiled, cursor.fetchall())
            some = cursor.fetchmany(at_most + 1)
            return None if len(some) > at_most else _rows(compiled, some)
        finally:
            cursor.close()

    async def rows_from_pool(
        self, pool: StatementPool, dialect: Dialect, parameters: Mapping[str, Any]
    ) -> list[Any]:
        """The rows, read through driver connections directly (`StatementPool`, PostgreSQL; `dialect`
        the engine's)."""
        compiled = self._for(dialect)
        return _rows(compiled, await pool.fetch(compiled.sql, *_values(compiled, parameters)))

    def driver_rows(self, connection: Connection, parameters: Mapping[str, Any]) -> list[Any]:
        """The rows exactly as the driver gives them: no result processing, no named tuples; for reads
        of many rows whose driver values are already what the caller wants."""
        compiled = self._for(connection.dialect)
        cursor = _cursor(connection)
        try:
            cursor.execute(compiled.sql, _values(compiled, parameters))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def compile_for(self, dialect: Dialect) -> None:
        """Compile now (at start-up), not in the first use."""
        self._for(dialect)

    def sql_for(self, dialect: Dialect) -> str:
        """The statement's text as `dialect`'s driver gets it (to look at its plan)."""
        return self._for(dialect).sql

    def first(self, connection: Connection, parameters: Mapping[str, Any]) -> Any | None:
        found = self.rows(connection, parameters)
        return found[0] if found else None

    def run(self, connection: Connection, parameters: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        compiled = self._for(connection.dialect)
        cursor = _cursor(connection)
        try:
            cursor.execute(compiled.sql, _values(compiled, parameters))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def run_many(self, connection: Connection, parameter_sets: Iterable[Mapping[str, Any]]) -> None:
        compiled = self._for(connection.dialect)
        values = [_values(compiled, parameters) for parameters in parameter_sets]
        if not values:
            return
        cursor = _cursor(connection)
        try:
            cursor.executemany(compiled.sql, values)
        finally:
            cursor.close()

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _compile(self.statement, dialect, self._column_keys)
        return found


def _cursor(connection: Connection) -> Any:
    """The driver's cursor, in the connection's transaction: begun here as `execute` would begin it
    (the begin hooks choose BEGIN IMMEDIATE, a read snapshot, or none)."""
    if not connection.in_transaction():
        connection.begin()
    return connection.connection.cursor()


def _compile(statement: Executable, dialect: Dialect, column_keys: list[str] | None) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=column_keys)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    if any(bind.expanding for bind in compiled.binds.values()):
        raise ValueError("a statement with expanding parameters cannot be prepared")
    keys = tuple(compiled.positiontup or ())
    binds = tuple(compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys)
    fixed = tuple(
        _GIVEN if compiled.binds[key].required else compiled.binds[key].effective_value for key in keys
    )
    columns = list(getattr(statement, "exported_columns", ()))  # a SELECT's, or what RETURNING names
    results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
    names = [column.key or f"c{index}" for index, column in enumerate(columns)]
    row = namedtuple("PreparedRow", names, rename=True) if columns else None
    return _Compiled(str(compiled), keys, binds, fixed, results, row)


def _values(compiled: _Compiled, parameters: Mapping[str, Any]) -> tuple[Any, ...]:
    values = (
        parameters[key] if value is _GIVEN else value
        for key, value in zip(compiled.keys, compiled.fixed, strict=True)
    )
    return tuple(
        value if process is None else process(value)
        for value, process in zip(values, compiled.binds, strict=True)
    )


def _rows(compiled: _Compiled, fetched: Sequence[Any]) -> list[Any]:
    make = compiled.row._make
    if not any(compiled.results):
        return [make(row) for row in fetched]
    pairs = tuple(enumerate(compiled.results))
    return [
        make(tuple(row[i] if process is None else process(row[i]) for i, process in pairs)) for row in fetched
    ]


_inserts: dict[tuple[str, tuple[str, ...]], Prepared] = {}


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` with one prepared INSERT."""
    if not rows:
        return
    keys = tuple(rows[0])
    prepared = _inserts.get((table.name, keys))
    if prepared is None:
        prepared = _inserts[(table.name, keys)] = Prepared(table.insert(), column_keys=keys)
    prepared.run_many(connection, rows)


ONE_STATEMENT_BYTES = 64 * 1024 * 1024
"""PostgreSQL: messages larger than this in all are written a statement per table, not by one statement
of `unnested` arrays (whose arrays of raw messages and texts would meet the server's limit of 1 GiB per
value)."""


def unnested(table: Table, keys: Sequence[str], prefix: str) -> tuple[str, list[BindParameter[Any]]]:
    """`SELECT * FROM unnest(...)` of one array parameter (named `prefix` + key) per column of `table`
    named in `keys`, and those parameters (PostgreSQL): many rows bound as a few arrays, for a
    statement that writes them together with other changes. `unnested_values` gives their values."""
    parameters = [bindparam(prefix + key, type_=ARRAY(table.c[key].type)) for key in keys]
    return "SELECT * FROM unnest(" + ", ".join(f":{p.key}" for p in parameters) + ")", parameters


def unnested_values(
    rows: Sequence[Mapping[str, Any]], keys: Sequence[str], prefix: str
) -> dict[str, list[Any]]:
    return {prefix + key: [row[key] for row in rows] for key in keys}
