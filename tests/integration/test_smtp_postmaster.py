"""Mail for postmaster (RFC 5321 §4.5.1) is accepted over SMTP and LMTP and forwarded to the operator."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from mailservice.bootstrap import Runtime, build_runtime
from mailservice.config import Settings
from tests.conftest import make_settings
from tests.support.mail import PaidMailbox, lmtp_dialogue, mail_listeners, paid_mailbox, send, text_message
from tests.support.outbox import outbox_rows

OPERATOR = "ops@operator.test"
SENDER = "admin@remote.example"


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_dsn, tmp_path, support_email="support@operator.test", postmaster_address=OPERATOR
    )


@pytest.fixture
async def ports(runtime: Runtime) -> AsyncIterator[tuple[int, int]]:
    async with mail_listeners(runtime) as listening:
        yield listening


async def forwarded(runtime: Runtime) -> list[dict[str, object]]:
    return await outbox_rows(runtime, "postmaster_message")


def report(subject: str = "Your server bounces") -> bytes:
    return text_message("postmaster@agents.test", subject=subject, body="Please look.\n", sender=SENDER)


@pytest.mark.parametrize("recipient", ["postmaster@agents.test", "PostMaster@Agents.TEST", "Postmaster"])
async def test_mail_for_postmaster_is_accepted_and_forwarded_to_the_operator(
    runtime: Runtime, ports: tuple[int, int], recipient: str
) -> None:
    errors, reply = await send(ports[0], report(), [recipient], sender=SENDER)

    assert errors == {}
    assert reply.startswith("2.0.0")
    (mail,) = await forwarded(runtime)
    assert mail["recipient"] == OPERATOR
    assert mail["reply_to"] == SENDER
    assert mail["subject"] == "Postmaster: Your server bounces"
    assert "Please look." in str(mail["body_text"])
    assert f"From: {SENDER}" in str(mail["body_text"])


async def test_postmaster_of_another_domain_is_not_relayed(ports: tuple[int, int]) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refusal:
        await send(ports[0], report(), ["postmaster@example.com"], sender=SENDER)

    response = refusal.value.recipients[0]
    assert (response.code, response.message[:5]) == (550, "5.7.1")


async def test_postmaster_and_a_mailbox_in_one_lmtp_transaction_each_get_a_reply(
    runtime: Runtime, ports: tuple[int, int], client: httpx.AsyncClient
) -> None:
    mailbox: PaidMailbox = await paid_mailbox(client)

    replies = await lmtp_dialogue(ports[1], SENDER, ["postmaster", mailbox.address], report())

    assert [r[:3] for r in replies] == ["250", "250"]
    assert len(await forwarded(runtime)) == 1


async def test_without_an_operator_address_postmaster_mail_is_accepted_and_logged(
    database_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = await build_runtime(make_settings(database_dsn, tmp_path))
    try:
        async with mail_listeners(runtime) as (smtp_port, _):
            with caplog.at_level(logging.WARNING):
                errors, reply = await send(smtp_port, report("Abuse report"), ["postmaster"], sender=SENDER)
        assert errors == {} and reply.startswith("2.0.0")
        assert await forwarded(runtime) == []
        assert any(
            "postmaster.not_forwarded" in r.message and "Abuse report" in r.message for r in caplog.records
        )
    finally:
        await runtime.close()


async def test_postmaster_mail_over_the_forward_limit_is_deferred_with_450(
    database_dsn: str, tmp_path: Path
) -> None:
    runtime = await build_runtime(
        make_settings(database_dsn, tmp_path, postmaster_address=OPERATOR, postmaster_forwards_per_minute=1)
    )
    try:
        async with mail_listeners(runtime) as (smtp_port, _):
            await send(smtp_port, report("first"), ["postmaster"], sender=SENDER)
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refusal:
                await send(smtp_port, report("second"), ["postmaster"], sender=SENDER)
        response = refusal.value.recipients[0]
        assert (response.code, response.message[:5]) == (450, "4.7.1")
        assert len(await forwarded(runtime)) == 1
    finally:
        await runtime.close()
