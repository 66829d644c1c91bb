from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from mailservice.domain.mailbox import new_mailbox
from mailservice.services.credentials import Credentials, mailbox_id_of_access_token

SECRET = b"k" * 32
MAILBOX = new_mailbox("sha256:ab", "k", "b@example.com", datetime(2026, 1, 1, tzinfo=UTC))


def test_credentials_are_stable_for_the_same_mailbox_and_epoch() -> None:
    credentials = Credentials(SECRET)

    assert credentials.mail_password(MAILBOX) == Credentials(SECRET).mail_password(MAILBOX)
    assert credentials.check_access_token(MAILBOX, credentials.access_token(MAILBOX))


def test_password_and_token_differ_and_depend_on_the_secret() -> None:
    credentials = Credentials(SECRET)

    assert credentials.mail_password(MAILBOX) not in credentials.access_token(MAILBOX)
    assert credentials.mail_password(MAILBOX) != Credentials(b"x" * 32).mail_password(MAILBOX)


def test_new_credential_epoch_revokes_both() -> None:
    credentials = Credentials(SECRET)
    rotated = replace(MAILBOX, credential_epoch=1)

    assert not credentials.check_mail_password(rotated, credentials.mail_password(MAILBOX))
    assert not credentials.check_access_token(rotated, credentials.access_token(MAILBOX))


def test_access_token_names_its_mailbox() -> None:
    token = Credentials(SECRET).access_token(MAILBOX)

    assert mailbox_id_of_access_token(token) == MAILBOX.id
    assert mailbox_id_of_access_token("garbage") is None
    assert mailbox_id_of_access_token("mat_nothex.x") is None
