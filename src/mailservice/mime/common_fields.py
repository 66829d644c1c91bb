"""The header fields mail clients' header syncs ask for, cut out of a message once, at delivery.

A header sync asks every message of a folder for the same few fields
(`BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID)]`). `common_fields` takes from a header
the fields named in `COMMON_FIELDS`, exactly as the message has them and in its order (the block), and
says for each line of the block which of those fields it belongs to (the layout). Any list of those
names picked from the block gives the bytes that picking them from the whole header gives: the
picker's pattern (`header_fields.fields_pattern`) takes a field from a line that starts with its name
to the end of its continuation lines, whatever line follows, so each field is found whole in the block
as in the header, and the block holds no other line. `CommonFieldPicker` takes the lines wanted by
their place in the layout, without searching the block (Dovecot keeps such fields in its cache file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from operator import itemgetter
from typing import Any

from mailservice.mime.header_fields import block_end, fields_pattern

COMMON_FIELDS = (
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-Type",
    "Content-Description",
    "Priority",
    "X-Priority",
    "Importance",
    "Newsgroups",
    "Lines",
    "List-Id",
    "List-Post",
    "List-Subscribe",
    "List-Unsubscribe",
    "Mail-Reply-To",
    "Mail-Followup-To",
    "Disposition-Notification-To",
    "X-Label",
    "X-Original-To",
    "Chat-Version",
)
"""What header syncs ask for (the lists of Thunderbird, mutt, Roundcube, Evolution, K-9 and scripts).
Stored with every message, the layout by position in this tuple: never change it. Another list needs
blocks of its own (and the messages stored before them read their header block)."""
_INDEX = {name.lower().encode("ascii"): index for index, name in enumerate(COMMON_FIELDS)}
_PLANS_KEPT = 512
"""Layouts remembered per picker (messages from one sender's software share theirs)."""


def common_fields(header: bytes) -> tuple[bytes, bytes]:
    """(block, layout) of a message's header (its bytes up to the body): the fields named in
    `COMMON_FIELDS`, each with its continuation lines, as they are and in order; and one byte per line
    of the block, the index in `COMMON_FIELDS` of the field the line belongs to."""
    texts = fields_pattern(COMMON_FIELDS).findall(header, 0, block_end(header))
    layout = bytearray()
    for text in texts:
        index = _INDEX[text.partition(b":")[0].rstrip(b" \t").lower()]
        layout += bytes((index,)) * (text.count(b"\n") + (not text.endswith(b"\n")))
    return b"".join(texts), bytes(layout)


def all_common(names: tuple[str, ...]) -> bool:
    """Whether every one of `names` is in `COMMON_FIELDS` (ASCII case ignored, as fields are matched)."""
    return bool(names) and all(name.isascii() and name.lower().encode() in _INDEX for name in names)


@lru_cache(maxsize=256)
def common_field_picker(names: tuple[str, ...]) -> CommonFieldPicker:
    """Cached: one picker per field list (a client sends the same list sync after sync)."""
    return CommonFieldPicker(names)


class CommonFieldPicker:
    """`header_fields.field_picker(names)` for blocks and layouts made by `common_fields`.

    The lines of a block are its fields' lines, each ended by LF; which of them a field list wants
    follows from the layout alone, worked out once per layout (an `itemgetter` of the wanted lines
    and of the empty string after the block's last LF, so that joining them with LF ends the last
    one). A block whose last line has no line end (a header that ends without one), or whose layout
    does not fit it, is searched instead."""

    def __init__(self, names: tuple[str, ...]) -> None:
        if not all_common(names):
            raise ValueError(f"not all of {names} are common fields")
        self._names = names
        self._wanted = frozenset(_INDEX[name.lower().encode()] for name in names)
        self._plans: dict[bytes, Callable[[list[bytes]], Any]] = {}

    def __call__(self, block: bytes, layout: bytes) -> bytes:
        """The fields wanted, then the blank line (CRLF), as `field_picker` answers."""
        return self.pick_rows([(0, block, layout)])[0][1] + b"\r\n"

    def pick_rows(self, rows: Iterable[tuple[int, bytes, bytes]]) -> list[tuple[int, bytes]]:
        """(key, the fields wanted without the blank line) of each (key, block, layout), in one loop:
        a header sync picks the fields of every message."""
        plans = self._plans
        picked = []
        for key, block, layout in rows:
            lines = block.split(b"\n")
            if len(lines) != len(layout) + 1 or lines[-1]:
                picked.append((key, b"".join(fields_pattern(self._names).findall(block))))
                continue
            take = plans.get(layout)
            if take is None:
                take = self._plan(layout)
            picked.append((key, b"\n".join(take(lines))))
        return picked

    def _plan(self, layout: bytes) -> Callable[[list[bytes]], Any]:
        if len(self._plans) >= _PLANS_KEPT:
            self._plans.clear()
        places = [place for place, index in enumerate(layout) if index in self._wanted]
        # With the last (empty) line: a tuple to join, or that empty string alone when none is wanted.
        take = self._plans[layout] = itemgetter(*places, len(layout))
        return take
