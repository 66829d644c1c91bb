"""The blocking client against a real server process, with a key file made by ssh-keygen."""

from __future__ import annotations

import smtplib
from pathlib import Path

import httpx
import pytest

from mailservice.client import AgentKey, MailClient, PaymentRequired
from tests.support.keys import SshKeygenKey
from tests.support.mail import text_message
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


def test_client_claims_pays_and_reads_a_verification_code(server: ServerProcess, tmp_path: Path) -> None:
    key = AgentKey.load(SshKeygenKey.generate(tmp_path).path)
    with MailClient(server.base_url, key=key) as mail:
        claimed = mail.claim("billing@example.com")
        with pytest.raises(PaymentRequired) as waiting:
            mail.resolve()
        assert claimed.payment_url is not None
        assert httpx.get(claimed.payment_url).status_code == 200
        with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
            smtp.sendmail(
                "a@example.org", [claimed.email], text_message(claimed.email, "Code", "Code: 771204\n")
            )

        code = mail.verification_code(seconds=10)

    assert waiting.value.payment_url == claimed.payment_url
    assert code is not None and code.code == "771204"
