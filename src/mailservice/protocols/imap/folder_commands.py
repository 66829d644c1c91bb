"""Folder management: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS."""

from __future__ import annotations

from mailservice.domain.mail_session import HIERARCHY_SEPARATOR, FolderInfo, FolderStatus
from mailservice.mime.imap_string import quoted
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command, ListArgs, MailboxArg, Rename, StatusArgs
from mailservice.protocols.imap.list_pattern import list_pattern, parents
from mailservice.protocols.imap.mailbox_names import encode_name
from mailservice.protocols.imap.replies import bad


def mailbox_text(name: str, utf8: bool) -> bytes:
    return quoted(encode_name(name, utf8))


async def create(client: Client, command: Command) -> str:
    assert isinstance(command.args, MailboxArg)
    await client.state.mail().create_folder(command.args.mailbox.rstrip(HIERARCHY_SEPARATOR))
    return "Create completed."


async def delete(client: Client, command: Command) -> str:
    assert isinstance(command.args, MailboxArg)
    await client.state.mail().delete_folder(command.args.mailbox)
    return "Delete completed."


async def rename(client: Client, command: Command) -> str:
    assert isinstance(command.args, Rename)
    await client.state.mail().rename_folder(command.args.old, command.args.new)
    return "Rename completed."


async def subscribe(client: Client, command: Command) -> str:
    assert isinstance(command.args, MailboxArg)
    await client.state.mail().set_subscribed(command.args.mailbox, command.name == "SUBSCRIBE")
    return f"{command.name.capitalize()} completed."


async def list_folders(client: Client, command: Command) -> str:
    assert isinstance(command.args, ListArgs)
    args = command.args
    kind = b"LSUB" if command.name == "LSUB" else b"LIST"
    if args.patterns == ("",) and kind == b"LIST":
        client.out.write(b'* LIST (\\Noselect) "/" ""\r\n')
        return "List completed."
    mail = client.state.mail()
    folders = await mail.list_folders()
    subscribed = await mail.subscriptions()
    existing = {folder.name for folder in folders}
    for name, line in _listing(folders, subscribed, args, kind, client.state.utf8):
        client.out.write(line)
        if args.status_items and name in existing:
            await _write_status(client, name, args.status_items)
    return f"{command.name.capitalize()} completed."


def _listing(
    folders: list[FolderInfo], subscribed: frozenset[str], args: ListArgs, kind: bytes, utf8: bool
) -> list[tuple[str, bytes]]:
    """LIST and LSUB answers. Subscriptions are names: a subscribed name without a folder is listed
    `\\NonExistent` by LIST (SUBSCRIBED) and by LSUB; an unsubscribed name above a subscribed one that
    the pattern does not reach is listed by LSUB `\\Noselect` and by RECURSIVEMATCH with its CHILDINFO
    (RFC 3501 section 6.3.9, RFC 5258)."""
    by_name = {folder.name: folder for folder in folders}
    with_children = {parent for folder in folders for parent in parents(folder.name)}
    patterns = [list_pattern(args.reference, pattern) for pattern in args.patterns]
    above_subscribed = {
        parent
        for name in subscribed
        if not any(pattern.match(name) for pattern in patterns)
        for parent in parents(name)
    }
    by_subscription = kind == b"LSUB" or "SUBSCRIBED" in args.selection
    names = by_name.keys() | with_children | (subscribed | above_subscribed if by_subscription else set())
    show_subscribed = "SUBSCRIBED" in args.selection or "SUBSCRIBED" in args.returns
    show_children = not args.extended or "CHILDREN" in args.returns
    lines = []
    for name in sorted(names, key=_inbox_first):
        if not any(pattern.match(name) for pattern in patterns):
            continue
        folder = by_name.get(name)
        if kind == b"LSUB":
            line = _lsub_line(name, folder, name in subscribed, name in above_subscribed, utf8)
        else:
            line = _list_line(
                name,
                folder,
                name in subscribed,
                name in with_children,
                args,
                show_subscribed,
                show_children,
                name in above_subscribed,
                utf8,
            )
        if line is not None:
            lines.append((name, line))
    return lines


def _lsub_line(
    name: str, folder: FolderInfo | None, subscribed: bool, above: bool, utf8: bool
) -> bytes | None:
    if subscribed:
        attributes = "" if folder is not None else "\\NonExistent"
    elif above:
        attributes = "\\Noselect"
    else:
        return None
    return b'* LSUB (%s) "/" %s\r\n' % (attributes.encode(), mailbox_text(name, utf8))


def _list_line(
    name: str,
    folder: FolderInfo | None,
    subscribed: bool,
    has_children: bool,
    args: ListArgs,
    show_subscribed: bool,
    show_children: bool,
    above_subscribed: bool,
    utf8: bool,
) -> bytes | None:
    child_info = b""
    selected = not (
        ("SUBSCRIBED" in args.selection and not subscribed)
        or ("SPECIAL-USE" in args.selection and (folder is None or folder.special_use is None))
    )
    if not selected:
        if not ("RECURSIVEMATCH" in args.selection and above_subscribed and "SUBSCRIBED" in args.selection):
            return None
        child_info = b' ("CHILDINFO" ("SUBSCRIBED"))'
    if folder is None and not has_children and not subscribed:
        return None
    attributes = _attributes(folder, has_children, show_subscribed and subscribed, show_children)
    return b'* LIST (%s) "/" %s%s\r\n' % (" ".join(attributes).encode(), mailbox_text(name, utf8), child_info)


def _inbox_first(name: str) -> tuple[bool, str]:
    return (name != "INBOX", name)


def _attributes(
    folder: FolderInfo | None, has_children: bool, subscribed: bool, show_children: bool
) -> list[str]:
    attributes = []
    if folder is None:
        attributes.append("\\NonExistent" if not has_children or subscribed else "\\Noselect")
    if subscribed:
        attributes.insert(0, "\\Subscribed")
    if show_children:
        attributes.append("\\HasChildren" if has_children else "\\HasNoChildren")
    if folder is not None and folder.special_use:
        attributes.append(folder.special_use)
    return attributes


async def status(client: Client, command: Command) -> str:
    assert isinstance(command.args, StatusArgs)
    await _write_status(client, command.args.mailbox, command.args.items)
    return "Status completed."


async def _write_status(client: Client, mailbox: str, wanted: tuple[str, ...]) -> None:
    if client.state.rev2 and "RECENT" in wanted:
        raise bad("STATUS RECENT is not part of IMAP4rev2")
    found = await client.state.mail().status(mailbox)
    view = client.state.view
    recent = len(view.recent) if view is not None and view.folder_id == found.folder_id else found.recent
    items = sorted(set(wanted), key=STATUS_ORDER.index)
    values = " ".join(f"{item} {_status_value(found, item, recent)}" for item in items)
    client.out.write(b"* STATUS %s (%s)\r\n" % (mailbox_text(mailbox, client.state.utf8), values.encode()))


STATUS_ORDER = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "HIGHESTMODSEQ", "SIZE")
"""Items are answered in this order, each once, whatever the request's order (as Dovecot does)."""


def _status_value(found: FolderStatus, item: str, recent: int) -> int:
    """`recent`: this connection's own count for the selected folder, else the messages nobody took."""
    return {
        "MESSAGES": found.messages,
        "RECENT": recent,
        "UIDNEXT": found.uidnext,
        "UIDVALIDITY": found.uidvalidity,
        "UNSEEN": found.unseen,
        "DELETED": found.deleted,
        "HIGHESTMODSEQ": found.highestmodseq,
        "SIZE": found.size,
    }[item]
