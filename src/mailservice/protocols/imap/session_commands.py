"""Commands valid in any state, and the small authenticated ones: CAPABILITY, NOOP, LOGOUT, ID,
ENABLE, NAMESPACE, GETQUOTA, GETQUOTAROOT."""

from __future__ import annotations

from mailservice.mime.imap_string import quoted
from mailservice.protocols.imap.capabilities import ENABLEABLE
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.client_state import State
from mailservice.protocols.imap.commands import Command, EnableArgs, MailboxArg, QuotaRootArg
from mailservice.protocols.imap.condstore import enable_condstore
from mailservice.protocols.imap.imap4rev2 import enable_imap4rev2
from mailservice.protocols.imap.mailbox_names import encode_name
from mailservice.protocols.imap.qresync import enable_qresync
from mailservice.protocols.imap.replies import CommandFailed

SERVER_ID = b'* ID ("name" "mailservice")\r\n'
QUOTA_ROOT = ""


async def capability(client: Client, command: Command) -> str:
    client.out.write(f"* CAPABILITY {client.capability_text()}\r\n".encode())
    return "Capability completed."


async def noop(client: Client, command: Command) -> str:
    return f"{command.name.capitalize()} completed."


async def logout(client: Client, command: Command) -> str:
    client.out.write(b"* BYE Logging out\r\n")
    client.state.state = State.LOGOUT
    return "Logout completed."


async def server_id(client: Client, command: Command) -> str:
    client.out.write(SERVER_ID)
    return "ID completed."


async def enable(client: Client, command: Command) -> str:
    assert isinstance(command.args, EnableArgs)
    enabled = [ENABLEABLE[name] for name in command.args.capabilities if name in ENABLEABLE]
    if "CONDSTORE" in enabled:
        enable_condstore(client)
    if "QRESYNC" in enabled:
        enable_qresync(client)
    if "UTF8=ACCEPT" in enabled:
        client.state.utf8 = True
    if "IMAP4rev2" in enabled:
        enable_imap4rev2(client)
    client.out.write(("* ENABLED" + "".join(f" {name}" for name in enabled) + "\r\n").encode())
    return "Enabled."


async def namespace(client: Client, command: Command) -> str:
    client.out.write(b'* NAMESPACE (("" "/")) NIL NIL\r\n')
    return "Namespace completed."


async def get_quota(client: Client, command: Command) -> str:
    assert isinstance(command.args, QuotaRootArg)
    if command.args.root != QUOTA_ROOT:
        raise CommandFailed("Quota root does not exist", "NONEXISTENT")
    await _write_quota(client)
    return "Getquota completed."


async def get_quota_root(client: Client, command: Command) -> str:
    assert isinstance(command.args, MailboxArg)
    await client.state.mail().status(command.args.mailbox)  # refuses a folder that does not exist
    name = quoted(encode_name(command.args.mailbox, client.state.utf8))
    client.out.write(b'* QUOTAROOT %s ""\r\n' % name)
    await _write_quota(client)
    return "Getquotaroot completed."


async def _write_quota(client: Client) -> None:
    quota = await client.state.mail().quota()
    used = (quota.used_bytes + 1023) // 1024
    client.out.write(b'* QUOTA "" (STORAGE %d %d)\r\n' % (used, quota.limit_bytes // 1024))
