"""Every bad proof or bad request gets a clear 4xx, never a 500."""

from __future__ import annotations

import base64
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from mailservice.adapters.identity import ChallengeCodec, SshEd25519Key
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from tests.conftest import TEST_SECRET, make_settings
from tests.support.agent import claim, new_challenge, signed_proof
from tests.support.ed25519_points import SMALL_ORDER
from tests.support.keys import SSH_KEYGEN, AgentKey, SshKeygenKey

CLAIM = "/v1/mailboxes/claim"
SMALL_ORDER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
# R = identity, S = 0: verifies for every message under a key of small order.
UNIVERSAL_SIGNATURE = base64.b64encode(b"\x01" + bytes(63)).decode()


async def test_claim_with_bare_key_is_400_and_says_how_to_get_a_challenge(client: httpx.AsyncClient) -> None:
    response = await client.post(
        CLAIM, json={"billing_email": "b@example.com", "edproof": AgentKey.generate().public_line}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "proof_required"
    assert "/v1/auth/challenge" in response.json()["error"]


async def test_replayed_challenge_is_401(client: httpx.AsyncClient) -> None:
    key = AgentKey.generate()
    proof = await signed_proof(client, key)
    assert (await client.post(CLAIM, json={"billing_email": "b@example.com", **proof})).status_code == 201

    replay = await client.post(CLAIM, json={"billing_email": "b@example.com", **proof})

    assert replay.status_code == 401
    assert "already used" in replay.json()["error"]


async def test_expired_challenge_is_401(client: httpx.AsyncClient, clock: FixedClock) -> None:
    key = AgentKey.generate()
    proof = await signed_proof(client, key)
    clock.advance(timedelta(seconds=36))

    response = await client.post(CLAIM, json={"billing_email": "b@example.com", **proof})

    assert response.status_code == 401
    assert response.json()["error"] == "challenge expired"


async def test_signature_by_another_key_is_401(client: httpx.AsyncClient) -> None:
    key, other = AgentKey.generate(), AgentKey.generate()
    challenge = await new_challenge(client, key.public_line)

    response = await client.post(
        CLAIM,
        json={
            "billing_email": "b@example.com",
            "edproof": key.public_line,
            "challenge": challenge,
            "signature": other.sign(challenge),
        },
    )

    assert response.status_code == 401


async def test_sshsig_with_wrong_namespace_is_401(client: httpx.AsyncClient, tmp_path: Path) -> None:
    key = SshKeygenKey.generate(tmp_path)
    challenge = await new_challenge(client, key.public_line)

    response = await client.post(
        CLAIM,
        json={
            "billing_email": "b@example.com",
            "edproof": key.public_line,
            "challenge": challenge,
            "signature": key.sign(challenge, namespace="file"),
        },
    )

    assert response.status_code == 401
    assert "namespace" in response.json()["error"]


async def test_challenge_for_another_key_is_401(client: httpx.AsyncClient) -> None:
    key, other = AgentKey.generate(), AgentKey.generate()
    challenge = await new_challenge(client, other.public_line)

    response = await client.post(
        CLAIM,
        json={
            "billing_email": "b@example.com",
            "edproof": key.public_line,
            "challenge": challenge,
            "signature": key.sign(challenge),
        },
    )

    assert response.status_code == 401


async def test_small_order_key_gets_no_challenge(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/challenge", json={"public_key": SMALL_ORDER_KEY})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_public_key"


@pytest.mark.parametrize("raw", list(SMALL_ORDER.values()), ids=list(SMALL_ORDER))
async def test_no_key_of_small_order_gets_a_challenge(client: httpx.AsyncClient, raw: bytes) -> None:
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + raw
    public_key = "ssh-ed25519 " + base64.b64encode(blob).decode()

    response = await client.post("/v1/auth/challenge", json={"public_key": public_key})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_public_key"


async def test_small_order_key_cannot_claim_with_a_signature_that_fits_every_challenge(
    client: httpx.AsyncClient, clock: FixedClock
) -> None:
    # given: a genuine challenge for the key, minted with the server's secret
    blob = base64.b64decode(SMALL_ORDER_KEY.split()[1])
    key = SshEd25519Key(blob=blob, raw=blob[-32:])
    challenge = ChallengeCodec(TEST_SECRET.encode()).issue(key, clock.now()).text

    response = await client.post(
        CLAIM,
        json={
            "billing_email": "b@example.com",
            "edproof": SMALL_ORDER_KEY,
            "challenge": challenge,
            "signature": UNIVERSAL_SIGNATURE,
        },
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_public_key"


@pytest.fixture
def rsa_public_line(tmp_path: Path) -> str:
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(tmp_path / "rsa")], check=True
    )
    return (tmp_path / "rsa.pub").read_text().strip()


async def test_rsa_key_is_400(client: httpx.AsyncClient, rsa_public_line: str) -> None:
    response = await client.post("/v1/auth/challenge", json={"public_key": rsa_public_line})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_public_key"


@pytest.mark.parametrize(
    "public_key",
    [
        "",
        "ssh-ed25519",
        "ssh-ed25519 not-base64!!",
        "ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x05short").decode(),
        "ssh-ed25519 " + base64.b64encode(b"\xff\xff\xff\xff").decode(),
    ],
)
async def test_malformed_key_is_400(client: httpx.AsyncClient, public_key: str) -> None:
    response = await client.post("/v1/auth/challenge", json={"public_key": public_key})

    assert response.status_code == 400
    assert response.json()["error"]


async def test_unknown_json_field_is_400(client: httpx.AsyncClient) -> None:
    proof = await signed_proof(client, AgentKey.generate())

    response = await client.post(CLAIM, json={"billing_email": "b@example.com", "surprise": 1, **proof})

    assert response.status_code == 400
    assert response.json()["error"] == "unknown field: surprise"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "request body must be a single valid JSON value"),
        (b'{"a": 1} {"b": 2}', "request body must be a single valid JSON value"),
        (
            b'{"signature": "-----BEGIN SSH SIGNATURE-----\nU1NI\n-----END SSH SIGNATURE-----"}',
            "request body must be a single valid JSON value: a string holds a raw newline or other control "
            "character; escape it as \\n (build the JSON with jq or python3 -c 'import json ...')",
        ),
        (b"[1, 2]", "request body must be a JSON object"),
        (b"", "request body is required"),
    ],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, content: bytes, message: str) -> None:
    response = await client.post(CLAIM, content=content, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"] == message


async def test_json_sent_as_a_form_is_400_naming_the_content_type(client: httpx.AsyncClient) -> None:
    # what `curl -d '{...}'` without `-H 'Content-Type: application/json'` sends
    response = await client.post(
        "/v1/auth/challenge",
        content=b'{"public_key": "ssh-ed25519 AAAA"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 400
    assert "Content-Type: application/json" in response.json()["error"]


async def test_body_over_one_mebibyte_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        CLAIM,
        content=b'{"billing_email": "' + b"a" * (1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


@pytest.mark.parametrize(
    "billing_email", ["", "not-an-email", "a@b", "a b@example.com", "x" * 300 + "@example.com"]
)
async def test_invalid_billing_email_is_400(client: httpx.AsyncClient, billing_email: str) -> None:
    response = await claim(client, AgentKey.generate(), billing_email=billing_email)

    assert response.status_code == 400


async def test_unsupported_resolve_protocol_is_400(client: httpx.AsyncClient) -> None:
    proof = await signed_proof(client, AgentKey.generate())

    response = await client.post("/v1/access/resolve", json={"protocol": "smtp", **proof})

    assert response.status_code == 400


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"error": "not found", "code": "not_found"}


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    overrides = getattr(request, "param", {})
    return make_settings(database_dsn, tmp_path, **overrides)


@pytest.mark.parametrize("settings", [{"edproof_allow_unsigned": True}], indirect=True)
async def test_bare_key_is_accepted_only_when_unsigned_proofs_are_allowed(client: httpx.AsyncClient) -> None:
    key = AgentKey.generate()

    response = await client.post(CLAIM, json={"billing_email": "b@example.com", "edproof": key.public_line})

    assert response.status_code == 201
