"""SORT and THREAD (and their UID forms; ESORT's `SORT RETURN (...)`): the messages SEARCH would find,
ordered by the keys stored with each message at delivery (`SortKeys`), or threaded by what their
headers say."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mailservice.domain.messages import SortKeys
from mailservice.mime.header_fields import first_values
from mailservice.mime.headers import unfold
from mailservice.mime.sort_keys import (
    SORT_FIELDS,
    sent_date,
    subject_text,
)
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command
from mailservice.protocols.imap.condstore import enable_condstore
from mailservice.protocols.imap.folder_view import FolderView
from mailservice.protocols.imap.message_threads import (
    ThreadMessage,
    message_ids,
    ordered_subject,
    references,
    thread_text,
)
from mailservice.protocols.imap.search_command import find_matches
from mailservice.protocols.imap.search_match import Candidate, uses_modseq
from mailservice.protocols.imap.search_results import esearch_line, saved_uids
from mailservice.protocols.imap.sort_args import SortArgs, SortCriterion, ThreadArgs

BATCH_MESSAGES = 500
KEY_BATCH_MESSAGES = 5000
_WITHOUT_HEADER = frozenset({"ARRIVAL", "SIZE"})

Fields = dict[str, bytes]
"""The first value of each of `SORT_FIELDS` a message has."""
SortValue = Callable[[Candidate, SortKeys], Any]
_NO_KEYS = SortKeys("", None, "", "", "", "", "")
_SORT_VALUES: dict[str, SortValue] = {
    "ARRIVAL": lambda message, _: _internal_date(message),
    "SIZE": lambda message, _: message.meta.size,
    "DATE": lambda message, keys: _internal_date(message) if keys.sent is None else keys.sent,
    "SUBJECT": lambda _, keys: keys.subject,
    "FROM": lambda _, keys: keys.from_,
    "TO": lambda _, keys: keys.to,
    "CC": lambda _, keys: keys.cc,
    "DISPLAYFROM": lambda _, keys: keys.display_from,
    "DISPLAYTO": lambda _, keys: keys.display_to,
}


async def sort(client: Client, command: Command) -> str:
    assert isinstance(command.args, SortArgs)
    args = command.args
    view = client.state.selected()
    with_modseq = uses_modseq(args.key)
    if with_modseq:
        enable_condstore(client)
    found = await find_matches(client, view, args.key)
    needs_header = any(criterion.name not in _WITHOUT_HEADER for criterion in args.criteria)
    keys = await _sort_keys(client, view, found) if needs_header else {}
    ordered = sorted_messages(found, args.criteria, keys)
    numbers = [message.meta.uid if command.uid else message.number for message in ordered]
    # RFC 7162 section 3.1.5: a MODSEQ search key adds the highest modseq of what was found
    modseq = max((message.meta.modseq for message in found), default=None) if with_modseq else None
    if args.returns is None:
        line = "* SORT" + "".join(f" {number}" for number in numbers)
        line += f" (MODSEQ {modseq})" if modseq is not None else ""
        client.out.write(line.encode() + b"\r\n")
        return "Sort completed."
    if "SAVE" in args.returns:
        view.saved = set(saved_uids(args.returns, [message.meta.uid for message in ordered]))
    modseqs = [message.meta.modseq for message in ordered] if with_modseq else None
    esort = esearch_line(command.tag, command.uid, args.returns, numbers, modseqs)
    if esort is not None:
        client.out.write(esort)
    return "Sort completed."


def sorted_messages(
    found: list[Candidate], criteria: tuple[SortCriterion, ...], keys: dict[int, SortKeys]
) -> list[Candidate]:
    """Ordered by the criteria, the first deciding first; ties stay in sequence order (stable sorts
    from the last criterion to the first)."""
    ordered = list(found)
    for criterion in reversed(criteria):
        ordered.sort(key=_sort_key(_SORT_VALUES[criterion.name], keys), reverse=criterion.reverse)
    return ordered


def _internal_date(message: Candidate) -> datetime:
    """To the second, as IMAP gives it (and Dovecot keeps it): messages delivered within one second
    tie and keep sequence order."""
    return message.meta.internal_date.replace(microsecond=0)


def _sort_key(value: SortValue, keys: dict[int, SortKeys]) -> Callable[[Candidate], Any]:
    def key(message: Candidate) -> Any:
        return value(message, keys.get(message.meta.uid, _NO_KEYS))

    return key


async def _sort_keys(client: Client, view: FolderView, found: list[Candidate]) -> dict[int, SortKeys]:
    """The keys of `found`, read once per message and connection (the folder view keeps them)."""
    session = client.state.mail()
    keys = view.sort_keys
    missing = [message.meta.uid for message in found if message.meta.uid not in keys]
    for start in range(0, len(missing), KEY_BATCH_MESSAGES):
        keys.update(await session.sort_keys(view.folder_id, missing[start : start + KEY_BATCH_MESSAGES]))
    return keys


async def thread(client: Client, command: Command) -> str:
    assert isinstance(command.args, ThreadArgs)
    view = client.state.selected()
    if uses_modseq(command.args.key):
        enable_condstore(client)
    found = await find_matches(client, view, command.args.key)
    fields = await _fields(client, view, found)
    messages = [_thread_message(message, fields.get(message.meta.uid, {}), command.uid) for message in found]
    algorithm = ordered_subject if command.args.algorithm == "ORDEREDSUBJECT" else references
    client.out.write(f"* THREAD {thread_text(algorithm(messages))}".rstrip().encode() + b"\r\n")
    return "Thread completed."


def _thread_message(message: Candidate, fields: Fields, by_uid: bool) -> ThreadMessage:
    ids = message_ids(_text(fields, "message-id"))
    chain = message_ids(_text(fields, "references")) or message_ids(_text(fields, "in-reply-to"))[:1]
    return ThreadMessage(
        number=message.meta.uid if by_uid else message.number,
        position=message.number,
        sent=sent_date(fields.get("date"), message.meta),
        subject=subject_text(fields.get("subject")),
        message_id=ids[0] if ids else None,
        references=tuple(chain),
    )


def _text(fields: Fields, name: str) -> str:
    value = fields.get(name)
    return "" if value is None else unfold(value).decode("utf-8", "replace")


async def _fields(client: Client, view: FolderView, found: list[Candidate]) -> dict[int, Fields]:
    """The fields SORT and THREAD read, by uid, from the header blocks read in batches."""
    session = client.state.mail()
    fields: dict[int, Fields] = {}
    uids = [message.meta.uid for message in found]
    for start in range(0, len(uids), BATCH_MESSAGES):
        headers = await session.headers(view.folder_id, uids[start : start + BATCH_MESSAGES])
        fields.update((uid, first_values(header, SORT_FIELDS)) for uid, header in headers.items())
    return fields
