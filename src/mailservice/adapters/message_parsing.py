"""Parsing a message once: its MIME structure, visible text, codes, links, preview and sort keys."""

from __future__ import annotations

import json
from dataclasses import fields

from mailservice.adapters.extract import extract_codes, extract_links, readable_text, safe_view
from mailservice.domain.messages import ExtractedCode, ExtractedLink, ParsedMessage
from mailservice.mime import Address, MimeMessage, PartInfo, parse_mime
from mailservice.mime.sort_keys import sort_keys_of

MAX_STORED_TEXT_CHARS = 1_000_000
PREVIEW_CHARS = 200
# The preview is cut from the start of the visible text; laying out more than this could not change it.
PREVIEW_SOURCE_CHARS = 600


def parse_message(raw: bytes) -> ParsedMessage:
    parsed = parse_mime(raw)
    sender = parsed.from_[0] if parsed.from_ else None
    text = readable_text(parsed.text, parsed.html)[:MAX_STORED_TEXT_CHARS]
    return ParsedMessage(
        size=len(raw),
        header_end=parsed.header_end,
        subject=parsed.subject,
        from_address=sender.email or None if sender else None,
        from_name=sender.name if sender else None,
        to=_addresses(parsed.to),
        cc=_addresses(parsed.cc),
        date=parsed.date,
        message_id=parsed.message_id,
        envelope=parsed.envelope,
        body=parsed.body,
        bodystructure=parsed.bodystructure,
        parts_json=parts_json(parsed),
        text=text,
        has_attachments=parsed.has_attachments,
        codes=tuple(
            ExtractedCode(c.code, c.score, c.context, c.source)
            for c in extract_codes(parsed.subject, parsed.text, parsed.html)
        ),
        links=tuple(
            ExtractedLink(link.url, link.text, link.kind) for link in extract_links(parsed.text, parsed.html)
        ),
        preview=safe_view(text[:PREVIEW_SOURCE_CHARS], None, PREVIEW_CHARS).text,
        sort_keys=sort_keys_of(raw[: parsed.header_end]),
    )


def _addresses(addresses: tuple[Address, ...]) -> tuple[tuple[str | None, str], ...]:
    return tuple((address.name, address.email) for address in addresses if address.email)


_PART_FIELDS = tuple(field.name for field in fields(PartInfo))


def parts_json(parsed: MimeMessage) -> str:
    """Every part's section number, offsets and facts, as the store keeps them (`messages.parts_json`)."""
    parts = [{name: getattr(part, name) for name in _PART_FIELDS} for part in parsed.parts]
    return json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
