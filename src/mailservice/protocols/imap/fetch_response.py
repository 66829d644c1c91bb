"""FETCH responses: a plan made once per command (which items, what data they need), then one
`* n FETCH (...)` line per message built from its metadata, precomputed structure and raw bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, Protocol

from mailservice.domain.mail_session import (
    ALL_STRUCTURE_ITEMS,
    MessageMeta,
    MessageStructure,
    StructureItem,
)
from mailservice.mime.common_fields import all_common, common_field_picker
from mailservice.mime.header_fields import field_picker, select_fields
from mailservice.mime.imap_string import imap_bytes
from mailservice.mime.sections import section_bytes, section_part, stored_parts
from mailservice.mime.transfer import decode_body
from mailservice.protocols.imap.fetch_items import FetchItem, FetchRequest, SectionItem
from mailservice.protocols.imap.flag_text import stored_flags_text
from mailservice.protocols.imap.imap_dates import format_date_time
from mailservice.protocols.imap.replies import CommandFailed


@dataclass
class MessageData:
    number: int
    meta: MessageMeta
    structure: MessageStructure | None
    raw: bytes | None
    header: bytes | None = None
    """The header block alone, loaded instead of `raw` and `structure` when nothing else is needed."""


class SectionSource(Protocol):
    """What a section is cut from: a message's raw bytes, its structure, or its header block alone."""

    @property
    def structure(self) -> MessageStructure | None: ...
    @property
    def raw(self) -> bytes | None: ...
    @property
    def header(self) -> bytes | None: ...


Renderer = Callable[[MessageData], bytes]
_NEED_STRUCTURE = frozenset({"ENVELOPE", "BODY", "BODYSTRUCTURE", "RFC822.HEADER", "RFC822.TEXT"})
_NEED_RAW = frozenset({"RFC822", "RFC822.HEADER", "RFC822.TEXT"})
DECODABLE_ENCODINGS = frozenset({None, "7bit", "8bit", "binary", "base64", "quoted-printable"})
"""Content-Transfer-Encodings BINARY can undo; any other is refused with [UNKNOWN-CTE] (RFC 3516)."""


LineRenderer = Callable[[int, MessageMeta, Any], bytes]
FieldAnswers = dict[int, tuple[int, bytes]]
"""uid -> (the message's size, its HEADER.FIELDS literal), as `FieldsCache` keeps them."""
CommonLiterals = Callable[[Iterable[tuple[int, bytes, bytes]], Mapping[int, MessageMeta]], FieldAnswers]
Reads = Literal["structure", "header"]
"""What an item written from a `_Slot` reads besides the metadata: the structure or the header block."""


@dataclass(frozen=True)
class FieldsPiece:
    """A line whose only read is one `BODY[HEADER.FIELDS ...]` item: that item is made apart from the
    line (`make`, from the header block), so it can be kept and reused (`FieldsCache`)."""

    key: tuple[tuple[str, ...], bool]
    """The field names and whether they are excluded (.NOT): what the item depends on besides the header."""
    make: Callable[[bytes], bytes]
    """header block -> the item's literal (`{n}` CRLF and the fields)."""
    render: LineRenderer
    """(sequence number, meta, the item's literal) -> the `* n FETCH` line."""
    make_common: CommonLiterals | None = None
    """(uid, common header fields, their layout) rows (`MailSession.common_fields`) and the folder's
    metadata -> the answers; set when every field named is a common one (and none is excluded)."""


@dataclass(frozen=True)
class LinePlan:
    """A FETCH of metadata (UID, FLAGS, sizes, dates, modseqs) and either precomputed structure texts
    (ENVELOPE, BODY, BODYSTRUCTURE) or header fields (BODY[HEADER.FIELDS ...], RFC822.HEADER) only:
    one format per message, filled without building its items."""

    render: LineRenderer
    """(sequence number, meta, what the plan reads: the structure, the header block, or None when no
    item reads anything) -> the `* n FETCH` line."""
    fields: FieldsPiece | None = None
    """Set when the only item that reads the message is one HEADER.FIELDS item."""


@dataclass(frozen=True)
class FetchPlan:
    renderers: tuple[Renderer, ...]
    needs_structure: bool
    needs_raw: bool
    line: LinePlan | None = None
    structure_items: frozenset[StructureItem] = ALL_STRUCTURE_ITEMS
    needs_header: bool = False
    """Only each message's header block is needed (HEADER.FIELDS, RFC822.HEADER): neither raw nor structure."""

    def render(self, message: MessageData) -> bytes:
        if self.line is not None:
            data = _header(message) if self.needs_header else message.structure
            return self.line.render(message.number, message.meta, data)
        items = b" ".join([render(message) for render in self.renderers])
        return b"* %d FETCH (%s)\r\n" % (message.number, items)


def plan_fetch(request: FetchRequest, with_uid: bool, with_modseq: bool, with_flags: bool) -> FetchPlan:
    items: list[FetchItem] = list(request.items)
    if with_uid and "UID" not in items:
        items.insert(0, "UID")
    if with_modseq and "MODSEQ" not in items:
        items.append("MODSEQ")
    if with_flags and "FLAGS" not in items:
        items.append("FLAGS")
    needs_structure = any(
        (isinstance(item, SectionItem) and item.section not in ("",)) or item in _NEED_STRUCTURE
        for item in items
    )
    needs_raw = any(isinstance(item, SectionItem) or item in _NEED_RAW for item in items)
    renderers = tuple(_renderer(item) for item in items)
    structure_items = frozenset(found for item in items if (found := _structure_item(item)) is not None)
    readers = [item for item in items if _reads_message(item)]
    needs_header = bool(readers) and all(_reads_header_only(item) for item in readers)
    if needs_header:
        needs_structure = needs_raw = False
    return FetchPlan(renderers, needs_structure, needs_raw, _line_plan(items), structure_items, needs_header)


def _reads_message(item: FetchItem) -> bool:
    return isinstance(item, SectionItem) or item in _NEED_RAW or item in _NEED_STRUCTURE


def _reads_header_only(item: FetchItem) -> bool:
    if isinstance(item, SectionItem):
        return item.kind == "BODY" and bool(item.fields) and item.section.startswith("HEADER.FIELDS")
    return item == "RFC822.HEADER"


def _structure_item(item: FetchItem) -> StructureItem | None:
    """What of the stored structure an item reads besides `header_end` (None: nothing more)."""
    if isinstance(item, SectionItem):
        top_header_fields = item.fields and item.section.startswith("HEADER.FIELDS")
        return None if item.section == "" or top_header_fields else StructureItem.SECTIONS
    return _ITEM_STRUCTURE.get(item)


_ITEM_STRUCTURE = {
    "ENVELOPE": StructureItem.ENVELOPE,
    "BODY": StructureItem.BODY,
    "BODYSTRUCTURE": StructureItem.BODYSTRUCTURE,
}


def _line_plan(items: list[FetchItem]) -> LinePlan | None:
    slots = [_slot(item) for item in items]
    reads = {slot.reads for slot in slots if slot is not None}
    if None in slots or {"header", "structure"} <= reads:
        return None
    readers = [
        (item, slot) for item, slot in zip(items, slots, strict=True) if slot is not None and slot.reads
    ]
    fields = None
    if len(readers) == 1:
        ((reader, slot),) = readers
        if isinstance(reader, SectionItem) and slot.helper is not None:
            exclude = reader.section.endswith(".NOT")
            make_common = (
                None if exclude or not all_common(reader.fields) else _common_literals(reader.fields)
            )
            render = _line_renderer(tuple(items), prefilled=True)
            fields = FieldsPiece((reader.fields, exclude), slot.helper, render, make_common)
    return LinePlan(_line_renderer(tuple(items)), fields)


@dataclass(frozen=True)
class _Slot:
    """How one item is written, in a FETCH line or alone: its format, with one `%s`/`%d`, and the
    expression that fills it from `meta` (the message's `MessageMeta`) and `data` (what `reads` names:
    the structure, the header block, or None). Both renderers are generated from these, so an item
    is written by one rule whichever path serves it."""

    format: bytes
    expression: str
    reads: Reads | None = None
    helper: Callable[[bytes], bytes] | None = None
    """A function of `data` the expression calls as `helper`."""


def _slot(item: FetchItem) -> _Slot | None:
    """The slot of an item that needs no more than metadata and one of structure or header block."""
    if not isinstance(item, SectionItem):
        return _SLOTS.get(item)
    if item.partial is not None or not _reads_header_only(item):
        return None
    label = item.label.encode("ascii", "replace").replace(b"%", b"%%")
    helper = _fields_literal(item.fields, item.section.endswith(".NOT"))
    return _Slot(label + b" %s", "helper(data)", "header", helper)


def _compiled(slots: tuple[_Slot, ...], prefilled: bool = False) -> tuple[bytes, str, dict[str, object]]:
    """The slots' formats joined by spaces, the source of the values that fill them ("a, b, "), and
    the names those use. `prefilled`: `data` is already what the one helper-made slot writes."""
    namespace = dict(_NAMESPACE)
    values = []
    for index, slot in enumerate(slots):
        expression = slot.expression
        if slot.helper is not None and prefilled:
            expression = "data"
        elif slot.helper is not None:
            namespace[f"helper_{index}"] = slot.helper
            expression = expression.replace("helper(", f"helper_{index}(")
        values.append(expression + ", ")
    return b" ".join(slot.format for slot in slots), "".join(values), namespace


@lru_cache(maxsize=256)
def _line_renderer(items: tuple[FetchItem, ...], prefilled: bool = False) -> LineRenderer:
    """One function per item list that fills the whole line with one `%`, generated from the items'
    slots (as `dataclasses` generates `__init__`): a loop over one getter per item costs twice as
    much per message, and a FETCH 1:* runs this for every message. `prefilled`: the line's one
    HEADER.FIELDS item comes made as `data` (`FieldsPiece`)."""
    slots = tuple(slot for item in items if (slot := _slot(item)) is not None)
    formats, values, namespace = _compiled(slots, prefilled)
    namespace["template"] = b"* %d FETCH (" + formats + b")\r\n"
    render: LineRenderer = eval(f"lambda number, meta, data: template % (number, {values})", namespace)
    return render


def _slot_renderer(slot: _Slot) -> Renderer:
    """One item alone, for the general path: the same format and expression as in a generated line."""
    formats, values, namespace = _compiled((slot,))
    namespace["template"] = formats
    data = "None"
    if slot.reads is not None:
        namespace["load"], data = _LOADERS[slot.reads], "load(message)"
    exec(
        f"def render(message):\n meta, data = message.meta, {data}\n return template % ({values})", namespace
    )
    render: Renderer = namespace["render"]  # type: ignore[assignment]
    return render


@lru_cache(maxsize=256)
def _fields_literal(fields: tuple[str, ...], exclude: bool) -> Callable[[bytes], bytes]:
    """Cached: one function per field list, made once (a client sends the same list sync after sync)."""
    pick = field_picker(fields, exclude)

    def render(header: bytes) -> bytes:
        return _literal(pick(header))

    return render


@lru_cache(maxsize=256)
def _common_literals(fields: tuple[str, ...]) -> CommonLiterals:
    """`_fields_literal(fields, False)` of many messages' common header fields at once, with each
    message's size, as `FieldsCache` keeps them (one loop over the messages: a sync makes thousands)."""
    pick_rows = common_field_picker(fields).pick_rows

    def render(rows: Iterable[tuple[int, bytes, bytes]], metas: Mapping[int, MessageMeta]) -> FieldAnswers:
        return {
            uid: (
                metas[uid].size,
                b"{%d}\r\n%s\r\n" % (len(data) + 2, data)
                if b"\x00" not in data
                else _literal(data + b"\r\n"),
            )
            for uid, data in pick_rows(rows)
        }

    return render


def _literal(data: bytes, prefix: bytes = b"") -> bytes:
    """`prefix` and a literal of message bytes; NULs, which a literal may not hold, are sent as 0x80
    like Dovecot does."""
    if b"\x00" in data:
        data = data.replace(b"\x00", b"\x80")
    return b"%s{%d}\r\n%s" % (prefix, len(data), data)


def _binary_literal(data: bytes, prefix: bytes) -> bytes:
    """`prefix` and a literal of decoded bytes: literal8 (RFC 3516) when they hold a NUL, which it keeps."""
    return b"%s%s{%d}\r\n%s" % (prefix, b"~" if b"\x00" in data else b"", len(data), data)


@lru_cache(maxsize=4096)
def _date_text(moment: datetime) -> bytes:
    return format_date_time(moment).encode("ascii")


_NAMESPACE: dict[str, object] = {  # what slot expressions call
    "flags": stored_flags_text,
    "date": _date_text,
    "text": imap_bytes,
    "literal": _literal,
}


_SLOTS: dict[str, _Slot] = {
    "UID": _Slot(b"UID %d", "meta.uid"),
    "FLAGS": _Slot(b"FLAGS (%s)", "flags(meta.flags)"),
    "RFC822.SIZE": _Slot(b"RFC822.SIZE %d", "meta.size"),
    "MODSEQ": _Slot(b"MODSEQ (%d)", "meta.modseq"),
    "INTERNALDATE": _Slot(b'INTERNALDATE "%s"', "date(meta.internal_date)"),
    "ENVELOPE": _Slot(b"ENVELOPE %s", "text(data.envelope)", "structure"),
    "BODY": _Slot(b"BODY %s", "text(data.body)", "structure"),
    "BODYSTRUCTURE": _Slot(b"BODYSTRUCTURE %s", "text(data.bodystructure)", "structure"),
    "RFC822.HEADER": _Slot(b"RFC822.HEADER %s", "literal(data)", "header"),
}
"""The items every path writes from a slot; the others (RFC822, RFC822.TEXT, sections) are literals of
message bytes written only by the general path."""


@lru_cache(maxsize=1024)
def _renderer(item: FetchItem) -> Renderer:
    """Cached: generating a slot's renderer costs ten times planning a FETCH, and clients send the
    same items command after command."""
    slot = _slot(item)
    if slot is not None:
        return _slot_renderer(slot)
    if isinstance(item, SectionItem):
        return _section_renderer(item)
    return _SIMPLE[item]


def _structure(message: SectionSource) -> MessageStructure:
    if message.structure is None:
        raise LookupError("message structure was not loaded")
    return message.structure


def _raw(message: SectionSource) -> bytes:
    if message.raw is None:
        raise LookupError("message bytes were not loaded")
    return message.raw


def _rfc822(message: MessageData) -> bytes:
    return _literal(_raw(message), b"RFC822 ")


def _header(message: SectionSource) -> bytes:
    if message.header is not None:
        return message.header
    return _raw(message)[: _structure(message).header_end]


def _rfc822_text(message: MessageData) -> bytes:
    return _literal(_raw(message)[_structure(message).header_end :], b"RFC822.TEXT ")


_SIMPLE: dict[str, Renderer] = {"RFC822": _rfc822, "RFC822.TEXT": _rfc822_text}
_LOADERS: dict[Reads, Callable[[MessageData], object]] = {
    "structure": _structure,
    "header": _header,
}


def _section_renderer(item: SectionItem) -> Renderer:
    label = item.label.encode("ascii", "replace")
    prefix = label + b" "
    if item.kind == "BODY" and item.section == "" and item.partial is None:
        return lambda message: _literal(_raw(message), prefix)

    def render(message: MessageData) -> bytes:
        content = section_content(item, message)
        if item.kind == "BINARY.SIZE":
            return b"%s %d" % (label, 0 if content is None else len(content))
        if content is None:
            return label + b' ""'
        if item.partial is not None:
            start, length = item.partial
            content = content[start : start + length]
        return _binary_literal(content, prefix) if item.kind == "BINARY" else _literal(content, prefix)

    return render


def section_content(item: SectionItem, message: SectionSource) -> bytes | None:
    if item.fields and item.section.startswith("HEADER.FIELDS"):
        return select_fields(_header(message), item.fields, exclude=item.section.endswith(".NOT"))
    raw = _raw(message)
    if item.section == "":
        return raw
    structure = _structure(message)
    parts = stored_parts(structure.header_end, structure.content_type, structure.parts_json)
    if item.fields:
        path, _, suffix = item.section.rpartition("HEADER.FIELDS")
        header = section_bytes(raw, parts, path + "HEADER")
        if header is None:
            return None
        return select_fields(header, item.fields, exclude=suffix == ".NOT")
    if item.kind == "BODY":
        return section_bytes(raw, parts, item.section)
    content = section_bytes(raw, parts, item.section)
    part = section_part(parts, item.section)
    if content is None or part is None:
        return content
    if part.transfer_encoding not in DECODABLE_ENCODINGS:
        raise CommandFailed("Unknown Content-Transfer-Encoding.", "UNKNOWN-CTE")
    return decode_body(content, part.transfer_encoding)
