"""STORE and UID STORE, with CONDSTORE's UNCHANGEDSINCE ([MODIFIED] for the refused messages)."""

from __future__ import annotations

from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command, StoreArgs
from mailservice.protocols.imap.condstore import enable_condstore
from mailservice.protocols.imap.flag_text import keywords_of, normalize_flags, stored_flags_text
from mailservice.protocols.imap.sequence_set import uid_set_text
from mailservice.protocols.imap.updates import refreshed, session_ends_if_folder_gone


async def store(client: Client, command: Command) -> str:
    """Answered as Dovecot does: a FETCH for each message whose flags the client has not seen (none
    for a message the STORE left as it was), after the flags responses naming every keyword the
    STORE names. Other sessions' changes are read before the flags are written (by the store, with
    the messages to change), so a message another session gave these flags shows them."""
    assert isinstance(command.args, StoreArgs)
    args = command.args
    view = client.state.writable()
    if args.unchanged_since is not None:
        enable_condstore(client)
    flags = normalize_flags(args.flags)
    chosen = view.select(args.sequence_set, command.uid)
    uids = [uid for _, uid in chosen if uid not in view.gone]
    with session_ends_if_folder_gone():
        stored = await client.state.mail().store_flags(
            view.folder_id,
            uids,
            args.change,
            flags,
            args.unchanged_since,
            changes_since=view.highestmodseq,
            uidvalidity=view.uidvalidity,
            known=view.metas,
        )
    lines = refreshed(view, stored.before) if stored.before is not None else []
    lines += view.announce(keywords_of(flags))  # Dovecot creates every keyword named, -FLAGS too
    lines += view.update(stored.updated)
    modified = set(stored.modified)
    updated = {meta.uid for meta in stored.updated}
    with_modseq = client.state.condstore
    for number, uid in chosen:
        if uid in modified or uid not in view.metas:
            continue
        if not (uid in updated or view.stored(uid, args.change, flags)):
            continue
        if args.silent and not (with_modseq and uid in updated):
            continue
        # .SILENT leaves out this STORE's own change only: flags set elsewhere that the client has not
        # been told of come with the MODSEQ (as in Dovecot), or it would never hear of them.
        with_flags = not args.silent or uid in view.unannounced
        view.unannounced.discard(uid)
        meta = view.metas[uid]
        items = [b"UID %d" % uid] if command.uid or with_modseq else []
        if with_modseq:  # before FLAGS, as Dovecot sends it
            items.append(view.modseq_item(meta.modseq))
        if with_flags:
            items.append(b"FLAGS (%s)" % stored_flags_text(meta.flags))
        lines.append(b"* %d FETCH (%s)\r\n" % (number, b" ".join(items)))
    client.out.write_all(lines)
    if modified:
        numbers = sorted(modified) if command.uid else [view.sequence_number(uid) for uid in sorted(modified)]
        return f"[MODIFIED {uid_set_text(numbers)}] Conditional STORE failed"
    return "Store completed."
