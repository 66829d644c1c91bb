"""What the server announces in CAPABILITY, before and after login."""

from __future__ import annotations

_ALWAYS = ("IMAP4rev1", "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE")
_AFTER_LOGIN = (
    "NAMESPACE",
    "UNSELECT",
    "CHILDREN",
    "UIDPLUS",
    "MOVE",
    "SPECIAL-USE",
    "LIST-EXTENDED",
    "QUOTA",
    "CONDSTORE",
    "BINARY",
    "QRESYNC",
    "SORT",
    "SORT=DISPLAY",
    "ESORT",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "ESEARCH",
    "SEARCHRES",
    "WITHIN",
    "LIST-STATUS",
    "STATUS=SIZE",
    "MULTIAPPEND",
    "CATENATE",
    "URL-PARTIAL",
    "UTF8=ACCEPT",
)
ENABLEABLE = frozenset({"CONDSTORE", "QRESYNC", "UTF8=ACCEPT"})


def capabilities(authenticated: bool, starttls: bool, plaintext_auth: bool) -> str:
    """`starttls`: the connection may still upgrade; `plaintext_auth`: LOGIN/PLAIN are allowed now."""
    names = list(_ALWAYS)
    if authenticated:
        names.extend(_AFTER_LOGIN)
        return " ".join(names)
    if starttls:
        names.append("STARTTLS")
    names.append("AUTH=PLAIN" if plaintext_auth else "LOGINDISABLED")
    return " ".join(names)
