"""Programs from Debian packages that some tests drive (Chromium, Dovecot, mbsync, fetchmail, mutt).

Installing them needs root, so a fresh machine may lack them. .ci/run installs them and sets
MAILSERVICE_REQUIRE_EXTERNAL=1, so under CI a missing program fails the test. Elsewhere the test is skipped
with a reason naming every missing package, and the hook below reports all those skips from one place, so
pytest's summary folds them into one line. tests/conftest.py loads this module as a plugin.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator

import pytest

PACKAGES = {
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
    "dovecot": "dovecot-imapd",
    "mbsync": "isync",
    "fetchmail": "fetchmail",
    "mutt": "mutt",
    "script": "bsdutils",
}
SKIP_REASON_START = "programs not installed"


def require_programs(*programs: str) -> None:
    """Skip (or under CI fail) the calling test unless every program is on the PATH."""
    missing = [program for program in programs if shutil.which(program) is None]
    if not missing:
        return
    if os.environ.get("MAILSERVICE_REQUIRE_EXTERNAL") == "1":
        pytest.fail(f"{', '.join(missing)} not installed (apt-get install {_packages(missing)})")
    pytest.skip(_skip_reason(missing))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and SKIP_REASON_START in report.longrepr[2]:
        report.longrepr = (__file__, require_programs.__code__.co_firstlineno, report.longrepr[2])
    return report


def _skip_reason(missing: list[str]) -> str:
    every_missing = [*missing, *(program for program in PACKAGES if shutil.which(program) is None)]
    return (
        f"{SKIP_REASON_START}, tests that drive them skipped: apt-get install {_packages(every_missing)} "
        "(MAILSERVICE_REQUIRE_EXTERNAL=1 makes them fail instead)"
    )


def _packages(programs: list[str]) -> str:
    return " ".join(sorted({PACKAGES.get(program, program) for program in programs}))
