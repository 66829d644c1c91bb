"""What a SEARCH answers with: `* SEARCH`, or `* ESEARCH` for `RETURN (...)` (ESEARCH, RFC 4731), and
the result it saves for `$` (SEARCHRES, RFC 5182). SORT's `RETURN (...)` (ESORT, RFC 5267) is read and
answered by the same functions, SAVE included, as Dovecot does.

`RETURN ()` means ALL. SAVE alone answers no ESEARCH line; with only MIN and/or MAX beside it, only
those messages are saved, else all that matched (RFC 5182 section 2.4). The options are written in
Dovecot's order (MIN MAX ALL COUNT), whatever order the client gave.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailservice.mime.imap_string import quoted
from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.sequence_set import uid_set_text

RETURN_OPTIONS = ("MIN", "MAX", "ALL", "COUNT", "SAVE")


def parse_return(reader: CommandReader) -> frozenset[str] | None:
    """`RETURN (options) ` before the search keys (or SORT's criteria), if there; the options (ALL for
    an empty list)."""
    if not reader.accept_word("RETURN"):
        return None
    reader.space()
    options = {value.decode("ascii", "replace").upper() for value in reader.parenthesized("a return option")}
    unknown = options - set(RETURN_OPTIONS)
    if unknown:
        raise reader.error(f"Unknown RETURN option {sorted(unknown)[0]}")
    reader.space()
    return frozenset(options) or frozenset({"ALL"})


def saved_uids(options: frozenset[str], found: Sequence[int]) -> list[int]:
    """The uids SAVE keeps of those found, in the order answered (MIN and MAX: the first and last);
    ascending."""
    if options & {"ALL", "COUNT"} or not options & {"MIN", "MAX"}:
        return list(found)
    chosen = {found[0] if option == "MIN" else found[-1] for option in options & {"MIN", "MAX"} if found}
    return sorted(chosen)


def esearch_line(
    tag: str, by_uid: bool, options: frozenset[str], numbers: Sequence[int], modseqs: Sequence[int] | None
) -> bytes | None:
    """The `* ESEARCH` line for `numbers` in the order answered (ascending for SEARCH, the sort order
    for SORT: MIN and MAX are the first and last, ALL keeps the order), None when SAVE is all that
    was asked. `modseqs`: those of `numbers`, when a MODSEQ search key asks for the highest of the
    messages returned (RFC 7162 section 3.1.5, RFC 4731 section 3.2)."""
    if not options - {"SAVE"}:
        return None
    parts = [b"* ESEARCH (TAG %s)" % quoted(tag.encode())]
    if by_uid:
        parts.append(b"UID")
    if numbers and "MIN" in options:
        parts.append(b"MIN %d" % numbers[0])
    if numbers and "MAX" in options:
        parts.append(b"MAX %d" % numbers[-1])
    if numbers and "ALL" in options:
        parts.append(b"ALL " + uid_set_text(numbers).encode())
    if "COUNT" in options:
        parts.append(b"COUNT %d" % len(numbers))
    if modseqs is not None and numbers:
        parts.append(b"MODSEQ %d" % returned_modseq(options, modseqs))
    return b" ".join(parts) + b"\r\n"


def returned_modseq(options: frozenset[str], modseqs: Sequence[int]) -> int:
    """The highest modseq of the messages an ESEARCH returns: with only MIN and/or MAX, those
    messages' (the first and the last), else all that were found (RFC 4731 section 3.2)."""
    if options & {"ALL", "COUNT"}:
        return max(modseqs)
    return max(modseqs[0] if option == "MIN" else modseqs[-1] for option in options & {"MIN", "MAX"})
