"""What the server announces in CAPABILITY, before and after login."""

from __future__ import annotations

_ALWAYS = ("IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE")
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
ENABLEABLE = {
    "CONDSTORE": "CONDSTORE",
    "QRESYNC": "QRESYNC",
    "UTF8=ACCEPT": "UTF8=ACCEPT",
    "IMAP4REV2": "IMAP4rev2",
}
"""What ENABLE takes (the names upper-cased as read) and the name its ENABLED line gives back."""


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
