"""IMAP BODY and BODYSTRUCTURE (RFC 3501 section 7.4.2) of a scanned entity tree, as Dovecot 2.3.

Types, subtypes, parameter names and encodings keep the case of the header; defaults are lowercase
("text" "plain", "charset" "us-ascii", "7bit"). A missing charset is added to text/* parameters,
after the others. A multipart without parts gets one empty text/plain part. Sizes are octets of the
stored bytes and lines count LF characters (Dovecot reports sizes with bare LFs counted as CRLF).
(Dovecot itself, once it has cached a message that is only 7-bit US-ASCII plain text, answers
later fetches in lowercase whatever the header's case; its first answer, which this matches,
keeps the case.)
"""

from __future__ import annotations

from .envelope import read_envelope, write_envelope
from .imap_string import NIL, nstring, nstring_nolf
from .mime_fields import MESSAGE, MULTIPART, MimeFields
from .param_list import Params
from .structure import Entity

_EMPTY_PART = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0'
_DEFAULT_CHARSET = b'"charset" "us-ascii"'


def write(raw: bytes, entity: Entity) -> tuple[bytes, bytes]:
    """The parenthesised BODY and BODYSTRUCTURE texts of an entity."""
    body, structure = _part(raw, entity)
    return b"(" + body + b")", b"(" + structure + b")"


def _part(raw: bytes, entity: Entity) -> tuple[bytes, bytes]:
    if entity.kind == MULTIPART:
        return _multipart(raw, entity)
    return _single(raw, entity)


def _multipart(raw: bytes, entity: Entity) -> tuple[bytes, bytes]:
    mime = entity.mime
    if entity.children:
        written = [write(raw, child) for child in entity.children]
        body = b"".join(pair[0] for pair in written)
        structure = b"".join(pair[1] for pair in written)
    else:
        body, structure = _EMPTY_PART + b")", _EMPTY_PART + b" NIL NIL NIL NIL)"
    content_type = mime.content_type
    subtype, params = (b"", ()) if content_type is None else (content_type.subtype, content_type.params)
    subtype_text = b" " + nstring(subtype)
    extension = b" " + _params(params, False) + _common(mime)
    return body + subtype_text, structure + subtype_text + extension


def _single(raw: bytes, entity: Entity) -> tuple[bytes, bytes]:
    mime = entity.mime
    content_type = mime.content_type
    text = entity.kind != MESSAGE and mime.is_text
    if entity.kind == MESSAGE:
        head = b'"message" "rfc822"'
    elif content_type is None:
        head = b'"text" "plain"'
    else:
        head = nstring(content_type.type) + b" " + nstring(content_type.subtype)
    params = () if content_type is None else content_type.params
    encoding = mime.transfer_encoding
    head += b" %s %s %s %s %d" % (
        _params(params, text),
        nstring_nolf(mime.content_id),
        nstring_nolf(mime.description),
        b'"7bit"' if encoding is None else nstring(encoding),
        entity.body_end - entity.header_end,
    )
    lines = raw.count(b"\n", entity.header_end, entity.body_end)
    if text:
        body = structure = head + b" %d" % lines
    elif entity.kind == MESSAGE:
        child = entity.children[0]
        envelope = write_envelope(read_envelope(child.fields))
        child_body, child_structure = write(raw, child)
        body = b"%s %s %s %d" % (head, envelope, child_body, lines)
        structure = b"%s %s %s %d" % (head, envelope, child_structure, lines)
    else:
        body = structure = head
    return body, structure + b" " + nstring_nolf(mime.md5) + _common(mime)


def _params(params: Params, default_charset: bool) -> bytes:
    if not params:
        return b"(" + _DEFAULT_CHARSET + b")" if default_charset else NIL
    items = [nstring(key) + b" " + nstring(value) for key, value in params]
    if default_charset and not any(key.lower() == b"charset" for key, _ in params):
        items.append(_DEFAULT_CHARSET)
    return b"(" + b" ".join(items) + b")"


def _common(mime: MimeFields) -> bytes:
    """Disposition, language and location, the extension data every BODYSTRUCTURE part ends with."""
    if mime.disposition is None:
        disposition = NIL
    else:
        disposition = b"(" + nstring(mime.disposition) + b" " + _params(mime.disposition_params, False) + b")"
    languages = mime.language
    language = NIL if languages is None else b"(" + b" ".join(map(nstring, languages)) + b")"
    return b" %s %s %s" % (disposition, language, nstring_nolf(mime.location))
