"""The flat, section-numbered list of parts of a scanned entity tree.

A multipart message's top entity has no number (its parts are 1, 2, ...); a single-part message's
body is part 1. A message/rfc822 part N encloses a message numbered the same way under N. A part is
an attachment when its disposition says so, when it has a file name and is not marked inline, or
when it is an enclosed message; parts inside an attachment are flagged `inside_attachment`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .mime_fields import MESSAGE, MULTIPART
from .param_list import decoded_param, param
from .parsed import PartInfo
from .structure import Entity


@dataclass(frozen=True, slots=True)
class NumberedPart:
    info: PartInfo
    entity: Entity
    inside_attachment: bool


def number_parts(root: Entity) -> list[NumberedPart]:
    found: list[NumberedPart] = []
    _message(root, "", False, found)
    return found


def _message(entity: Entity, prefix: str, inside: bool, found: list[NumberedPart]) -> None:
    if entity.kind == MULTIPART:
        _children(entity, prefix, inside, found)
    else:
        _part(entity, _join(prefix, 1), inside, prefix == "", found)


def _children(entity: Entity, prefix: str, inside: bool, found: list[NumberedPart]) -> None:
    for number, child in enumerate(entity.children, start=1):
        _part(child, _join(prefix, number), inside, False, found)


def _part(entity: Entity, section: str, inside: bool, top: bool, found: list[NumberedPart]) -> None:
    info = part_info(entity, section, top)
    found.append(NumberedPart(info, entity, inside))
    inside = inside or info.is_attachment
    if entity.kind == MULTIPART:
        _children(entity, section, inside, found)
    elif entity.kind == MESSAGE:
        _message(entity.children[0], section, inside, found)


def part_info(entity: Entity, section: str, top: bool) -> PartInfo:
    mime = entity.mime
    params = mime.content_type.params if mime.content_type is not None else ()
    filename = decoded_param(mime.disposition_params, b"filename") or decoded_param(params, b"name")
    disposition = _lower(mime.disposition) or None
    enclosed = entity.children[0] if entity.kind == MESSAGE else None
    return PartInfo(
        section=section,
        content_type=mime.type_name,
        header_start=entity.header_start,
        header_end=entity.header_end,
        body_start=entity.header_end,
        body_end=entity.body_end,
        filename=filename,
        charset=_lower(param(params, b"charset")),
        transfer_encoding=_lower(mime.transfer_encoding),
        disposition=disposition,
        is_attachment=_is_attachment(entity.kind, filename, disposition, top),
        message_header_end=None if enclosed is None else enclosed.header_end,
        message_body_end=None if enclosed is None else enclosed.body_end,
        message_content_type=None if enclosed is None else enclosed.mime.type_name,
    )


def _is_attachment(kind: int, filename: str | None, disposition: str | None, top: bool) -> bool:
    if top or kind == MULTIPART:
        return False
    if kind == MESSAGE or disposition == "attachment":
        return True
    return filename is not None and disposition != "inline"


def _lower(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1").strip().lower()


def _join(prefix: str, number: int) -> str:
    return f"{prefix}.{number}" if prefix else str(number)
