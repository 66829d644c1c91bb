"""IMAP4rev2 (RFC 9051) beside IMAP4rev1: advertised from the greeting on, in force after
`ENABLE IMAP4rev2` (its Appendix A). From then on the connection's mailbox names are UTF-8 (section
5.1, as with UTF8=ACCEPT), SEARCH without RETURN answers ESEARCH (`RETURN (ALL)`), SELECT and EXAMINE
name the folder with a LIST line and send neither RECENT nor `[UNSEEN n]`, and \\Recent is gone: the
connection takes no message as recent (others may still), shows no \\Recent flag or RECENT count, and
STATUS RECENT is BAD. Every other difference of its Appendix E is the same in both modes (docs/imap.md).
"""

from __future__ import annotations

from mailservice.protocols.imap.client import Client

ESEARCH_BY_DEFAULT = frozenset({"ALL"})
"""The RETURN options of an IMAP4rev2 SEARCH that names none (RFC 9051 section 6.4.4)."""


def enable_imap4rev2(client: Client) -> None:
    state = client.state
    state.rev2 = True
    state.utf8 = True
    if state.view is not None:
        state.view.recent.clear()
