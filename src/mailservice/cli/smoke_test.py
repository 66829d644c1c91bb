"""The live smoke test: healthz, a key, a challenge, a claim, the payment link, then resolve until paid.

It talks to a running server over HTTP only, as an agent would, and reports each step as it goes.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_ssh_private_key,
)

Report = Callable[[str], None]


class SmokeTestFailed(Exception):
    pass


@dataclass(frozen=True)
class SmokeTestOptions:
    base_url: str
    billing_email: str
    key_path: Path
    timeout_seconds: float = 600.0
    poll_seconds: float = 10.0
    # The original's --edproof: the public key line to send; None sends the key's own.
    edproof: str | None = None


def run_smoke_test(options: SmokeTestOptions, report: Report) -> dict[str, Any]:
    """Every step, in order; returns the resolved access details or raises SmokeTestFailed."""
    with httpx.Client(base_url=options.base_url.rstrip("/"), timeout=15) as http:
        report(f"[1/5] GET /healthz on {options.base_url}")
        _expect(http.get("/healthz"), 200, "healthz")
        key = _load_or_create_key(options.key_path, report)
        public_line = _public_line_to_send(key, options.edproof)
        report("[3/5] POST /v1/mailboxes/claim with a signed challenge")
        claimed = _expect(
            http.post(
                "/v1/mailboxes/claim",
                json={"billing_email": options.billing_email, **_proof(http, key, public_line)},
            ),
            (200, 201),
            "claim",
        )
        report(f"      mailbox {claimed['email']} ({claimed['status']})")
        if claimed.get("payment_url"):
            report(f"[4/5] payment URL (also e-mailed to {options.billing_email}):")
            report(f"      {claimed['payment_url']}")
        else:
            report("[4/5] the mailbox is already paid")
        return _poll_resolve(http, key, public_line, options, report)


def _poll_resolve(
    http: httpx.Client, key: Ed25519PrivateKey, public_line: str, options: SmokeTestOptions, report: Report
) -> dict[str, Any]:
    report("[5/5] POST /v1/access/resolve until the mailbox is active")
    deadline = time.monotonic() + options.timeout_seconds
    while True:
        response = http.post(
            "/v1/access/resolve", json={"protocol": "imap", **_proof(http, key, public_line)}
        )
        if response.status_code == 200:
            details: dict[str, Any] = response.json()
            report(f"      active: IMAP {details['username']}@{details['host']}:{details['port']}")
            return details
        if response.status_code != 409:
            raise SmokeTestFailed(f"resolve answered {response.status_code}: {response.text}")
        if time.monotonic() >= deadline:
            raise SmokeTestFailed(f"not paid within {options.timeout_seconds:g} seconds")
        report(f"      {response.json().get('status', 'waiting')}; next try in {options.poll_seconds:g} s")
        time.sleep(options.poll_seconds)


def _load_or_create_key(path: Path, report: Report) -> Ed25519PrivateKey:
    if path.exists():
        key = load_ssh_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SmokeTestFailed(f"{path} is not an Ed25519 key")
        report(f"[2/5] using the key {path}")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    path.chmod(0o600)
    path.with_name(path.name + ".pub").write_text(_public_line(key) + "\n")
    report(f"[2/5] generated a new key {path} (keep it: it is the mailbox's identity)")
    return key


def _public_line_to_send(key: Ed25519PrivateKey, edproof: str | None) -> str:
    """The key's own line, or the given one when it names the same key (its comment may differ).

    The original sent the edproof alone; this server wants a challenge signed by the key, so only the
    public half of the key in hand can be sent.
    """
    own = _public_line(key)
    if edproof is None:
        return own
    if edproof.split()[:2] != own.split()[:2]:
        raise SmokeTestFailed(
            "the edproof is not the public key of the key file; the server needs a challenge signed by"
            " that key, so pass the matching --key-path"
        )
    return edproof


def _proof(http: httpx.Client, key: Ed25519PrivateKey, public_line: str) -> dict[str, str]:
    challenge = _expect(http.post("/v1/auth/challenge", json={"public_key": public_line}), 200, "challenge")[
        "challenge"
    ]
    signature = base64.b64encode(key.sign(challenge.encode("ascii"))).decode("ascii")
    return {"edproof": public_line, "challenge": challenge, "signature": signature}


def _public_line(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode("ascii") + " smoke-test"
    )


def _expect(response: httpx.Response, statuses: int | tuple[int, ...], step: str) -> dict[str, Any]:
    allowed = statuses if isinstance(statuses, tuple) else (statuses,)
    if response.status_code not in allowed:
        raise SmokeTestFailed(f"{step} answered {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body
