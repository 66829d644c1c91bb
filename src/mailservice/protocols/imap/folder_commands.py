"""Folder management: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS."""

from __future__ import annotations

from mailservice.adapters.mime.imap_string import quoted
from mailservice.domain.mail_session import HIERARCHY_SEPARATOR, FolderInfo, FolderStatus
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command, ListArgs, MailboxArg, Rename, StatusArgs
from mailservice.protocols.imap.list_pattern import list_pattern, parents
from mailservice.protocols.imap.mailbox_names import encode_mailbox


def mailbox_text(name: str) -> bytes:
    return quoted(encode_mailbox(name))


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
    folders = await client.state.mail().list_folders()
    for line in _listing(folders, args, kind):
        client.out.write(line)
    return f"{command.name.capitalize()} completed."


def _listing(folders: list[FolderInfo], args: ListArgs, kind: bytes) -> list[bytes]:
    by_name = {folder.name: folder for folder in folders}
    implied = {parent for folder in folders for parent in parents(folder.name)} - by_name.keys()
    with_children = {parent for folder in folders for parent in parents(folder.name)}
    patterns = [list_pattern(args.reference, pattern) for pattern in args.patterns]
    subscribed_only = "SUBSCRIBED" in args.selection
    special_only = "SPECIAL-USE" in args.selection
    show_subscribed = subscribed_only or "SUBSCRIBED" in args.returns
    show_children = not args.extended or "CHILDREN" in args.returns
    subscribed_below = _subscribed_below(folders) if "RECURSIVEMATCH" in args.selection else set()
    lines = []
    for name in sorted(by_name.keys() | implied, key=_inbox_first):
        if not any(pattern.match(name) for pattern in patterns):
            continue
        folder = by_name.get(name)
        child_info = b""
        if (subscribed_only and (folder is None or not folder.subscribed)) or (
            special_only and (folder is None or folder.special_use is None)
        ):
            if name not in subscribed_below:
                continue
            child_info = b' ("CHILDINFO" ("SUBSCRIBED"))'
        attributes = _attributes(
            folder, name in with_children, show_subscribed and kind == b"LIST", show_children
        )
        if kind == b"LSUB":
            attributes = [] if folder is not None else ["\\Noselect"]
        lines.append(
            b'* %s (%s) "/" %s%s\r\n' % (kind, " ".join(attributes).encode(), mailbox_text(name), child_info)
        )
    return lines


def _subscribed_below(folders: list[FolderInfo]) -> set[str]:
    """Names with a subscribed folder somewhere below them (RECURSIVEMATCH's CHILDINFO)."""
    return {parent for folder in folders if folder.subscribed for parent in parents(folder.name)}


def _inbox_first(name: str) -> tuple[bool, str]:
    return (name != "INBOX", name)


def _attributes(
    folder: FolderInfo | None, has_children: bool, show_subscribed: bool, show_children: bool
) -> list[str]:
    if folder is None:
        return ["\\Noselect", "\\HasChildren"] if show_children else ["\\Noselect"]
    attributes = []
    if show_children:
        attributes.append("\\HasChildren" if has_children else "\\HasNoChildren")
    if show_subscribed and folder.subscribed:
        attributes.insert(0, "\\Subscribed")
    if folder.special_use:
        attributes.append(folder.special_use)
    return attributes


async def status(client: Client, command: Command) -> str:
    assert isinstance(command.args, StatusArgs)
    found = await client.state.mail().status(command.args.mailbox)
    values = " ".join(f"{item} {_status_value(found, item)}" for item in command.args.items)
    client.out.write(b"* STATUS %s (%s)\r\n" % (mailbox_text(command.args.mailbox), values.encode()))
    return "Status completed."


def _status_value(found: FolderStatus, item: str) -> int:
    return {
        "MESSAGES": found.messages,
        "RECENT": 0,
        "UIDNEXT": found.uidnext,
        "UIDVALIDITY": found.uidvalidity,
        "UNSEEN": found.unseen,
        "HIGHESTMODSEQ": found.highestmodseq,
        "SIZE": found.size,
    }[item]
