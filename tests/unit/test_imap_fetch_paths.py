"""The two ways a FETCH line is rendered agree byte for byte: the generated one-format-per-item-list
line (`LinePlan`, for lists of in-line items) and the general per-item renderers, for any item list
the parser accepts and any message, NUL bytes, bare LF and 8-bit headers included."""

from __future__ import annotations

import dataclasses
import functools
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mailservice.domain.mail_session import MessageMeta, MessageStructure, StructureItem
from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.fetch_items import FetchItem, SectionItem, parse_fetch_items
from mailservice.protocols.imap.fetch_response import FetchPlan, MessageData, plan_fetch
from mailservice.protocols.imap.replies import CommandFailed
from tests.interop.corpus import CORPUS
from tests.support.cheap_strategies import joined_bytes
from tests.support.imap_messages import MULTIPART, NESTED, PLAIN
from tests.support.memory_mail_session import structure_of

_SIMPLE_ITEMS = ("FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "MODSEQ", "ENVELOPE", "BODY", "BODYSTRUCTURE")
_READING_ITEMS = ("RFC822", "RFC822.HEADER", "RFC822.TEXT")
_FIELD_NAMES = (
    "From",
    "to",
    "SUBJECT",
    "Date",
    "Message-ID",
    "Content-Type",
    "X-Tag",
    "Received",
    "X-Missing",
)
_KNOWN_MESSAGES = (PLAIN, MULTIPART, NESTED, *(stored.raw for stored in CORPUS))


def _fields() -> st.SearchStrategy[str]:
    names = st.lists(st.sampled_from(_FIELD_NAMES), min_size=1, max_size=4)
    return names.map(lambda chosen: "(" + " ".join(chosen) + ")")


def _partial() -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(""),
        st.builds("<{}.{}>".format, st.integers(0, 300), st.integers(1, 300)),
    )


_PART = st.lists(st.integers(1, 3), min_size=1, max_size=3).map(lambda numbers: ".".join(map(str, numbers)))


@st.composite
def _section_item(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(("BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE")))
    if kind.startswith("BINARY"):
        section = draw(st.one_of(st.just(""), _PART))
    else:
        path = draw(st.one_of(st.just(""), _PART))
        suffixes = ["", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"] + (["MIME"] if path else [])
        suffix = draw(st.sampled_from(suffixes))
        section = ".".join(filter(None, (path, suffix)))
        if suffix.startswith("HEADER.FIELDS"):
            section += " " + draw(_fields())
    partial = "" if kind == "BINARY.SIZE" else draw(_partial())
    return f"{kind}[{section}]{partial}"


@st.composite
def _in_line_item(draw: st.DrawFn) -> str:
    """An item a `LinePlan` can serve (header fields of the whole message, no partial)."""
    peek = draw(st.sampled_from(("BODY", "BODY.PEEK")))
    suffix = draw(st.sampled_from(("HEADER.FIELDS", "HEADER.FIELDS.NOT")))
    return f"{peek}[{suffix} {draw(_fields())}]"


_ANY_ITEM = st.one_of(st.sampled_from(_SIMPLE_ITEMS + _READING_ITEMS), _section_item())
_METADATA_ITEMS = st.sampled_from(("FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "MODSEQ"))
_IN_LINE_LISTS = st.one_of(
    st.lists(st.one_of(_METADATA_ITEMS, st.sampled_from(("ENVELOPE", "BODY", "BODYSTRUCTURE"))), min_size=1),
    st.lists(st.one_of(_METADATA_ITEMS, st.just("RFC822.HEADER"), _in_line_item()), min_size=1),
)

_HEADER_PIECES = (
    b"a",
    b"Zo\xc3\xab",
    b" ",
    b"\t",
    b"\x00",
    b"\x80",
    b"\xff",
    b'"',
    b"\\",
    b"%",
    b",",
    b"(c)",
    b"=?utf-8?q?R=C3=A9?=",
    b"<a@example.org>",
)
_HEADER_VALUE = joined_bytes(_HEADER_PIECES, 12)


@st.composite
def _odd_message(draw: st.DrawFn) -> bytes:
    """Headers with NULs, 8-bit bytes and folded lines, lines ended by CRLF or a bare LF."""
    end = draw(st.sampled_from((b"\r\n", b"\n")))
    names = st.sampled_from((b"From", b"To", b"Subject", b"Date", b"X-Tag", b"Content-Type", b"received"))
    lines = draw(st.lists(st.tuples(names, _HEADER_VALUE, st.booleans()), max_size=8))
    header = b"".join(
        name + b": " + value + (end + b"\t" + value if folded else b"") + end for name, value, folded in lines
    )
    body = draw(st.binary(max_size=60))
    return header + end + body


_MESSAGES = st.one_of(st.sampled_from(_KNOWN_MESSAGES), _odd_message())
_FLAGS = st.frozensets(st.sampled_from(("\\Seen", "\\Flagged", "\\Deleted", "\\Draft", "$Label1", "work")))


_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def _internal_date(seconds: int, microseconds: int, offset_minutes: int) -> datetime:
    moment = _EARLIEST + timedelta(seconds=seconds, microseconds=microseconds)
    return moment.astimezone(timezone(timedelta(minutes=offset_minutes)))


# Built once; the size is the message's, set when both are drawn. Instants from 1990 to 2090 as whole
# seconds plus microseconds: integers are much cheaper for Hypothesis to draw than `st.datetimes`.
_META = st.builds(
    MessageMeta,
    uid=st.integers(1, 2**32 - 1),
    modseq=st.integers(1, 2**63 - 1),
    flags=_FLAGS,
    internal_date=st.builds(
        _internal_date,
        st.integers(0, int((datetime(2090, 1, 1, tzinfo=UTC) - _EARLIEST).total_seconds())),
        st.integers(0, 999_999),
        st.integers(-12 * 60, 14 * 60),
    ),
    size=st.just(0),
)


def _items(texts: list[str]) -> tuple[FetchItem, ...]:
    return parse_fetch_items(CommandReader(("(" + " ".join(texts) + ")").encode())).items


def _plan(texts: list[str]) -> FetchPlan:
    return plan_fetch(
        dataclasses.replace(parse_fetch_items(CommandReader(b"(UID)")), items=_items(texts)),
        with_uid=False,
        with_modseq=False,
        with_flags=False,
    )


def _general(plan: FetchPlan, message: MessageData) -> bytes:
    """The per-item renderers alone: the reference every generated line must match."""
    return dataclasses.replace(plan, line=None).render(message)


def _as_loaded(plan: FetchPlan, full: MessageData) -> MessageData:
    """What the FETCH command loads for `plan`: only the data and structure columns it asks for."""
    structure = full.structure
    if structure is not None:
        structure = _only(structure, plan.structure_items)
    return MessageData(
        full.number,
        full.meta,
        structure if plan.needs_structure else None,
        full.raw if plan.needs_raw else None,
        full.header if plan.needs_header else None,
    )


def _only(structure: MessageStructure, wanted: frozenset[StructureItem]) -> MessageStructure:
    return structure._replace(
        envelope=structure.envelope if StructureItem.ENVELOPE in wanted else "",
        body=structure.body if StructureItem.BODY in wanted else "",
        bodystructure=structure.bodystructure if StructureItem.BODYSTRUCTURE in wanted else "",
        content_type=structure.content_type if StructureItem.SECTIONS in wanted else "",
        parts_json=structure.parts_json if StructureItem.SECTIONS in wanted else "",
    )


def _message(raw: bytes, meta: MessageMeta, number: int) -> MessageData:
    meta = meta._replace(size=len(raw))
    structure = _structure(raw)._replace(uid=meta.uid)
    return MessageData(number, meta, structure, raw, raw[: structure.header_end])


@functools.lru_cache(maxsize=256)
def _structure(raw: bytes) -> MessageStructure:
    """Parsed once per message: the known messages come up again and again."""
    return structure_of(0, raw)


def _items_alone(line: bytes, number: int) -> bytes:
    prefix = b"* %d FETCH (" % number
    assert line.startswith(prefix) and line.endswith(b")\r\n")
    return line[len(prefix) : -3]


_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(texts=_IN_LINE_LISTS, raw=_MESSAGES, number=st.integers(1, 100_000), meta=_META)
def test_generated_line_renders_what_the_item_renderers_render(
    texts: list[str], raw: bytes, number: int, meta: MessageMeta
) -> None:
    # given an item list served in line, and a message
    plan = _plan(texts)
    assert plan.line is not None
    message = _message(raw, meta, number)
    # when both paths render it, then they agree byte for byte
    assert plan.render(_as_loaded(plan, message)) == _general(plan, message)
    # and so does a line filled with its one HEADER.FIELDS item made apart (as the cache keeps it)
    fields = plan.line.fields
    if fields is not None:
        assert message.header is not None
        made = fields.render(number, message.meta, fields.make(message.header))
        assert made == _general(plan, message)


@_SETTINGS
@given(
    texts=st.lists(_ANY_ITEM, min_size=1, max_size=6),
    raw=_MESSAGES,
    number=st.integers(1, 100_000),
    meta=_META,
)
def test_any_item_list_renders_each_item_as_it_renders_alone(
    texts: list[str], raw: bytes, number: int, meta: MessageMeta
) -> None:
    # given any item list the server accepts, and a message
    plan = _plan(texts)
    message = _message(raw, meta, number)
    try:
        whole = plan.render(_as_loaded(plan, message))
    except CommandFailed:
        assume(False)  # BINARY of a part in an unknown transfer encoding: refused, not rendered
        return
    # when each item is rendered alone, by its generated line when it has one
    alone = []
    for text in texts:
        single = _plan([text])
        alone.append(_items_alone(single.render(_as_loaded(single, message)), number))
    # then the list is those renderings in order, whichever path rendered it
    assert whole == b"* %d FETCH (%s)\r\n" % (number, b" ".join(alone))
    assert whole == _general(plan, message)


def test_both_paths_are_exercised() -> None:
    in_line = _plan(["UID", "FLAGS", "BODY.PEEK[HEADER.FIELDS (From To)]"])
    mixed = _plan(["UID", "BODY.PEEK[HEADER.FIELDS (From)]", "ENVELOPE"])
    assert in_line.line is not None and mixed.line is None
    assert in_line.line.fields is not None
    assert _plan(["UID", "RFC822.HEADER"]).line.fields is None  # type: ignore[union-attr]
    assert _plan(["BODY.PEEK[HEADER.FIELDS (To)]", "RFC822.HEADER"]).line.fields is None  # type: ignore[union-attr]
    assert isinstance(_items(["BINARY.SIZE[1]"])[0], SectionItem)
