"""FETCH responses: a plan made once per command (which items, what data they need), then one
`* n FETCH (...)` line per message built from its metadata, precomputed structure and raw bytes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from mailservice.adapters.mime.header_fields import select_fields
from mailservice.adapters.mime.imap_string import imap_bytes
from mailservice.adapters.mime.sections import section_bytes, section_part, stored_parts
from mailservice.adapters.mime.transfer import decode_body
from mailservice.domain.mail_session import (
    ALL_STRUCTURE_ITEMS,
    MessageMeta,
    MessageStructure,
    StructureItem,
)
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


Renderer = Callable[[MessageData], bytes]
_NEED_STRUCTURE = frozenset({"ENVELOPE", "BODY", "BODYSTRUCTURE", "RFC822.HEADER", "RFC822.TEXT"})
_NEED_RAW = frozenset({"RFC822", "RFC822.HEADER", "RFC822.TEXT"})
DECODABLE_ENCODINGS = frozenset({None, "7bit", "8bit", "binary", "base64", "quoted-printable"})
"""Content-Transfer-Encodings BINARY can undo; any other is refused with [UNKNOWN-CTE] (RFC 3516)."""


LineRenderer = Callable[[int, MessageMeta, Any], bytes]


@dataclass(frozen=True)
class LinePlan:
    """A FETCH of metadata (UID, FLAGS, sizes, dates, modseqs) and either precomputed structure texts
    (ENVELOPE, BODY, BODYSTRUCTURE) or header fields (BODY[HEADER.FIELDS ...], RFC822.HEADER) only:
    one format per message, filled without building its items."""

    render: LineRenderer
    """(sequence number, meta, what the plan reads: the structure, the header block, or None when no
    item reads anything) -> the `* n FETCH` line."""


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
    in_line = [item for item in items if _in_line(item)]
    headers = any(_reads_message(item) and _reads_header_only(item) for item in in_line)
    structures = any(item in _ITEM_STRUCTURE for item in in_line)
    if len(in_line) < len(items) or (headers and structures):
        return None
    return LinePlan(_line_renderer(tuple(items)))


def _in_line(item: FetchItem) -> bool:
    if isinstance(item, SectionItem):
        return item.partial is None and _reads_header_only(item)
    return item in _LINE_ITEMS


@lru_cache(maxsize=256)
def _line_renderer(items: tuple[FetchItem, ...]) -> LineRenderer:
    """One function per item list that fills the whole line with one `%`, generated from the fixed
    expressions of `_LINE_ITEMS` (as `dataclasses` generates `__init__`): a loop over one getter per
    item costs twice as much per message, and a FETCH 1:* runs this for every message."""
    namespace: dict[str, object] = {
        "flags": stored_flags_text,
        "date": _date_text,
        "text": imap_bytes,
        "literal": _literal,
    }
    formats, values = [], []
    for index, item in enumerate(items):
        if isinstance(item, SectionItem):
            label = item.label.encode("ascii", "replace").replace(b"%", b"%%")
            formats.append(label + b" %s")
            namespace[f"fields_{index}"] = _fields_literal(item.fields, item.section.endswith(".NOT"))
            values.append(f"fields_{index}(data)")
        else:
            formats.append(_LINE_ITEMS[item][0])
            values.append(_LINE_ITEMS[item][1])
    namespace["template"] = b"* %d FETCH (" + b" ".join(formats) + b")\r\n"
    source = f"lambda number, meta, data: template % (number, {''.join(v + ', ' for v in values)})"
    render: LineRenderer = eval(source, namespace)
    return render


def _fields_literal(fields: tuple[str, ...], exclude: bool) -> Callable[[bytes], bytes]:
    def render(header: bytes) -> bytes:
        return _literal(select_fields(header, fields, exclude=exclude))

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


_LINE_ITEMS: dict[str, tuple[bytes, str]] = {
    "UID": (b"UID %d", "meta.uid"),
    "FLAGS": (b"FLAGS (%s)", "flags(meta.flags)"),
    "RFC822.SIZE": (b"RFC822.SIZE %d", "meta.size"),
    "MODSEQ": (b"MODSEQ (%d)", "meta.modseq"),
    "INTERNALDATE": (b'INTERNALDATE "%s"', "date(meta.internal_date)"),
    "ENVELOPE": (b"ENVELOPE %s", "text(data.envelope)"),
    "BODY": (b"BODY %s", "text(data.body)"),
    "BODYSTRUCTURE": (b"BODYSTRUCTURE %s", "text(data.bodystructure)"),
    "RFC822.HEADER": (b"RFC822.HEADER %s", "literal(data)"),
}
"""Items a `LinePlan` serves: their format and the expression that fills it."""


def _renderer(item: FetchItem) -> Renderer:
    if isinstance(item, SectionItem):
        return _section_renderer(item)
    return _SIMPLE[item]


def _flags(message: MessageData) -> bytes:
    return b"FLAGS (%s)" % stored_flags_text(message.meta.flags)


def _uid(message: MessageData) -> bytes:
    return b"UID %d" % message.meta.uid


def _internal_date(message: MessageData) -> bytes:
    return b'INTERNALDATE "%s"' % _date_text(message.meta.internal_date)


def _size(message: MessageData) -> bytes:
    return b"RFC822.SIZE %d" % message.meta.size


def _modseq(message: MessageData) -> bytes:
    return b"MODSEQ (%d)" % message.meta.modseq


def _structure(message: MessageData) -> MessageStructure:
    if message.structure is None:
        raise LookupError("message structure was not loaded")
    return message.structure


def _raw(message: MessageData) -> bytes:
    if message.raw is None:
        raise LookupError("message bytes were not loaded")
    return message.raw


def _envelope(message: MessageData) -> bytes:
    return b"ENVELOPE " + imap_bytes(_structure(message).envelope)


def _body(message: MessageData) -> bytes:
    return b"BODY " + imap_bytes(_structure(message).body)


def _bodystructure(message: MessageData) -> bytes:
    return b"BODYSTRUCTURE " + imap_bytes(_structure(message).bodystructure)


def _rfc822(message: MessageData) -> bytes:
    return _literal(_raw(message), b"RFC822 ")


def _header(message: MessageData) -> bytes:
    if message.header is not None:
        return message.header
    return _raw(message)[: _structure(message).header_end]


def _rfc822_header(message: MessageData) -> bytes:
    return _literal(_header(message), b"RFC822.HEADER ")


def _rfc822_text(message: MessageData) -> bytes:
    return _literal(_raw(message)[_structure(message).header_end :], b"RFC822.TEXT ")


_SIMPLE: dict[str, Renderer] = {
    "FLAGS": _flags,
    "UID": _uid,
    "INTERNALDATE": _internal_date,
    "RFC822.SIZE": _size,
    "MODSEQ": _modseq,
    "ENVELOPE": _envelope,
    "BODY": _body,
    "BODYSTRUCTURE": _bodystructure,
    "RFC822": _rfc822,
    "RFC822.HEADER": _rfc822_header,
    "RFC822.TEXT": _rfc822_text,
}


def _section_renderer(item: SectionItem) -> Renderer:
    label = item.label.encode("ascii", "replace")
    prefix = label + b" "
    if item.kind == "BODY" and item.section == "" and item.partial is None:
        return lambda message: _literal(_raw(message), prefix)
    if item.section == "HEADER.FIELDS" and item.partial is None:
        return _header_fields_renderer(prefix, item.fields)

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


def _header_fields_renderer(prefix: bytes, fields: tuple[str, ...]) -> Renderer:
    """The header-sync fetch clients run on every folder, kept short."""

    def render(message: MessageData) -> bytes:
        return _literal(select_fields(_header(message), fields), prefix)

    return render


def section_content(item: SectionItem, message: MessageData) -> bytes | None:
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
