"""The Content-* fields of one entity, with Dovecot's rules for repeated and missing headers.

- Content-* headers count only in a MIME entity: a part of a multipart, or a message (top level or
  enclosed) having a MIME-Version or Content-Type header.
- Content-Type, Content-ID, -Description, -MD5 and -Location: the first header wins, even when
  broken. Content-Transfer-Encoding and Content-Language: the first readable one.
  Content-Disposition: a later header replaces an earlier one that had no parameters.
- The kind of entity comes from the first Content-Type: "message/rfc822" encloses a message,
  "multipart/..." has parts (when it also has a boundary parameter), anything else is a leaf; with
  no Content-Type, a part of a multipart/digest is a message/rfc822 and others are text/plain.
"""

from __future__ import annotations

from dataclasses import dataclass

from .field_values import (
    ContentType,
    parse_content_type,
    parse_disposition,
    parse_language,
    parse_transfer_encoding,
)
from .header_block import Fields
from .imap_string import without_nuls
from .param_list import Params, param

LEAF, MULTIPART, MESSAGE = 0, 1, 2
_SIMPLE = {
    b"content-id": "content_id",
    b"content-description": "description",
    b"content-md5": "md5",
    b"content-location": "location",
}


@dataclass(slots=True)
class MimeFields:
    content_type: ContentType | None = None
    transfer_encoding: bytes | None = None
    disposition: bytes | None = None
    disposition_params: Params = ()
    content_id: bytes | None = None
    description: bytes | None = None
    md5: bytes | None = None
    location: bytes | None = None
    language: tuple[bytes, ...] | None = None
    kind: int = LEAF
    type_name: str = "text/plain"
    boundary: bytes | None = None

    @property
    def is_text(self) -> bool:
        """Whether BODYSTRUCTURE gives this leaf a line count."""
        return self.content_type is None or self.content_type.type.lower() == b"text"


def read_mime(fields: Fields, in_multipart: bool, in_digest: bool) -> MimeFields:
    mime = MimeFields()
    is_mime = in_multipart
    for name, value in fields:
        if name == b"mime-version":
            is_mime = True
        elif name.startswith(b"content-"):
            is_mime = is_mime or name == b"content-type"
            _apply(mime, name, value)
    if not is_mime:
        mime = MimeFields()
    _classify(mime, in_digest)
    return mime


def _apply(mime: MimeFields, name: bytes, value: bytes) -> None:
    if name == b"content-type":
        if mime.content_type is None:
            mime.content_type = parse_content_type(value)
    elif name == b"content-transfer-encoding":
        if mime.transfer_encoding is None:
            mime.transfer_encoding = parse_transfer_encoding(value)
    elif name == b"content-disposition":
        if not mime.disposition_params and (parsed := parse_disposition(value)) is not None:
            mime.disposition, params = parsed
            mime.disposition_params = params or mime.disposition_params
    elif name == b"content-language":
        if mime.language is None:
            mime.language = parse_language(value)
    elif (attribute := _SIMPLE.get(name)) is not None and getattr(mime, attribute) is None:
        setattr(mime, attribute, without_nuls(value))


def _classify(mime: MimeFields, in_digest: bool) -> None:
    content_type = mime.content_type
    if content_type is None:
        mime.kind = MESSAGE if in_digest else LEAF
        mime.type_name = "message/rfc822" if in_digest else "text/plain"
        return
    name = content_type.full.lower()
    mime.type_name = name.decode("latin-1")
    if name == b"message/rfc822":
        mime.kind = MESSAGE
    elif name.startswith(b"multipart/"):
        mime.kind = MULTIPART
        mime.boundary = param(content_type.params, b"boundary")
