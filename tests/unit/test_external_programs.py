"""Tests that drive programs installable only as root skip on a fresh machine and fail under CI."""

from __future__ import annotations

import shutil

import pytest

from tests.support.external import require_programs


def test_a_missing_program_fails_when_external_programs_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILSERVICE_REQUIRE_EXTERNAL", "1")
    with pytest.raises(pytest.fail.Exception, match="no-such-imap-client"):
        require_programs("no-such-imap-client")


def test_a_missing_program_skips_when_external_programs_are_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILSERVICE_REQUIRE_EXTERNAL", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install .*no-such-imap-client"):
        require_programs("no-such-imap-client")


def test_every_skip_gives_one_reason_naming_every_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILSERVICE_REQUIRE_EXTERNAL", raising=False)
    monkeypatch.setattr(shutil, "which", lambda program: None)

    reasons = {_skip_reason(programs) for programs in (("chromium", "chromedriver"), ("dovecot",), ("mutt",))}

    assert reasons == {
        "programs not installed, tests that drive them skipped: apt-get install bsdutils chromium "
        "chromium-driver dovecot-imapd fetchmail isync mutt (MAILSERVICE_REQUIRE_EXTERNAL=1 makes them fail instead)"
    }


def test_an_installed_program_neither_skips_nor_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILSERVICE_REQUIRE_EXTERNAL", "1")
    monkeypatch.setattr(shutil, "which", lambda program: f"/usr/bin/{program}")

    require_programs("dovecot", "mutt")


def _skip_reason(programs: tuple[str, ...]) -> str:
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_programs(*programs)
    return str(skipped.value.msg)
