"""Rows as `folder_reads.CHANGES` gives them, for tests that stand in for the database."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class Row(NamedTuple):
    """A row of `CHANGES`: kind 0 the folder (uid: HIGHESTMODSEQ, modseq: UIDNEXT, extra_a: UIDVALIDITY,
    extra_b: the recent mark), 1 a changed message, 2 an expunged one."""

    kind: int
    uid: int
    modseq: int
    flags: str | None = None
    internal_date: datetime | None = None
    size: int | None = None
    extra_a: int | None = None
    extra_b: int | None = None
