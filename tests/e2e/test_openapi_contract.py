"""The OpenAPI document tells the truth: schemathesis calls every operation of a served process with data
generated from the document and checks each answer against it.

No answer may be a 5xx, and none may contradict the document: its status code is declared, its
Content-Type is declared for that status and its body is valid against the declared schema. The server
has the optional parts configured (admin key, support address), so a 5xx can only be a fault; payments
are mock, so the providers' webhooks may answer only their declared 503 `not_configured`. Reading
endpoints run with the Bearer token of a paid mailbox that holds one message, so they get past
authentication, and generated key-proof requests are signed by its key; the long poll waits at most a
moment; the event stream and /mcp are left out.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.server import served_on

pytestmark = pytest.mark.slow

ADMIN_API_KEY = "admin-key-for-the-contract-test-0123456789"
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Mock payments: the webhooks of real providers answer their declared 503 `not_configured`, nothing else.
BROWSER_PAGES = {
    "/v1/payments/polar/success",
    "/payment/success",
    "/payment/cancel",
    "/mock/pay/{checkout_id}",
}
UNCONFIGURED_IN_MOCK_MODE = {"/v1/webhooks/polar", "/v1/webhooks/stripe"}
# The same derandomized generator on both backends, fewer on PostgreSQL: the values one backend may take
# and the other refuse (huge numbers, NUL bytes) come early.
EXAMPLES_PER_OPERATION = {"sqlite": 25, "postgresql": 20}


@dataclass(frozen=True)
class Served:
    base_url: str
    access_token: str
    key: AgentKey  # the paid mailbox's key, to sign the generated key-proof requests
    http: httpx.Client  # for the challenges of signed requests (one client: each new one loads certificates)
    examples_per_operation: int


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """Each backend: a value the generator finds (a huge number, a NUL byte) may break one and not the other."""
    env = {"ADMIN_API_KEY": ADMIN_API_KEY, "SUPPORT_EMAIL": "operator@example.com"}
    for process in served_on(request.param, tmp_path, env):
        key = AgentKey.generate()
        details = asyncio.run(_paid_mailbox(process.base_url, key))
        _deliver_one_message(process.smtp_port, details["email"])
        with httpx.Client(base_url=process.base_url, timeout=30) as http:
            yield Served(
                process.base_url, details["access_token"], key, http, EXAMPLES_PER_OPERATION[request.param]
            )


async def _paid_mailbox(base_url: str, key: AgentKey) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return await claim_and_pay(client, key)


def _deliver_one_message(smtp_port: int, address: str) -> None:
    """So that uid 1 exists, with an attachment, for the message endpoints to find."""
    message = EmailMessage()
    message["From"] = "sender@example.org"
    message["To"] = address
    message["Subject"] = "Your code is 123456"
    message.set_content("Your verification code is 123456. https://example.org/verify")
    message.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf", filename="a.pdf")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        smtp.send_message(message)


@pytest.mark.timeout(300)  # every operation of the document, up to 80 requests each
def test_every_answer_is_declared_in_the_openapi_document(served: Served) -> None:
    # schemathesis's own pytest integration (from_fixture) reads a pytest internal that pytest 9 removed,
    # so each operation runs as a plain Hypothesis test here, and every failure is reported at the end.
    schema = schemathesis.openapi.from_url(f"{served.base_url}/openapi.json")
    failures: dict[str, str] = {}
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"the document has an operation schemathesis cannot read: {result.err()}")
        operations.append(result.ok())
    for operation in sorted(operations, key=_destructive_last):
        try:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _exercise(operation, mode, served)
        except (AssertionError, FailureGroup) as error:  # collected per operation, reported together
            failures[operation.label] = str(error)
    assert not failures, "\n\n".join(f"{label}:\n{error}" for label, error in failures.items())


def _destructive_last(operation: Any) -> tuple[bool, bool]:
    """Rotating every mailbox's credentials would end the token; deleting would remove the message."""
    return operation.path == "/admin/mailboxes/reprovision", operation.method.upper() == "DELETE"


def _exercise(operation: Any, mode: GenerationMode, served: Served) -> None:
    """Valid requests, then invalid ones: both kinds of answer must be declared."""

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=served.examples_per_operation,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def calls(case: Any) -> None:
        if mode is GenerationMode.POSITIVE:
            _sign_key_proof(case, served)
            _use_real_credentials(case, served)
        _call_and_validate(case, served, as_browser=mode is GenerationMode.POSITIVE)

    try:
        calls()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, (
            "no valid request could be generated"
        )  # nothing to make invalid


def _sign_key_proof(case: Any, served: Served) -> None:
    """Valid requests to claim, resolve, renew and support carry a real proof, so they get past it."""
    if not isinstance(case.body, dict) or "edproof" not in case.body:
        return
    public_line = served.key.public_line
    answer = served.http.post("/v1/auth/challenge", json={"public_key": public_line})
    challenge = answer.json()["challenge"]
    case.body = {
        **case.body,
        "edproof": public_line,
        "challenge": challenge,
        "signature": served.key.sign(challenge),
    }


def _use_real_credentials(case: Any, served: Served) -> None:
    """The read API of the seed takes the token in the body; a claim needs an address to get past 400."""
    if not isinstance(case.body, dict):
        return
    if "access_token" in case.body:
        case.body = {**case.body, "access_token": served.access_token}
    if case.path == "/v1/mailboxes/claim":
        case.body = {**case.body, "billing_email": "billing@example.com"}


def _call_and_validate(case: Any, served: Served, as_browser: bool) -> None:
    """`as_browser`: the pages that answer browsers with HTML are asked for it (valid requests only)."""
    if case.path == "/v1/messages/wait":
        case.query = {**(case.query or {}), "timeout": 0.05}
    unconfigured = case.path in UNCONFIGURED_IN_MOCK_MODE
    checks = CONFORMANCE if unconfigured else [not_a_server_error, *CONFORMANCE]
    response = case.call_and_validate(
        base_url=served.base_url, headers=_headers(case.path, served, as_browser), checks=checks
    )
    if unconfigured and response.status_code >= 500:
        assert (response.status_code, response.json()["code"]) == (503, "not_configured")


def _headers(path: str, served: Served, as_browser: bool) -> dict[str, str]:
    admin = path.startswith("/admin/") or path == "/metrics"
    headers = {"Authorization": f"Bearer {ADMIN_API_KEY if admin else served.access_token}"}
    if as_browser and path in BROWSER_PAGES:
        headers["Accept"] = "text/html"
    return headers
