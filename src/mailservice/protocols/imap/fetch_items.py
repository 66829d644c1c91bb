"""The FETCH item grammar (RFC 3501 section 6.4.5, BINARY from RFC 3516, MODSEQ from RFC 7162)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailservice.protocols.imap.command_reader import CommandReader

SIMPLE_ITEMS = frozenset(
    {
        "FLAGS",
        "UID",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODY",
        "BODYSTRUCTURE",
        "MODSEQ",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.TEXT",
    }
)
MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_NAME = re.compile(rb"[A-Za-z0-9.]+")
_PART = re.compile(rb"[0-9]+(?:\.[0-9]+)*")
_TEXT_SUFFIX = re.compile(rb"(?:HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)", re.IGNORECASE)


@dataclass(frozen=True)
class SectionItem:
    """BODY[...] / BODY.PEEK[...] / BINARY[...] / BINARY.PEEK[...] / BINARY.SIZE[...].

    `section` is the part path and suffix as sent to `section_bytes` ("1.2.TEXT"); for
    HEADER.FIELDS it is the part path and "HEADER.FIELDS" or "HEADER.FIELDS.NOT", with `fields`.
    """

    kind: str  # "BODY", "BINARY" or "BINARY.SIZE"
    section: str
    fields: tuple[str, ...] = ()
    peek: bool = False
    partial: tuple[int, int] | None = None

    @property
    def label(self) -> str:
        """The item name in the response ("BODY[1.MIME]<0>")."""
        inner = self.section
        if self.fields:
            inner += " (" + " ".join(self.fields) + ")"
        origin = f"<{self.partial[0]}>" if self.partial is not None and self.kind != "BINARY.SIZE" else ""
        return f"{self.kind}[{inner}]{origin}"

    @property
    def sets_seen(self) -> bool:
        return not self.peek and self.kind != "BINARY.SIZE"


FetchItem = str | SectionItem


@dataclass(frozen=True)
class FetchRequest:
    items: tuple[FetchItem, ...]
    changed_since: int | None = None
    vanished: bool = False
    """QRESYNC's VANISHED modifier: also report the expunges since `changed_since`."""

    def wants(self, name: str) -> bool:
        return name in self.items

    @property
    def sets_seen(self) -> bool:
        return any(
            item in ("RFC822", "RFC822.TEXT") or (isinstance(item, SectionItem) and item.sets_seen)
            for item in self.items
        )


def parse_fetch_items(reader: CommandReader) -> FetchRequest:
    """The items after the sequence set: a macro, one item, or a parenthesized list; then modifiers."""
    if reader.accept(b"("):
        items: list[FetchItem] = []
        while not reader.accept(b")"):
            if items:
                reader.space()
            items.append(_item(reader))
    else:
        name = _peek_name(reader)
        if name in MACROS:
            reader.position += len(name)
            items = list(MACROS[name])
        else:
            items = [_item(reader)]
    changed_since, vanished = _modifiers(reader)
    return FetchRequest(tuple(items), changed_since, vanished)


def _modifiers(reader: CommandReader) -> tuple[int | None, bool]:
    """CHANGEDSINCE's modseq and whether VANISHED was given (which needs CHANGEDSINCE)."""
    changed_since: int | None = None
    vanished = False
    if reader.at_end():
        return changed_since, vanished
    reader.space()
    reader.expect(b"(")
    first = True
    while not reader.accept(b")"):
        if not first:
            reader.space()
        first = False
        name = reader.word()
        if name == "CHANGEDSINCE":
            reader.space()
            changed_since = reader.mod_sequence()
        elif name == "VANISHED":
            vanished = True
        else:
            raise reader.error(f"unknown FETCH modifier {name}")
    if vanished and changed_since is None:
        raise reader.error("VANISHED needs CHANGEDSINCE")
    return changed_since, vanished


def _peek_name(reader: CommandReader) -> str:
    found = _NAME.match(reader.data, reader.position)
    return "" if found is None else found.group(0).decode("ascii").upper()


def _item(reader: CommandReader) -> FetchItem:
    name = _peek_name(reader)
    if not name:
        raise reader.error("expected a FETCH item")
    reader.position += len(name)
    if name in SIMPLE_ITEMS and not reader.peek(b"["):
        return name
    kinds = {
        "BODY": ("BODY", False),
        "BODY.PEEK": ("BODY", True),
        "BINARY": ("BINARY", False),
        "BINARY.PEEK": ("BINARY", True),
        "BINARY.SIZE": ("BINARY.SIZE", True),
    }
    if name not in kinds or not reader.accept(b"["):
        raise reader.error(f"unknown FETCH item {name}")
    kind, peek = kinds[name]
    section, fields = _section(reader, kind != "BODY")
    partial = _partial(reader) if kind != "BINARY.SIZE" else None
    return SectionItem(kind, section, fields, peek, partial)


def _section(reader: CommandReader, binary: bool) -> tuple[str, tuple[str, ...]]:
    path = ""
    found = _PART.match(reader.data, reader.position)
    if found is not None:
        path = found.group(0).decode("ascii")
        reader.position = found.end()
        if any(number == "0" or number.startswith("0") for number in path.split(".")):
            raise reader.error("invalid section number")
    if binary:
        reader.expect(b"]")
        return path, ()
    suffix = ""
    if (not path or reader.accept(b".")) and not reader.peek(b"]"):
        match = _TEXT_SUFFIX.match(reader.data, reader.position)
        if match is None:
            raise reader.error("invalid section")
        reader.position = match.end()
        suffix = match.group(0).decode("ascii").upper()
        if suffix == "MIME" and not path:
            raise reader.error("MIME needs a part number")
    fields: tuple[str, ...] = ()
    if suffix.startswith("HEADER.FIELDS"):
        reader.space()
        fields = tuple(value.decode("ascii", "replace") for value in reader.parenthesized())
        if not fields:
            raise reader.error("HEADER.FIELDS needs at least one field")
    reader.expect(b"]")
    section = f"{path}.{suffix}" if path and suffix else path or suffix
    return section, fields


def parse_body_section(text: bytes) -> SectionItem:
    """The BODY.PEEK item of a section written alone ("1.2.MIME", "HEADER.FIELDS (To)"), as an IMAP
    URL's `;SECTION=` names it (RFC 5092); `ParseError` if it is not one."""
    reader = CommandReader(text + b"]")
    section, fields = _section(reader, False)
    reader.end()
    return SectionItem("BODY", section, fields, peek=True)


def _partial(reader: CommandReader) -> tuple[int, int] | None:
    if not reader.accept(b"<"):
        return None
    start = reader.size_number()
    reader.expect(b".")
    length = reader.size_number()
    if length == 0:
        raise reader.error("expected a non-zero number")
    reader.expect(b">")
    return start, length
