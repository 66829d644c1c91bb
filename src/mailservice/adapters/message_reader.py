"""Read-time views of a stored message that need its raw bytes: attachments and the safe text view."""

from __future__ import annotations

import json

from mailservice.adapters.extract import safe_view
from mailservice.mime import parse_mime
from mailservice.mime.transfer import decode_body


class RawMessageReader:
    def attachment(self, raw: bytes, parts_json: str, section: str) -> tuple[bytes, str, str | None] | None:
        for part in json.loads(parts_json):
            if part["section"] == section and not part["content_type"].startswith("multipart/"):
                body = raw[part["body_start"] : part["body_end"]]
                return decode_body(body, part["transfer_encoding"]), part["content_type"], part["filename"]
        return None

    def safe_text(self, raw: bytes, max_chars: int) -> tuple[str, list[str], bool]:
        parsed = parse_mime(raw)
        view = safe_view(parsed.text, parsed.html, max_chars)
        return view.text, list(view.links), view.truncated
