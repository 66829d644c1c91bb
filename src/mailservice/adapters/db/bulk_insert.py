"""Insert many rows with one statement compiled once, for the delivery hot path.

`connection.execute(table.insert(), rows)` builds SQLAlchemy's parameter machinery again for every row;
for a group of small messages that costs several times what the database spends storing them. Here the
INSERT is compiled once per dialect and column list, each value goes through its column type's bind
processor (so stored values are exactly what `execute` would store), and the rows go to the driver's
executemany as tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect


@dataclass(frozen=True)
class _PreparedInsert:
    sql: str
    keys: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]


_prepared: dict[tuple[str, str, tuple[str, ...]], _PreparedInsert] = {}


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`."""
    if not rows:
        return
    prepared = _prepare(connection.dialect, table, tuple(rows[0]))
    pairs = tuple(zip(prepared.keys, prepared.processors, strict=True))
    values = [
        tuple(row[key] if process is None else process(row[key]) for key, process in pairs) for row in rows
    ]
    connection.exec_driver_sql(prepared.sql, values)


def _prepare(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> _PreparedInsert:
    cache_key = (dialect.name, table.name, keys)
    found = _prepared.get(cache_key)
    if found is None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup or ())
        if sorted(order) != sorted(keys):
            raise ValueError(f"cannot prepare a positional INSERT into {table.name} for {keys}")
        processors = tuple(table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in order)
        found = _PreparedInsert(str(compiled), order, processors)
        _prepared[cache_key] = found
    return found
