"""Byte-level MIME tree scanner: header and body offsets of every entity, as Dovecot 2.3 cuts them.

A delimiter is a line starting with "--" followed by the boundary of any enclosing multipart still
open (a prefix match; the longest boundary wins, the innermost on a tie). The line break before it
belongs to the delimiter, so a part's header may end without its blank line, or even be empty.
A multipart's own boundary counts from its header's blank line on (so a delimiter right after that
blank line opens its body rather than ending its header). After "--boundary--" the multipart's
epilogue runs to the next delimiter of an outer multipart; a last delimiter line without a line
break starts nothing. A multipart without a boundary, or whose header has no blank line, has no
parts. Whatever is missing at the end of the input simply ends there; nothing here raises.

One Dovecot quirk is kept because it shows in sizes: when a delimiter cuts a header short (no blank
line before it, or the blank line is the delimiter's own line break), that line break is counted
in the bodies of the entities the delimiter ends (all but the cut header's own entity), e.g. a
message/rfc822 part whose enclosed message has no blank line after its header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from .field_values import ContentType
from .header_block import Fields, blank_line_end, read_fields
from .mime_fields import LEAF, MESSAGE, MULTIPART, MimeFields, read_mime

MAX_DEPTH = 99  # like Dovecot's 100 nested parts: deeper containers become opaque leaves
MAX_PARTS = 10_000  # Dovecot's limit too: no delimiter is seen once that many entities exist
_CR, _LF = 13, 10


@dataclass(slots=True)
class Entity:
    """A message or MIME part: `header_start:header_end` then the body up to `body_end`."""

    header_start: int
    header_end: int
    body_end: int
    fields: Fields
    mime: MimeFields
    kind: int
    children: list[Entity] = field(default_factory=list)
    cut_short: bool = False  # a delimiter ended the header before any blank line


class _Delimiter(NamedTuple):
    cut: int  # where the body before the delimiter ends
    line: int  # where the "--boundary" line starts
    level: int  # index of the boundary in the stack
    closing: bool
    orphan: int = 0  # line break of a header it cut short (see the module docstring)

    @property
    def end(self) -> int:
        return self.cut + self.orphan


Stack = tuple[bytes, ...]
_UNKNOWN = _Delimiter(-1, -1, -1, False)


class _Scanner:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.size = len(raw)
        self.count = 0

    def entity(
        self,
        start: int,
        stack: Stack,
        depth: int,
        in_multipart: bool,
        in_digest: bool,
        known: _Delimiter | None,
    ) -> tuple[Entity, _Delimiter | None]:
        self.count += 1
        delimiter = self.find_delimiter(start, stack) if known is _UNKNOWN else known
        if self.count >= MAX_PARTS:
            delimiter = None  # like Dovecot: the last part allowed runs to the end
        region_end = self.size if delimiter is None else delimiter.cut
        blank = blank_line_end(self.raw, start, region_end)
        fields = read_fields(self.raw, start, region_end if blank is None else blank)
        mime = read_mime(fields, in_multipart, in_digest)
        kind = self.kind(mime, depth)
        if blank is None and kind == MULTIPART:
            blank = self.own_body_start(delimiter, stack, mime)
        entity = Entity(start, region_end if blank is None else blank, region_end, fields, mime, kind)
        entity.cut_short = blank is None and delimiter is not None and delimiter.line > start
        delimiter = self.body(entity, blank is not None, stack, depth, delimiter)
        if entity.cut_short and delimiter is not None:
            delimiter = delimiter._replace(orphan=delimiter.line - delimiter.cut)
        return entity, delimiter

    def kind(self, mime: MimeFields, depth: int) -> int:
        """LEAF, MULTIPART or MESSAGE; past Dovecot's limits a container is application/octet-stream."""
        if (mime.kind != LEAF and depth >= MAX_DEPTH) or (mime.kind == MESSAGE and self.count >= MAX_PARTS):
            params = () if mime.content_type is None else mime.content_type.params
            mime.content_type = ContentType(b"application", b"octet-stream", params)
            mime.type_name = "application/octet-stream"
            return LEAF
        return mime.kind

    def body(
        self, entity: Entity, blank: bool, stack: Stack, depth: int, delimiter: _Delimiter | None
    ) -> _Delimiter | None:
        """Scan what follows the header: parts of a multipart, the enclosed message of a message/rfc822."""
        mime = entity.mime
        if entity.kind == MULTIPART and blank and mime.boundary is not None:
            digest = mime.type_name == "multipart/digest"
            return self.multipart_body(entity, (*stack, mime.boundary), depth, digest)
        if entity.kind == MESSAGE and entity.cut_short:
            entity.children.append(_empty(entity.header_end))
        elif entity.kind == MESSAGE:
            child, delimiter = self.entity(entity.header_end, stack, depth + 1, False, False, delimiter)
            entity.children.append(child)
            entity.body_end = child.body_end if delimiter is None else delimiter.end
        return delimiter

    def multipart_body(self, entity: Entity, stack: Stack, depth: int, digest: bool) -> _Delimiter | None:
        own = len(stack) - 1
        delimiter = self.find_delimiter(entity.header_end, stack)
        while delimiter is not None and delimiter.level == own and not delimiter.closing:
            start = self.line_end(delimiter.line)
            if start >= self.size and not self.raw.endswith(b"\n"):
                delimiter = None  # a last delimiter line without a line break starts nothing
                break
            child, delimiter = self.entity(start, stack, depth + 1, True, digest, _UNKNOWN)
            entity.children.append(child)
        if delimiter is not None and delimiter.level == own:
            outer = stack[:-1]
            delimiter = self.find_delimiter(self.line_end(delimiter.line), outer) if outer else None
        entity.body_end = self.size if delimiter is None else delimiter.end
        return delimiter

    def own_body_start(self, delimiter: _Delimiter | None, stack: Stack, mime: MimeFields) -> int | None:
        """Where a multipart's body starts when its header's blank line is also the line break of a
        delimiter: Dovecot adds the multipart's own boundary on reaching that blank line, so when the
        delimiter is the multipart's own boundary (longest match), the blank line ends the header."""
        if delimiter is None or mime.boundary is None:
            return None
        if delimiter.cut > 0 and self.raw[delimiter.cut - 1] != _LF:
            return None
        found = self.match(delimiter.line, (*stack, mime.boundary))
        return delimiter.line if found is not None and found[0] == len(stack) else None

    def line_end(self, position: int) -> int:
        found = self.raw.find(b"\n", position)
        return self.size if found < 0 else found + 1

    def find_delimiter(self, start: int, stack: Stack) -> _Delimiter | None:
        """The first delimiter line at or after `start`, which is the beginning of a line."""
        if not stack or self.count >= MAX_PARTS:
            return None
        raw = self.raw
        if raw.startswith(b"--", start) and (found := self.match(start, stack)) is not None:
            return _Delimiter(start, start, *found)
        position = start
        while (newline := raw.find(b"\n--", position)) >= 0:
            line = newline + 1
            if (found := self.match(line, stack)) is not None:
                cut = newline - 1 if newline > start and raw[newline - 1] == _CR else newline
                return _Delimiter(cut, line, *found)
            position = line
        return None

    def match(self, line: int, stack: Stack) -> tuple[int, bool] | None:
        raw, best, best_length = self.raw, -1, -1
        for level in range(len(stack) - 1, -1, -1):
            boundary = stack[level]
            if len(boundary) > best_length and raw.startswith(boundary, line + 2):
                best, best_length = level, len(boundary)
        if best < 0:
            return None
        return best, raw.startswith(b"--", line + 2 + best_length)


def _empty(position: int) -> Entity:
    """The empty message enclosed by a message/rfc822 part whose header a delimiter cut short."""
    return Entity(position, position, position, [], read_mime([], False, False), LEAF)


def scan(raw: bytes) -> Entity:
    """The top-level entity of a message, its parts nested inside."""
    return _Scanner(raw).entity(0, (), 0, False, False, _UNKNOWN)[0]
