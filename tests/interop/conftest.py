from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.dialogue import QUOTA_KIB, Dialogue
from tests.interop.engine_thread import engine_in_thread
from tests.interop.mail_targets import MailboxFactory, MailTarget, mailbox_factory
from tests.support.databases import empty_postgres_database, sqlite_copy
from tests.support.dovecot import ImapAccount, running_dovecot


def empty_database(request: pytest.FixtureRequest, workdir: Path) -> str:
    """A migrated database with no data for the module's `request.param`: "sqlite" or "postgresql"."""
    if request.param == "sqlite":
        return sqlite_copy(request.getfixturevalue("sqlite_template_path"), workdir)
    dsn: str = request.getfixturevalue("postgres_dsn")
    empty_postgres_database(dsn)
    return dsn


@pytest.fixture(scope="module", params=["dovecot", "sqlite", "postgresql"])
def new_mailbox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MailboxFactory]:
    """Makes empty mailboxes on one server per module: Dovecot, or ours on each database."""
    workdir = tmp_path_factory.mktemp(f"server-{request.param}")
    dsn = None if request.param == "dovecot" else empty_database(request, workdir)
    yield from mailbox_factory(request.param, dsn, workdir)


@pytest.fixture
def mailbox(new_mailbox: MailboxFactory) -> MailTarget:
    return new_mailbox()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dovecot_and_ours(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ImapAccount, ImapAccount]]:
    """(an empty Dovecot account, an empty account on our engine over the store on each database)."""
    yield from _dovecot_and_ours(request, tmp_path_factory)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dialogue_accounts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ImapAccount, ImapAccount]]:
    """Dovecot and our engine on each database, each with one user of a `QUOTA_KIB` quota."""
    yield from _dovecot_and_ours(request, tmp_path_factory, QUOTA_KIB)


def _dovecot_and_ours(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, quota_kib: int | None = None
) -> Iterator[tuple[ImapAccount, ImapAccount]]:
    workdir = tmp_path_factory.mktemp("ours")
    dsn = empty_database(request, workdir)
    with running_dovecot(quota_kib=quota_kib) as (_, reference), engine_in_thread(dsn, workdir) as engine:
        ours = engine.new_account()
        if quota_kib is not None:
            engine.limit_quota(ours, quota_kib * 1024)
        yield reference, ours


@pytest.fixture
def dialogue(dialogue_accounts: tuple[ImapAccount, ImapAccount]) -> Iterator[Dialogue]:
    with Dialogue(*dialogue_accounts, names="ABC") as talking:
        yield talking
