"""Runs one parsed command: checks the state allows it, calls its handler, sends the untagged
updates RFC 3501 allows after it, and maps every failure once to a tagged NO or BAD."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from mailservice.domain.errors import DomainError
from mailservice.protocols.imap import (
    append_command,
    copy_commands,
    fetch_command,
    folder_commands,
    idle_command,
    login_commands,
    search_command,
    select_commands,
    session_commands,
    sort_commands,
    store_command,
)
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.client_state import State
from mailservice.protocols.imap.commands import Command
from mailservice.protocols.imap.condstore import highestmodseq_line
from mailservice.protocols.imap.replies import CommandFailed, Disconnect, bad, from_domain_error
from mailservice.protocols.imap.updates import (
    highestmodseq_told,
    may_expunge_after,
    send_updates,
)

log = logging.getLogger(__name__)

Handler = Callable[[Client, Command], Awaitable[str]]
_ANY = frozenset(State)
_NOT_AUTHENTICATED = frozenset({State.NOT_AUTHENTICATED})
_AUTHENTICATED = frozenset({State.AUTHENTICATED, State.SELECTED})
_SELECTED = frozenset({State.SELECTED})
_POLLS = frozenset({"NOOP", "CHECK", "IDLE"})
"""Commands that ask for news: their updates must tell every change committed before them."""

HANDLERS: dict[str, tuple[Handler, frozenset[State]]] = {
    "CAPABILITY": (session_commands.capability, _ANY),
    "NOOP": (session_commands.noop, _ANY),
    "LOGOUT": (session_commands.logout, _ANY),
    "ID": (session_commands.server_id, _ANY),
    "STARTTLS": (login_commands.starttls, _NOT_AUTHENTICATED),
    "LOGIN": (login_commands.login, _NOT_AUTHENTICATED),
    "AUTHENTICATE": (login_commands.authenticate, _NOT_AUTHENTICATED),
    "ENABLE": (session_commands.enable, _AUTHENTICATED),
    "NAMESPACE": (session_commands.namespace, _AUTHENTICATED),
    "GETQUOTA": (session_commands.get_quota, _AUTHENTICATED),
    "GETQUOTAROOT": (session_commands.get_quota_root, _AUTHENTICATED),
    "SELECT": (select_commands.select, _AUTHENTICATED),
    "EXAMINE": (select_commands.select, _AUTHENTICATED),
    "CREATE": (folder_commands.create, _AUTHENTICATED),
    "DELETE": (folder_commands.delete, _AUTHENTICATED),
    "RENAME": (folder_commands.rename, _AUTHENTICATED),
    "SUBSCRIBE": (folder_commands.subscribe, _AUTHENTICATED),
    "UNSUBSCRIBE": (folder_commands.subscribe, _AUTHENTICATED),
    "LIST": (folder_commands.list_folders, _AUTHENTICATED),
    "LSUB": (folder_commands.list_folders, _AUTHENTICATED),
    "STATUS": (folder_commands.status, _AUTHENTICATED),
    "APPEND": (append_command.append, _AUTHENTICATED),
    "IDLE": (idle_command.idle, _AUTHENTICATED),
    "CHECK": (session_commands.noop, _SELECTED),
    "CLOSE": (select_commands.close, _SELECTED),
    "UNSELECT": (select_commands.unselect, _SELECTED),
    "EXPUNGE": (select_commands.expunge, _SELECTED),
    "SEARCH": (search_command.search, _SELECTED),
    "FETCH": (fetch_command.fetch, _SELECTED),
    "STORE": (store_command.store, _SELECTED),
    "COPY": (copy_commands.copy, _SELECTED),
    "MOVE": (copy_commands.copy, _SELECTED),
    "SORT": (sort_commands.sort, _SELECTED),
    "THREAD": (sort_commands.thread, _SELECTED),
}


async def run_command(client: Client, command: Command) -> None:
    """Write everything the command answers, its tagged reply last (not flushed)."""
    handler, states = HANDLERS[command.name]
    client.state.changes_read = None
    if client.state.session is not None:
        client.state.session.begin_command(polls=command.name in _POLLS)
    try:
        if client.state.state not in states:
            raise bad(_wrong_state(client.state.state))
        text = await handler(client, command)
    except CommandFailed as failure:
        if not failure.bad:  # a BAD command was not run: nothing is told with it, as in Dovecot
            await _updates(client, command)
            _tell_highestmodseq(client)
        client.out.write(failure.line(command.tag))
        return
    except DomainError as error:
        await _updates(client, command)
        _tell_highestmodseq(client)
        client.out.write(from_domain_error(error).line(command.tag))
        return
    except (Disconnect, OSError, EOFError):  # the connection itself failed (TLS, reset, closed)
        raise
    except Exception as error:
        log.error("imap.command_failed command=%s error=%s: %s", command.name, type(error).__name__, error)
        client.out.write(f"{command.tag} NO [SERVERBUG] Internal error occurred.\r\n".encode())
        return
    await _updates(client, command)
    text = _tell_highestmodseq(client, text)
    if text:
        client.out.write(f"{command.tag} OK {text}\r\n".encode("utf-8", "replace"))


async def _updates(client: Client, command: Command) -> None:
    known, client.state.changes_read = client.state.changes_read, None
    if client.state.state is not State.SELECTED or command.name in ("SELECT", "EXAMINE", "IDLE"):
        return
    try:
        await send_updates(client, may_expunge_after(command), known)
    except DomainError as error:
        log.warning("imap.updates_failed command=%s error=%s", command.name, error.code)


def _tell_highestmodseq(client: Client, text: str = "") -> str:
    """The tagged OK's text, with HIGHESTMODSEQ when the updates moved it and the text has no code of
    its own; otherwise it goes in an untagged OK (as Dovecot does)."""
    told = highestmodseq_told(client)
    if told is None:
        return text
    if text and not text.startswith("["):
        return f"[HIGHESTMODSEQ {told}] {text}"
    client.out.write(highestmodseq_line(told))
    return text


def _wrong_state(state: State) -> str:
    if state is State.NOT_AUTHENTICATED:
        return "Command requires being logged in."
    if state is State.AUTHENTICATED:
        return "No mailbox selected."
    return "Command not valid in this state."
