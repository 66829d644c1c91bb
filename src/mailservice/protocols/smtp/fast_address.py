"""A fast path for the addresses of MAIL FROM and RCPT TO.

aiosmtpd parses every envelope address with the e-mail header parser, which costs more than storing
the message does. Nearly all envelope addresses are a plain `<dot-atom@domain>`; those are matched with
one regular expression and give exactly what the full parser gives. Anything else goes to aiosmtpd.
"""

from __future__ import annotations

import re
from typing import Any

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ANGLE_ADDRESS = re.compile(
    rf"<(?P<address>{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)>"
)


class FastAddress:
    """Mixed into aiosmtpd's protocol classes, before them in the MRO."""

    local_part_limit: int

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        match = _PLAIN_ANGLE_ADDRESS.match(arg)
        if match is None or "(" in arg or '"' in arg:
            full: Any = super()._getaddr(arg)  # type: ignore[misc]
            return full  # type: ignore[no-any-return]
        address = match.group("address")
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, arg[match.end() :].lstrip(" \t")
