"""FETCH and UID FETCH: messages are read from the store in batches (bounded by count and bytes)
and each batch is written in one go, so a large FETCH streams instead of piling up in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mailservice.domain.mail_session import FlagChange, MailSession
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command, FetchArgs
from mailservice.protocols.imap.condstore import enable_condstore
from mailservice.protocols.imap.fetch_response import (
    FetchPlan,
    FieldAnswers,
    FieldsPiece,
    LinePlan,
    MessageData,
    plan_fetch,
)
from mailservice.protocols.imap.folder_view import FolderView
from mailservice.protocols.imap.qresync import require_qresync, write_vanished_earlier
from mailservice.protocols.imap.replies import CommandFailed, bad
from mailservice.protocols.imap.updates import refresh_flags

BATCH_MESSAGES = 500
BATCH_BYTES = 4 * 1024 * 1024
COMMON_FIELDS_BATCH = 2000
"""Messages per read of a header sync of common fields: a few hundred bytes each, and each read is a
round trip to a reader thread (or the database) that costs as much as reading 500 of them."""


async def fetch(client: Client, command: Command) -> str:
    assert isinstance(command.args, FetchArgs)
    request = command.args.request
    view = client.state.selected()
    if request.changed_since is not None or request.wants("MODSEQ"):
        enable_condstore(client)
    chosen = view.select(command.args.sequence_set, command.uid)
    if request.vanished:
        if not command.uid:
            raise bad("VANISHED is only for UID FETCH")
        require_qresync(client)
    await refresh_flags(client, view)
    if request.changed_since is not None:
        since = request.changed_since
        if request.vanished:
            await write_vanished_earlier(client, view, since, command.args.sequence_set)
        chosen = [(number, uid) for number, uid in chosen if view.metas[uid].modseq > since]
    seen = await _mark_seen(client, view, chosen) if request.sets_seen else set()
    # With CONDSTORE on, flags always come with their modseq, so that a client learns the modseq of
    # every flags it is shown (Dovecot 2.3 adds MODSEQ to a FETCH of FLAGS only when asked; both are valid).
    with_modseq = request.changed_since is not None or (client.state.condstore and request.wants("FLAGS"))
    plan = plan_fetch(request, command.uid, with_modseq, with_flags=False)
    plan_with_flags = plan_fetch(request, command.uid, with_modseq or client.state.condstore, with_flags=True)
    if client.state.qresync and chosen and (with_modseq or request.wants("MODSEQ") or seen):
        # Only `highestmodseq_told` reads it, with QRESYNC on (which turns CONDSTORE on too).
        view.shown_modseq = max(view.shown_modseq, *(view.metas[uid].modseq for _, uid in chosen))
    if plan.line is not None and not seen:
        await _fetch_lines(client, view, plan, plan.line, chosen, command.uid)
        return "Fetch completed."
    if not plan.needs_raw and not plan.needs_structure and not plan.needs_header:
        metas = view.metas
        client.out.write_all(
            [
                (plan_with_flags if uid in seen else plan).render(MessageData(number, metas[uid], None, None))
                for number, uid in chosen
            ]
        )
        return "Fetch completed."
    missing = False
    session = client.state.mail()
    for batch in _batches(chosen, view, plan):
        loaded = await _load(session, view, plan, batch)
        lines = []
        for message in loaded:
            if message is None:
                missing = True
                continue
            lines.append((plan_with_flags if message.meta.uid in seen else plan).render(message))
        client.out.write_all(lines)
        await client.out.flush()
    if missing and not command.uid:
        raise CommandFailed("Some of the requested messages no longer exist.", "EXPUNGEISSUED")
    return "Fetch completed."


async def _fetch_lines(
    client: Client,
    view: FolderView,
    plan: FetchPlan,
    line: LinePlan,
    chosen: list[tuple[int, int]],
    by_uid: bool,
) -> None:
    """Metadata with structure texts or header fields only: one format per message, no per-item work."""
    metas, render = view.metas, line.render
    if not plan.needs_structure and not plan.needs_header:
        client.out.write_all([render(number, metas[uid], None) for number, uid in chosen])
        return
    if line.fields is not None:
        await _fetch_fields(client, view, line.fields, chosen, by_uid)
        return
    session = client.state.mail()
    missing = False
    for batch in _batches(chosen, view, plan):
        uids = [uid for _, uid in batch]
        found: dict[int, Any]
        if plan.needs_header:
            found = await session.headers(view.folder_id, uids)
        else:
            structures = await session.structures(view.folder_id, uids, plan.structure_items)
            found = {structure.uid: structure for structure in structures}
        lines = [render(number, metas[uid], found[uid]) for number, uid in batch if uid in found]
        missing = missing or len(lines) < len(batch)
        client.out.write_all(lines)
        await client.out.flush()
    if missing and not by_uid:
        raise CommandFailed("Some of the requested messages no longer exist.", "EXPUNGEISSUED")


async def _fetch_fields(
    client: Client, view: FolderView, fields: FieldsPiece, chosen: list[tuple[int, int]], by_uid: bool
) -> None:
    """A header sync: each message's HEADER.FIELDS item from the cache, or made from its header block
    (read only for the messages the cache does not have) and kept."""
    metas, render = view.metas, fields.render
    cache = client.options.fields_cache
    key = (view.folder_id, view.uidvalidity, fields.key)
    known = cache.answers(key)
    session = client.state.mail()
    missing = False
    size = BATCH_MESSAGES if fields.make_common is None else COMMON_FIELDS_BATCH
    for start in range(0, len(chosen), size):
        batch = chosen[start : start + size]
        unknown = [
            uid for _, uid in batch if (answer := known.get(uid)) is None or answer[0] != metas[uid].size
        ]
        if unknown:
            made = await _made_fields(session, view, fields, unknown)
            cache.keep(key, made)
            known.update(made)
            missing = missing or len(made) < len(unknown)
        lines = []
        for number, uid in batch:
            answer = known.get(uid)
            if answer is not None and answer[0] == metas[uid].size:
                lines.append(render(number, metas[uid], answer[1]))
        client.out.write_all(lines)
        await client.out.flush()
    if missing and not by_uid:
        raise CommandFailed("Some of the requested messages no longer exist.", "EXPUNGEISSUED")


async def _made_fields(
    session: MailSession, view: FolderView, fields: FieldsPiece, uids: list[int]
) -> FieldAnswers:
    """(size, HEADER.FIELDS literal) of each existing message of `uids`: from its common header fields
    when the item names only such fields and the message has them kept, else from its header block."""
    metas = view.metas
    if fields.make_common is None:
        headers = await session.headers(view.folder_id, uids)
        return {uid: (metas[uid].size, fields.make(header)) for uid, header in headers.items()}
    found = await session.common_fields(view.folder_id, uids)
    made = fields.make_common(found.common, metas)
    for uid, header in found.headers.items():
        made[uid] = (metas[uid].size, fields.make(header))
    return made


async def _mark_seen(client: Client, view: FolderView, chosen: list[tuple[int, int]]) -> set[int]:
    if view.read_only:
        return set()
    unseen = [uid for _, uid in chosen if "\\Seen" not in view.metas[uid].flags and uid not in view.gone]
    if not unseen:
        return set()
    stored = await client.state.mail().store_flags(
        view.folder_id, unseen, FlagChange.ADD, frozenset({"\\Seen"})
    )
    # Keywords another session gave these messages since the changes were read are named first.
    client.out.write_all(view.update(stored.updated))
    if stored.updated:  # newer than the changes read before: the updates after the command read again
        client.state.changes_read = None
    return {meta.uid for meta in stored.updated}


def _batches(
    chosen: list[tuple[int, int]], view: FolderView, plan: FetchPlan
) -> Iterator[list[tuple[int, int]]]:
    if not plan.needs_raw:
        for start in range(0, len(chosen), BATCH_MESSAGES):
            yield chosen[start : start + BATCH_MESSAGES]
        return
    batch: list[tuple[int, int]] = []
    size = 0
    for number, uid in chosen:
        batch.append((number, uid))
        size += view.metas[uid].size
        if len(batch) >= BATCH_MESSAGES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


async def _load(
    session: MailSession, view: FolderView, plan: FetchPlan, batch: list[tuple[int, int]]
) -> list[MessageData | None]:
    uids = [uid for _, uid in batch]
    structures = (
        {found.uid: found for found in await session.structures(view.folder_id, uids, plan.structure_items)}
        if plan.needs_structure
        else {}
    )
    raws = await session.raw(view.folder_id, uids) if plan.needs_raw else {}
    headers = await session.headers(view.folder_id, uids) if plan.needs_header else {}
    loaded: list[MessageData | None] = []
    for number, uid in batch:
        structure, raw, header = structures.get(uid), raws.get(uid), headers.get(uid)
        if (
            (plan.needs_structure and structure is None)
            or (plan.needs_raw and raw is None)
            or (plan.needs_header and header is None)
        ):
            loaded.append(None)
        else:
            loaded.append(MessageData(number, view.metas[uid], structure, raw, header))
    return loaded
