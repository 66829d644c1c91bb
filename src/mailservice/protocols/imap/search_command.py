"""SEARCH and UID SEARCH over the selected folder; messages are read only for header and text keys.
With RETURN options the answer is an ESEARCH line and the result may be saved for `$`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from mailservice.domain.search_criteria import Everything
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command, SearchArgs
from mailservice.protocols.imap.condstore import enable_condstore
from mailservice.protocols.imap.folder_view import FolderView
from mailservice.protocols.imap.imap4rev2 import ESEARCH_BY_DEFAULT
from mailservice.protocols.imap.search_keys import SearchKey
from mailservice.protocols.imap.search_match import Candidate, message_test, needs_content, uses_modseq
from mailservice.protocols.imap.search_results import esearch_line, saved_uids

BATCH_MESSAGES = 200


async def search(client: Client, command: Command) -> str:
    assert isinstance(command.args, SearchArgs)
    key, returns = command.args.key, command.args.returns
    if returns is None and client.state.rev2:
        returns = ESEARCH_BY_DEFAULT
    view = client.state.selected()
    with_modseq = uses_modseq(key)
    if with_modseq:
        enable_condstore(client)
    found = await find_matches(client, view, key)
    numbers = [candidate.meta.uid if command.uid else candidate.number for candidate in found]
    modseq = max(candidate.meta.modseq for candidate in found) if with_modseq and found else None
    if returns is None:
        line = b"* SEARCH" + b"".join(b" %d" % number for number in numbers)
        client.out.write(line + (b" (MODSEQ %d)" % modseq if modseq is not None else b"") + b"\r\n")
        return "Search completed."
    if "SAVE" in returns:
        view.saved = set(saved_uids(returns, [candidate.meta.uid for candidate in found]))
    modseqs = [candidate.meta.modseq for candidate in found] if with_modseq else None
    esearch = esearch_line(command.tag, command.uid, returns, numbers, modseqs)
    if esearch is not None:
        client.out.write(esearch)
    return "Search completed."


async def find_matches(client: Client, view: FolderView, key: SearchKey) -> list[Candidate]:
    """The messages of the selected folder that match `key`, in sequence order (SORT and THREAD too)."""
    saved, now = frozenset(view.saved), datetime.now(UTC)
    candidates = [
        Candidate(number, view.metas[uid], view.count, view.uids, saved=saved, now=now)
        for number, uid in enumerate(view.uids, 1)
    ]
    if isinstance(key, Everything):  # SORT and THREAD mostly ask for ALL
        return candidates
    test = message_test(key)
    if needs_content(key):
        return await _search_content(client, view.folder_id, candidates, test)
    return [candidate for candidate in candidates if test(candidate)]


async def _search_content(
    client: Client, folder_id: int, candidates: list[Candidate], test: Callable[[Candidate], bool]
) -> list[Candidate]:
    session = client.state.mail()
    found: list[Candidate] = []
    for start in range(0, len(candidates), BATCH_MESSAGES):
        batch = candidates[start : start + BATCH_MESSAGES]
        uids = [candidate.meta.uid for candidate in batch]
        raws = await session.raw(folder_id, uids)
        structures = {structure.uid: structure for structure in await session.structures(folder_id, uids)}
        for candidate in batch:
            candidate.raw = raws.get(candidate.meta.uid)
            candidate.structure = structures.get(candidate.meta.uid)
            if candidate.raw is not None and test(candidate):
                found.append(candidate)
            candidate.raw = candidate.structure = None
    return found
