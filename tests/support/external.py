"""Programs from Debian packages that some tests drive (Dovecot, mbsync, fetchmail, mutt).

.ci/run installs them and sets MAILSERVICE_REQUIRE_EXTERNAL=1, so under CI a missing program fails
the test; elsewhere the test is skipped and says which package to install.
"""

from __future__ import annotations

import os
import shutil

import pytest

PACKAGES = {"dovecot": "dovecot-imapd", "mbsync": "isync", "fetchmail": "fetchmail", "mutt": "mutt"}


def require_programs(*programs: str) -> None:
    missing = [program for program in programs if shutil.which(program) is None]
    if not missing:
        return
    packages = " ".join(PACKAGES.get(program, program) for program in missing)
    message = f"{', '.join(missing)} not installed (apt-get install {packages}; .ci/run installs them)"
    if os.environ.get("MAILSERVICE_REQUIRE_EXTERNAL") == "1":
        pytest.fail(message)
    pytest.skip(message)
