"""The shared search criteria mean the same through both evaluators: IMAP SEARCH's (the domain's
`matches`, in Python) and the HTTP API's `q` (compiled to SQL), on SQLite and PostgreSQL.

A few messages are delivered once per test; each example gives them generated flags, internal dates
and sizes, then asks both sides the same question and compares the uids each finds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from mailservice.adapters.db import search_criteria_sql
from mailservice.adapters.db.database import Database
from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.message_store import GroupCommitMessageStore
from mailservice.adapters.db.sealed_text import TextSealer
from mailservice.adapters.db.tables import messages
from mailservice.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from mailservice.adapters.parser_processes import InlineParser
from mailservice.domain.clock import FixedClock
from mailservice.domain.events import DomainEvent
from mailservice.domain.mail_session import MessageMeta
from mailservice.domain.mailbox import new_mailbox
from mailservice.domain.messages import Delivery, MessageCopy
from mailservice.domain.search import parse_query
from mailservice.domain.search_criteria import Criterion
from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.search_keys import parse_search
from mailservice.protocols.imap.search_match import Candidate, matches
from tests.support.mail import text_message

MESSAGES = 6
FIRST_DAY = date(2026, 3, 1)
DAYS = 4
FLAGS = ("\\Seen", "\\Flagged", "\\Deleted", "\\Answered", "\\Draft", "$Junk", "work", "Work", "wor")
SIZES = (0, 1, 99, 100, 101, 5000)
SECONDS_INTO_DAY = (0, 1, 43_200, 86_399)
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass
class Folder:
    database: Database
    uow: SqlUnitOfWorkFactory
    mailbox_id: str
    uids: list[int]

    async def holds(self, facts: Sequence[MessageMeta]) -> None:
        """Give the folder's messages these flags, internal dates and sizes."""

        def work(connection: Connection) -> None:
            for fact in facts:
                connection.execute(
                    update(messages)
                    .where(messages.c.mailbox_id == self.mailbox_id, messages.c.uid == fact.uid)
                    .values(
                        flags=" ".join(sorted(fact.flags)), internal_date=fact.internal_date, size=fact.size
                    )
                )

        await self.database.run_write(work)

    async def sql_finds(self, criterion: Criterion) -> set[int]:
        query = select(messages.c.uid).where(
            messages.c.mailbox_id == self.mailbox_id, search_criteria_sql.condition(criterion)
        )
        return set(await self.database.run_read(lambda c: list(c.execute(query).scalars())))

    async def q_finds(self, q: str) -> set[int]:
        async with self.uow(read_only=True) as uow:
            found = await uow.messages.find(self.mailbox_id, parse_query(q), limit=1000)
        return {message.uid for message in found}


class NoPublisher:
    async def publish(self, events: Sequence[DomainEvent]) -> None:
        pass


@pytest.fixture
async def folder(database_dsn: str) -> AsyncIterator[Folder]:
    now = datetime(2026, 3, 10, tzinfo=UTC)
    database = Database(async_database_url(database_dsn))
    uow = SqlUnitOfWorkFactory(database, NoPublisher(), TextSealer(b"a-secret-for-search-tests-0123456789"))
    store = GroupCommitMessageStore(database, FixedClock(now), 10_000_000, NoPublisher())
    mailbox = new_mailbox("sha256:5e", "ssh-ed25519 AAAA", "payer@example.com", now)
    try:
        async with uow() as unit:
            await unit.mailboxes.add(mailbox)
            await unit.folders.create_inbox(mailbox.id, now)
            await unit.commit()
        parser, uids = InlineParser(), []
        for number in range(MESSAGES):
            raw = text_message("reader@example.com", f"Message {number}")
            copy = MessageCopy(mailbox.id, raw, await parser.parse(raw), now)
            [stored] = await store.store(Delivery((copy,)))
            uids.append(stored.uid)
        yield Folder(database, uow, mailbox.id, uids)
    finally:
        await store.close()
        await database.dispose()


def _moment(day: int, second: int, microsecond: int) -> datetime:
    start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
    return start + timedelta(days=day, seconds=second, microseconds=microsecond)


fact_values = st.tuples(
    st.frozensets(st.sampled_from(FLAGS)),
    st.builds(
        _moment,
        st.integers(0, DAYS - 1),
        st.sampled_from(SECONDS_INTO_DAY),
        st.sampled_from((0, 999_999)),
    ),
    st.sampled_from(SIZES),
)
folder_facts = st.lists(fact_values, min_size=MESSAGES, max_size=MESSAGES)


def _imap_date(offset: int) -> str:
    day = FIRST_DAY + timedelta(days=offset)
    return f"{day.day}-{day.strftime('%b')}-{day.year}"


_days = st.integers(-1, DAYS)
imap_leaves = st.one_of(
    st.sampled_from(
        [
            "ALL",
            "SEEN",
            "UNSEEN",
            "FLAGGED",
            "UNFLAGGED",
            "DELETED",
            "UNDELETED",
            "ANSWERED",
            "UNANSWERED",
            "DRAFT",
            "UNDRAFT",
        ]
    ),
    st.sampled_from(["KEYWORD", "UNKEYWORD"]).flatmap(
        lambda name: st.sampled_from(["$Junk", "work", "Work", "wor"]).map(lambda kw: f"{name} {kw}")
    ),
    st.sampled_from(["BEFORE", "ON", "SINCE"]).flatmap(
        lambda name: _days.map(lambda offset: f"{name} {_imap_date(offset)}")
    ),
    st.sampled_from(["LARGER", "SMALLER"]).flatmap(
        lambda name: st.sampled_from(SIZES).map(lambda size: f"{name} {size}")
    ),
)
imap_keys: st.SearchStrategy[str] = st.recursive(
    imap_leaves,
    lambda inner: st.one_of(
        inner.map(lambda key: f"NOT {key}"),
        st.tuples(inner, inner).map(lambda pair: f"OR {pair[0]} {pair[1]}"),
        st.lists(inner, min_size=1, max_size=3).map(lambda keys: "(" + " ".join(keys) + ")"),
    ),
    max_leaves=12,
)


def _metas(folder: Folder, values: list[tuple[frozenset[str], datetime, int]]) -> list[MessageMeta]:
    return [
        MessageMeta(uid, 1, flags, when, size)
        for uid, (flags, when, size) in zip(folder.uids, values, strict=True)
    ]


def _imap_finds(key_text: str, metas: list[MessageMeta]) -> set[int]:
    key = parse_search(CommandReader(key_text.encode()), "UTF-8")
    uids = [meta.uid for meta in metas]
    return {
        meta.uid
        for number, meta in enumerate(metas, 1)
        if matches(key, Candidate(number, meta, len(metas), uids))
    }


@PROPERTY
@given(values=folder_facts, key_text=imap_keys)
async def test_imap_search_keys_find_the_same_messages_in_python_and_in_sql(
    folder: Folder, values: list[tuple[frozenset[str], datetime, int]], key_text: str
) -> None:
    metas = _metas(folder, values)
    await folder.holds(metas)
    key = parse_search(CommandReader(key_text.encode()), "UTF-8")

    in_sql = await folder.sql_finds(key)

    assert in_sql == _imap_finds(key_text, metas), key_text


_q_terms: dict[str, Any] = {
    "state": st.sampled_from([None, ("is:unread", "UNSEEN"), ("is:read", "SEEN"), ("is:seen", "SEEN")]),
    "flagged": st.sampled_from([None, ("is:flagged", "FLAGGED"), ("is:starred", "FLAGGED")]),
    "after": st.one_of(st.none(), _days.map(lambda d: (f"after:{FIRST_DAY + timedelta(days=d)}", d))),
    "before": st.one_of(st.none(), _days.map(lambda d: (f"before:{FIRST_DAY + timedelta(days=d)}", d))),
}


@st.composite
def q_and_imap(draw: st.DrawFn) -> tuple[str, str]:
    """A `q` of the terms IMAP SEARCH shares, each at most once, and the SEARCH keys that mean the same."""
    state, flagged, after, before = (draw(_q_terms[name]) for name in ("state", "flagged", "after", "before"))
    q_terms, imap_terms = [], ["ALL"]
    for term in (state, flagged):
        if term is not None:
            q_terms.append(term[0])
            imap_terms.append(term[1])
    if after is not None:
        q_terms.append(after[0])
        imap_terms.append(f"SINCE {_imap_date(after[1])}")
    if before is not None:
        q_terms.append(before[0])
        imap_terms.append(f"BEFORE {_imap_date(before[1])}")
    return " ".join(draw(st.permutations(q_terms))), " ".join(imap_terms)


@PROPERTY
@given(values=folder_facts, question=q_and_imap())
async def test_q_finds_what_imap_search_finds_for_the_terms_they_share(
    folder: Folder, values: list[tuple[frozenset[str], datetime, int]], question: tuple[str, str]
) -> None:
    q, key_text = question
    metas = _metas(folder, values)
    await folder.holds(metas)

    found = await folder.q_finds(q)

    assert found == _imap_finds(key_text, metas), (q, key_text)
