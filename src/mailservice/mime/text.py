"""The text parts of a message: its first text/plain part and its first text/html part that are not
attachments, transfer encoding and charset decoded, CRLF as LF. Turning HTML into text is not done
here: `adapters.extract.readable_text` is the one engine for that, since it must drop hidden content.

A multipart without any part (no boundary, say) and a top-level part with an unreadable
Content-Type are read as plain text, so that such mail still shows something.
"""

from __future__ import annotations

from .charset import decode_text
from .mime_fields import LEAF, MULTIPART
from .parsed import PartInfo
from .parts import NumberedPart
from .structure import Entity
from .transfer import decode_body

_PLAIN = frozenset({"text/plain", "text", ""})


# Readable text is for people and agents, and is stored capped; decoding only the start of a huge part
# keeps a 25 MiB message from being copied several times over while it is parsed.
MAX_DECODED_SOURCE_BYTES = 4 * 1024 * 1024


def decoded_part(raw: bytes, part: PartInfo) -> str:
    end = min(part.body_end, part.body_start + MAX_DECODED_SOURCE_BYTES)
    body = decode_body(raw[part.body_start : end], part.transfer_encoding)
    return decode_text(body, part.charset).replace("\r\n", "\n")


def extract(raw: bytes, root: Entity, parts: list[NumberedPart]) -> tuple[str, str | None]:
    """(plain text, html) of a message; the plain text is "" when there is no plain part."""
    plain = html = None
    for part in parts:
        if part.inside_attachment or part.info.is_attachment or part.entity.kind != LEAF:
            continue
        content_type = part.info.content_type
        if plain is None and content_type in _PLAIN:
            plain = part.info
        elif html is None and content_type == "text/html":
            html = part.info
    html_text = None if html is None else decoded_part(raw, html)
    if plain is not None:
        return decoded_part(raw, plain), html_text
    if html_text is not None:
        return "", html_text
    if root.kind == MULTIPART and not root.children:
        end = root.header_end + MAX_DECODED_SOURCE_BYTES
        return decode_text(raw[root.header_end : end], None).replace("\r\n", "\n"), None
    return "", None
