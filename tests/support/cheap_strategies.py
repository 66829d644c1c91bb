"""Hypothesis strategies that draw a whole sequence of choices as one string.

Hypothesis spends about as long on each `draw` as the extraction or the MIME parser spends on a whole
small message, so `st.lists(st.sampled_from(...))` of sixty items cost the property tests far more than
the code they test. A string over an alphabet of one letter per choice is one draw, and it shrinks the
same way: to fewer items, and each towards the first choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from hypothesis import strategies as st

T = TypeVar("T")
_FIRST_LETTER = 0x100  # letters are only labels; any range of plain characters will do


def sequences(choices: Sequence[T], max_size: int) -> st.SearchStrategy[list[T]]:
    """Lists of up to `max_size` items, each one of `choices`."""
    alphabet = "".join(chr(_FIRST_LETTER + index) for index in range(len(choices)))
    return st.text(alphabet=alphabet, max_size=max_size).map(
        lambda word: [choices[ord(letter) - _FIRST_LETTER] for letter in word]
    )


def joined_bytes(choices: Sequence[bytes], max_size: int) -> st.SearchStrategy[bytes]:
    return sequences(choices, max_size).map(b"".join)


@dataclass(frozen=True)
class _Free:
    length: int


def pieces_and_text(
    pieces: Sequence[str], max_items: int, free_text: st.SearchStrategy[str], max_free: int
) -> st.SearchStrategy[str]:
    """Up to `max_items` items joined, each one of `pieces` or, as often, up to `max_free` characters of
    `free_text`, drawn once for the whole string and read in turn (from its start again when used up)."""
    slots: list[str | _Free] = [*pieces, *(_Free(index % (max_free + 1)) for index in range(len(pieces)))]

    def join(chosen: list[str | _Free], text: str) -> str:
        out, used = [], 0
        for slot in chosen:
            if isinstance(slot, _Free):
                if text:
                    start = used % len(text)
                    out.append((text[start:] + text)[: min(slot.length, len(text))])
                used += slot.length
            else:
                out.append(slot)
        return "".join(out)

    return st.builds(join, sequences(slots, max_items), free_text)
