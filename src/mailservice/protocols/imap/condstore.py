"""CONDSTORE (RFC 7162) is enabled per connection by ENABLE or by the first command that uses it."""

from __future__ import annotations

from mailservice.protocols.imap.client import Client


def enable_condstore(client: Client) -> None:
    if client.state.condstore:
        return
    client.state.condstore = True
    if client.state.view is not None:
        client.out.write(highestmodseq_line(client.state.view.highestmodseq))


def highestmodseq_line(modseq: int) -> bytes:
    """The untagged OK that tells the folder's HIGHESTMODSEQ."""
    return b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % modseq
