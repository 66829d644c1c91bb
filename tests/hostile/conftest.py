"""Served processes with small limits, so that attacks reach them quickly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiosmtplib
import pytest

from tests.e2e.test_imap_served import paid_credentials
from tests.support.databases import migrated_sqlite_copy
from tests.support.mail import text_message
from tests.support.server import ServerProcess
from tests.support.tls import self_signed

SMALL_LIMITS = {
    "IMAP_MAX_CONNECTIONS": "60",
    "IMAP_MAX_CONNECTIONS_PER_IP": "5",
    "POP3_MAX_CONNECTIONS": "60",
    "POP3_MAX_CONNECTIONS_PER_IP": "5",
    "ALLOW_PLAINTEXT_AUTH": "true",
}
LOGIN_TIMEOUT_SECONDS = 2


def _served(
    tmp_path_factory: pytest.TempPathFactory, env: dict[str, str], open_file_limit: int | None = None
) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("served")
    database = migrated_sqlite_copy(workdir / "data")
    process = ServerProcess(workdir, database, extra_env=env, open_file_limit=open_file_limit)
    process.start()
    yield process
    if process.process is not None and process.process.poll() is None:
        process.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A served instance (SQLite) with small connection caps."""
    yield from _served(tmp_path_factory, SMALL_LIMITS)


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A served instance that gives clients two seconds to log in."""
    yield from _served(
        tmp_path_factory, {**SMALL_LIMITS, "MAIL_LOGIN_TIMEOUT_SECONDS": str(LOGIN_TIMEOUT_SECONDS)}
    )


OPEN_FILE_LIMIT = 400
"""With the default reserve of 256 descriptors, 144 mail connections in all."""
SCARCE_LIMITS = {**SMALL_LIMITS, "IMAP_MAX_CONNECTIONS": "100", "IMAP_MAX_CONNECTIONS_PER_IP": "10"}


@pytest.fixture(scope="module")
def scarce(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A served instance with few open files: IMAP may take 100 of its 144 mail connections."""
    yield from _served(tmp_path_factory, SCARCE_LIMITS, OPEN_FILE_LIMIT)


@pytest.fixture(scope="module")
def scarce_mailbox(scarce: ServerProcess) -> dict[str, Any]:
    return asyncio.run(_mailbox_with_mail(scarce))


@pytest.fixture(scope="module")
def tls_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A served instance with IMAPS and POP3S that gives clients two seconds to handshake and log in."""
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    env = {
        **SMALL_LIMITS,
        "MAIL_LOGIN_TIMEOUT_SECONDS": str(LOGIN_TIMEOUT_SECONDS),
        "TLS_CERT_FILE": str(cert),
        "TLS_KEY_FILE": str(key),
    }
    yield from _served(tmp_path_factory, env)


@pytest.fixture(scope="module")
def tls_mailbox(tls_served: ServerProcess) -> dict[str, Any]:
    return asyncio.run(_mailbox_with_mail(tls_served))


@pytest.fixture(scope="module")
def mailbox(served: ServerProcess) -> dict[str, Any]:
    """Credentials of a paid mailbox on `served` with one message in INBOX."""
    return asyncio.run(_mailbox_with_mail(served))


@pytest.fixture(scope="module")
def impatient_mailbox(impatient: ServerProcess) -> dict[str, Any]:
    return asyncio.run(_mailbox_with_mail(impatient))


async def _mailbox_with_mail(server: ServerProcess) -> dict[str, Any]:
    credentials = await paid_credentials(server)
    await aiosmtplib.send(
        text_message(credentials["email"], "Still here"),
        sender="a@example.org",
        recipients=[credentials["email"]],
        hostname="127.0.0.1",
        port=server.smtp_port,
        validate_certs=False,  # the served instance with a certificate offers STARTTLS
    )
    return credentials
