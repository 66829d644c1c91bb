"""Parsed IMAP commands: `parse_command(data)` turns one complete command into a `Command`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mailservice.domain.mail_session import FlagChange, NewMessage
from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.fetch_items import FetchRequest, parse_fetch_items
from mailservice.protocols.imap.imap_dates import parse_date_time
from mailservice.protocols.imap.mailbox_names import decode_name
from mailservice.protocols.imap.parse_error import ParseError, RefusedArgument
from mailservice.protocols.imap.qresync import QresyncParams, parse_qresync_param
from mailservice.protocols.imap.search_keys import SearchKey, parse_search, read_charset
from mailservice.protocols.imap.search_results import parse_return
from mailservice.protocols.imap.sequence_set import SequenceSet, parse_sequence_set
from mailservice.protocols.imap.sort_args import SortArgs, ThreadArgs, parse_sort, parse_thread


@dataclass(frozen=True)
class NoArgs:
    pass


@dataclass(frozen=True)
class Login:
    username: bytes
    password: bytes


@dataclass(frozen=True)
class Authenticate:
    mechanism: str
    initial: bytes | None


@dataclass(frozen=True)
class MailboxArg:
    mailbox: str


@dataclass(frozen=True)
class Select:
    mailbox: str
    condstore: bool
    qresync: QresyncParams | None = None


@dataclass(frozen=True)
class Rename:
    old: str
    new: str


@dataclass(frozen=True)
class ListArgs:
    """`extended` when the client used selection or return options or a list of patterns (RFC 5258):
    then child attributes come only with RETURN (CHILDREN), as in Dovecot."""

    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[str] = frozenset()
    returns: frozenset[str] = frozenset()
    extended: bool = False
    status_items: tuple[str, ...] = ()
    """LIST-STATUS (RFC 5819): `RETURN (STATUS (items))`, answered after each selectable folder."""


@dataclass(frozen=True)
class StatusArgs:
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class TextPart:
    """CATENATE's `TEXT literal`: bytes the client sent."""

    data: bytes


@dataclass(frozen=True)
class UrlPart:
    """CATENATE's `URL url`: a message or part of one already stored, named by an IMAP URL."""

    url: str


@dataclass(frozen=True)
class CatenatedMessage:
    """A message a client builds with CATENATE (RFC 4469) from its `parts`, in order."""

    parts: tuple[TextPart | UrlPart, ...]
    flags: frozenset[str] = frozenset()
    internal_date: datetime | None = None


@dataclass(frozen=True)
class AppendArgs:
    """One message, or several with MULTIAPPEND (RFC 3502), stored all or none."""

    mailbox: str
    messages: tuple[NewMessage | CatenatedMessage, ...]


@dataclass(frozen=True)
class SearchArgs:
    charset: str
    key: SearchKey
    returns: frozenset[str] | None = None
    """ESEARCH's RETURN options; None for a plain SEARCH."""


@dataclass(frozen=True)
class FetchArgs:
    sequence_set: SequenceSet
    request: FetchRequest


@dataclass(frozen=True)
class StoreArgs:
    sequence_set: SequenceSet
    change: FlagChange
    silent: bool
    flags: frozenset[str]
    unchanged_since: int | None


@dataclass(frozen=True)
class CopyArgs:
    sequence_set: SequenceSet
    mailbox: str


@dataclass(frozen=True)
class SequenceArg:
    sequence_set: SequenceSet


@dataclass(frozen=True)
class EnableArgs:
    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class IdArgs:
    params: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True)
class QuotaRootArg:
    root: str


Args = (
    NoArgs
    | Login
    | Authenticate
    | MailboxArg
    | Select
    | Rename
    | ListArgs
    | StatusArgs
    | AppendArgs
    | SearchArgs
    | FetchArgs
    | StoreArgs
    | CopyArgs
    | SequenceArg
    | EnableArgs
    | IdArgs
    | QuotaRootArg
    | SortArgs
    | ThreadArgs
)


@dataclass(frozen=True)
class Command:
    tag: str
    name: str
    args: Args = field(default_factory=NoArgs)
    uid: bool = False


UID_COMMANDS = frozenset({"FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "SORT", "THREAD"})


def parse_command(data: bytes, utf8: bool = False, rev2: bool = False) -> Command:
    """Parse one command (its CRLF removed); raise `ParseError` (with the tag when readable).
    `utf8`: the client enabled UTF8=ACCEPT or IMAP4rev2; `rev2`: IMAP4rev2."""
    reader = CommandReader(data, utf8=utf8, rev2=rev2)
    tag = reader.tag_token()
    reader.tag = tag
    reader.space()
    name = reader.word()
    uid = False
    if name == "UID":
        reader.space()
        name = reader.word()
        uid = True
        if name not in UID_COMMANDS:
            raise reader.error(f"UID {name} is not a command")
    parser = _PARSERS.get(name)
    if parser is None:
        raise ParseError(f"unknown command {name}", tag)
    try:
        args = parser(reader)
        reader.end()
    except ParseError as error:
        error.tag = tag  # parts parsed on their own (sequence sets, say) do not know the tag
        raise
    if name == "EXPUNGE" and uid != isinstance(args, SequenceArg):
        raise ParseError("UID EXPUNGE takes a uid set, EXPUNGE nothing", tag)
    return Command(tag, name, args, uid)


def _no_args(reader: CommandReader) -> Args:
    return NoArgs()


def _mailbox(reader: CommandReader) -> str:
    return _name(reader, reader.astring())


def _name(reader: CommandReader, raw: bytes) -> str:
    return decode_name(raw, reader.tag, reader.utf8)


def _mailbox_arg(reader: CommandReader) -> Args:
    reader.space()
    return MailboxArg(_mailbox(reader))


def _login(reader: CommandReader) -> Args:
    reader.space()
    username = reader.astring()
    reader.space()
    return Login(username, reader.astring())


def _authenticate(reader: CommandReader) -> Args:
    reader.space()
    mechanism = reader.word()
    initial = None
    if reader.accept(b" "):
        initial = b"" if reader.accept(b"=") else reader.base64_token()
    return Authenticate(mechanism, initial)


def _select(reader: CommandReader) -> Args:
    reader.space()
    mailbox = _mailbox(reader)
    condstore = False
    qresync = None
    if reader.accept(b" "):
        reader.expect(b"(")
        while not reader.accept(b")"):
            parameter = reader.word()
            if parameter == "CONDSTORE":
                condstore = True
            elif parameter == "QRESYNC":
                qresync = parse_qresync_param(reader)
            else:
                raise reader.error("unknown SELECT parameter")
            reader.accept(b" ")
    return Select(mailbox, condstore, qresync)


def _rename(reader: CommandReader) -> Args:
    reader.space()
    old = _mailbox(reader)
    reader.space()
    return Rename(old, _mailbox(reader))


def _list(reader: CommandReader) -> Args:
    reader.space()
    selection: frozenset[str] = frozenset()
    if reader.peek(b"("):
        selection = frozenset(value.decode("ascii", "replace").upper() for value in reader.parenthesized())
        reader.space()
    reference = _list_name(reader, reader.astring())
    reader.space()
    pattern_list = reader.peek(b"(")
    if pattern_list:
        reader.expect(b"(")
        patterns = [reader.list_mailbox()]
        while reader.accept(b" "):
            patterns.append(reader.list_mailbox())
        reader.expect(b")")
    else:
        patterns = [reader.list_mailbox()]
    returns: frozenset[str] | None = None
    status_items: tuple[str, ...] = ()
    if reader.accept(b" "):
        if reader.word() != "RETURN":
            raise reader.error("expected RETURN")
        reader.space()
        options, status_items = _return_options(reader)
        returns = frozenset(options)
    _check_list_options(reader, selection, returns)
    decoded = _list_patterns(reader, reference, patterns)
    extended = bool(selection) or pattern_list or returns is not None
    return ListArgs(reference or "", decoded, selection, returns or frozenset(), extended, status_items)


LIST_SELECTION = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
LIST_RETURNS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"})


def _check_list_options(
    reader: CommandReader, selection: frozenset[str], returns: frozenset[str] | None
) -> None:
    """RFC 5258 section 3: unknown options are BAD, and RECURSIVEMATCH needs an option it modifies."""
    unknown = (selection - LIST_SELECTION) | ((returns or frozenset()) - LIST_RETURNS)
    if unknown:
        raise reader.error(f"unknown LIST option {sorted(unknown)[0]}")
    if "RECURSIVEMATCH" in selection and not selection - {"RECURSIVEMATCH", "REMOTE"}:
        raise reader.error("RECURSIVEMATCH needs another selection option")


def _return_options(reader: CommandReader) -> tuple[list[str], tuple[str, ...]]:
    """The return options, and the items of a STATUS option (LIST-STATUS)."""
    reader.expect(b"(")
    options: list[str] = []
    status_items: tuple[str, ...] = ()
    while not reader.accept(b")"):
        if options:
            reader.space()
        option = reader.word()
        if option == "STATUS":
            reader.space()
            status_items = _status_items(reader)
        options.append(option)
    return options, status_items


def _lsub(reader: CommandReader) -> Args:
    reader.space()
    reference = _list_name(reader, reader.astring())
    reader.space()
    patterns = _list_patterns(reader, reference, [reader.list_mailbox()])
    return ListArgs(reference or "", patterns, frozenset({"SUBSCRIBED"}))


def _list_patterns(reader: CommandReader, reference: str | None, raw: list[bytes]) -> tuple[str, ...]:
    """The patterns that can match a name: none under a reference that cannot be decoded."""
    if reference is None:
        return ()
    return tuple(pattern for pattern in (_list_name(reader, name) for name in raw) if pattern is not None)


def _list_name(reader: CommandReader, raw: bytes) -> str | None:
    """A LIST or LSUB reference or pattern, None when it is not a valid name (not modified UTF-7):
    it matches no folder and the command still succeeds, as in Dovecot."""
    try:
        return _name(reader, raw)
    except RefusedArgument:
        return None


STATUS_ITEMS = frozenset(
    {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "HIGHESTMODSEQ", "SIZE"}
)


def _status(reader: CommandReader) -> Args:
    reader.space()
    mailbox = _mailbox(reader)
    reader.space()
    return StatusArgs(mailbox, _status_items(reader))


def _status_items(reader: CommandReader) -> tuple[str, ...]:
    items = tuple(value.decode("ascii", "replace").upper() for value in reader.parenthesized())
    unknown = [item for item in items if item not in STATUS_ITEMS]
    if unknown or not items:
        raise reader.error(f"unknown STATUS item {unknown[0] if unknown else '()'}")
    return items


def _append(reader: CommandReader) -> Args:
    reader.space()
    mailbox = _mailbox(reader)
    reader.space()
    messages = [_append_message(reader)]
    while reader.accept(b" "):
        messages.append(_append_message(reader))
    return AppendArgs(mailbox, tuple(messages))


def _append_message(reader: CommandReader) -> NewMessage | CatenatedMessage:
    flags: frozenset[str] = frozenset()
    internal_date = None
    if reader.peek(b"("):
        flags = frozenset(reader.flag_list())
        reader.space()
    if reader.peek(b'"'):
        internal_date = parse_date_time(reader)
        reader.space()
    if "\\Recent" in {flag.capitalize() for flag in flags} or any(flag == "\\*" for flag in flags):
        raise reader.error("APPEND cannot set \\Recent or \\*")
    if reader.accept_word("CATENATE"):
        return CatenatedMessage(_catenate_parts(reader), flags, internal_date)
    return NewMessage(_append_data(reader), flags, internal_date)


def _catenate_parts(reader: CommandReader) -> tuple[TextPart | UrlPart, ...]:
    """`(TEXT literal / URL url ...)`; a TEXT literal may be a literal8 (RFC 4469 with BINARY)."""
    reader.space()
    reader.expect(b"(")
    parts: list[TextPart | UrlPart] = []
    while not reader.accept(b")"):
        if parts:
            reader.space()
        if reader.accept_word("TEXT"):
            reader.space()
            if not (reader.peek(b"{") or reader.peek(b"~{")):
                raise reader.error("CATENATE TEXT needs a literal")
            parts.append(TextPart(reader.string()))
        elif reader.accept_word("URL"):
            reader.space()
            parts.append(UrlPart(reader.astring().decode("utf-8", "replace")))
        else:
            raise reader.error("unknown CATENATE part")
    if not parts:
        raise reader.error("Empty CATENATE list")
    return tuple(parts)


def _append_data(reader: CommandReader) -> bytes:
    """A literal, or after UTF8=ACCEPT `UTF8 (~{n} ...)` (RFC 6855 section 4)."""
    if not (reader.utf8 and reader.accept_word("UTF8")):
        return reader.string()
    reader.space()
    reader.expect(b"(")
    data = reader.string()
    reader.expect(b")")
    return data


def _search(reader: CommandReader) -> Args:
    reader.space()
    returns = parse_return(reader)
    charset = "UTF-8" if reader.utf8 else "US-ASCII"
    if reader.accept_word("CHARSET"):
        reader.space()
        charset = read_charset(reader)
        reader.space()
    return SearchArgs(charset, parse_search(reader, charset), returns)


def _sequence(reader: CommandReader) -> SequenceSet:
    return parse_sequence_set(reader.sequence_text())


def _fetch(reader: CommandReader) -> Args:
    reader.space()
    sequence_set = _sequence(reader)
    reader.space()
    return FetchArgs(sequence_set, parse_fetch_items(reader))


_STORE_ITEMS = {"FLAGS": FlagChange.REPLACE, "+FLAGS": FlagChange.ADD, "-FLAGS": FlagChange.REMOVE}


def _store(reader: CommandReader) -> Args:
    reader.space()
    sequence_set = _sequence(reader)
    reader.space()
    unchanged_since = None
    if reader.accept(b"("):
        if reader.word() != "UNCHANGEDSINCE":
            raise reader.error("unknown STORE modifier")
        reader.space()
        unchanged_since = reader.mod_sequence()
        reader.expect(b")")
        reader.space()
    sign = b"+" if reader.accept(b"+") else b"-" if reader.accept(b"-") else b""
    item = sign.decode() + reader.word()
    silent = item.endswith(".SILENT")
    change = _STORE_ITEMS.get(item.removesuffix(".SILENT"))
    if change is None:
        raise reader.error(f"unknown STORE item {item}")
    reader.space()
    if reader.peek(b"("):
        flags = reader.flag_list()
    else:
        flags = [reader.flag()]
        while reader.accept(b" "):
            flags.append(reader.flag())
    return StoreArgs(sequence_set, change, silent, frozenset(flags), unchanged_since)


def _copy(reader: CommandReader) -> Args:
    reader.space()
    sequence_set = _sequence(reader)
    reader.space()
    return CopyArgs(sequence_set, _mailbox(reader))


def _expunge(reader: CommandReader) -> Args:
    if reader.accept(b" "):
        return SequenceArg(_sequence(reader))
    return NoArgs()


def _enable(reader: CommandReader) -> Args:
    names = []
    while reader.accept(b" "):
        names.append(reader.word())
    if not names:
        raise reader.error("ENABLE needs a capability")
    return EnableArgs(tuple(names))


def _id(reader: CommandReader) -> Args:
    reader.space()
    if reader.accept_word("NIL"):
        return IdArgs(None)
    reader.expect(b"(")
    params: list[tuple[str, str | None]] = []
    while not reader.accept(b")"):
        if params:
            reader.space()
        key = reader.string().decode("utf-8", "replace")
        reader.space()
        value = reader.nstring()
        params.append((key, None if value is None else value.decode("utf-8", "replace")))
    return IdArgs(tuple(params))


def _quota_root(reader: CommandReader) -> Args:
    reader.space()
    return QuotaRootArg(reader.astring().decode("utf-8", "replace"))


_PARSERS: dict[str, Callable[[CommandReader], Args]] = {
    "CAPABILITY": _no_args,
    "NOOP": _no_args,
    "LOGOUT": _no_args,
    "STARTTLS": _no_args,
    "CHECK": _no_args,
    "CLOSE": _no_args,
    "UNSELECT": _no_args,
    "IDLE": _no_args,
    "NAMESPACE": _no_args,
    "LOGIN": _login,
    "AUTHENTICATE": _authenticate,
    "SELECT": _select,
    "EXAMINE": _select,
    "CREATE": _mailbox_arg,
    "DELETE": _mailbox_arg,
    "SUBSCRIBE": _mailbox_arg,
    "UNSUBSCRIBE": _mailbox_arg,
    "GETQUOTAROOT": _mailbox_arg,
    "GETQUOTA": _quota_root,
    "RENAME": _rename,
    "LIST": _list,
    "LSUB": _lsub,
    "STATUS": _status,
    "APPEND": _append,
    "SEARCH": _search,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy,
    "MOVE": _copy,
    "EXPUNGE": _expunge,
    "ENABLE": _enable,
    "ID": _id,
    "SORT": parse_sort,
    "THREAD": parse_thread,
}
