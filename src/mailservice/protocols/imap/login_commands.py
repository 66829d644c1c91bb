"""STARTTLS, LOGIN and AUTHENTICATE PLAIN (with SASL-IR): from not authenticated to authenticated."""

from __future__ import annotations

from mailservice.domain.errors import DomainError
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.client_state import State
from mailservice.protocols.imap.commands import Authenticate, Command, Login
from mailservice.protocols.imap.replies import CommandFailed, bad, from_domain_error
from mailservice.protocols.lines.sasl_plain import InvalidBase64, PlainRefused, decode_plain


async def starttls(client: Client, command: Command) -> str:
    if client.state.tls or client.options.tls_context is None:
        raise bad("TLS is already active" if client.state.tls else "STARTTLS is not available")
    client.out.write(f"{command.tag} OK Begin TLS negotiation now.\r\n".encode())
    await client.out.flush()
    await client.upgrade_tls()
    return ""


async def login(client: Client, command: Command) -> str:
    assert isinstance(command.args, Login)
    _require_privacy(client)
    username = command.args.username.decode("utf-8", "replace")
    password = command.args.password.decode("utf-8", "replace")
    return await _log_in(client, username, password)


async def authenticate(client: Client, command: Command) -> str:
    assert isinstance(command.args, Authenticate)
    if command.args.mechanism != "PLAIN":
        raise CommandFailed("Unsupported authentication mechanism.")
    _require_privacy(client)
    response = command.args.initial
    if response is None:
        client.out.write(b"+ \r\n")
        await client.out.flush()
        response = await client.read_line()
        if response == b"*":
            raise bad("Authentication aborted by client.")
    try:
        plain = decode_plain(response)
    except InvalidBase64:
        raise bad("Invalid base64 data in continued response") from None
    except PlainRefused:
        raise CommandFailed("Authentication failed.", "AUTHENTICATIONFAILED") from None
    return await _log_in(client, plain.username, plain.password)


def _require_privacy(client: Client) -> None:
    if not client.plaintext_auth_allowed:
        raise CommandFailed(
            "Plaintext authentication disallowed on non-secure connections.", "PRIVACYREQUIRED"
        )


async def _log_in(client: Client, username: str, password: str) -> str:
    try:
        session = await client.login.login(username, password, client.state.peer)
    except DomainError as error:
        raise from_domain_error(error) from None
    client.state.session = session
    client.state.username = username
    client.state.state = State.AUTHENTICATED
    return f"[CAPABILITY {client.capability_text()}] Logged in"
