"""Bytes to text for a declared MIME charset, never failing.

Order: the declared charset (when Python knows it as a text codec) strictly; else UTF-8 strictly;
else the declared charset with replacement characters; else Latin-1, which maps every byte.
US-ASCII is treated as undeclared, since mail labelled so often carries 8-bit text.
"""

from __future__ import annotations

import codecs
from functools import lru_cache

_ALIASES = {
    "us-ascii": None,
    "ascii": None,
    "ansi_x3.4-1968": None,
    "unknown-8bit": None,
    "x-unknown": None,
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "utf8": "utf-8",
}


@lru_cache(maxsize=256)
def codec_for(charset: str) -> str | None:
    """The Python text codec for a charset name, or None when unknown."""
    name = charset.strip().strip("\"'").lower()
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _try_decode(data: bytes, codec: str, errors: str) -> str | None:
    try:
        return data.decode(codec, errors)
    except (LookupError, ValueError, TypeError):
        return None


def decode_text(data: bytes, charset: str | None) -> str:
    if charset is None:
        try:
            return data.decode()
        except UnicodeDecodeError:
            return data.decode("latin-1")
    codec = codec_for(charset)
    if codec is not None and (text := _try_decode(data, codec, "strict")) is not None:
        return text
    if (text := _try_decode(data, "utf-8", "strict")) is not None:
        return text
    if codec is not None and (text := _try_decode(data, codec, "replace")) is not None:
        return text
    return data.decode("latin-1")
