"""`mailservice smoke-test`: the live smoke test of a running server.

It accepts the options of the original's `ops/smoke-test-mailbox.sh` (`--base-url`, `--billing-email`,
`--work-dir`, `--key-path`, `--edproof`, `--edproof-file`, `--resolve-timeout`, `--poll-interval`, `-h`), so
a runbook written for it works unchanged against a server that signs challenges.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import httpx
import typer

from mailservice.cli.smoke_test import SmokeTestFailed, SmokeTestOptions, run_smoke_test


def _default_work_dir() -> Path:
    """The original's default: `${TMPDIR:-/tmp}/mailservice-smoke`."""
    return Path(os.environ.get("TMPDIR") or "/tmp") / "mailservice-smoke"


def smoke_test(
    base_url: Annotated[str, typer.Option(help="The server, e.g. https://mail.example.com")],
    billing_email: Annotated[str, typer.Option(help="Where the payment link is sent")],
    work_dir: Annotated[
        Path | None, typer.Option(help="Where the key is kept (default: ${TMPDIR:-/tmp}/mailservice-smoke)")
    ] = None,
    key_path: Annotated[
        Path | None, typer.Option(help="An OpenSSH Ed25519 key (default: WORK_DIR/identity)")
    ] = None,
    edproof: Annotated[
        str | None,
        typer.Option(help="The public key line sent as edproof; it must be KEY_PATH's public key"),
    ] = None,
    edproof_file: Annotated[
        Path | None, typer.Option(help="A file whose contents are sent as edproof (as --edproof)")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--resolve-timeout", "--timeout", help="Seconds to wait for the payment")
    ] = 600.0,
    poll_interval: Annotated[float, typer.Option(help="Seconds between resolve attempts")] = 10.0,
) -> None:
    """Check healthz, make or reuse a key, claim a mailbox, print the payment URL, resolve until active."""
    if edproof is not None and edproof_file is not None:
        typer.echo("use either --edproof or --edproof-file, not both", err=True)
        raise typer.Exit(code=1)
    key = key_path or (work_dir or _default_work_dir()) / "identity"
    try:
        edproof_line = edproof_file.read_text().strip() if edproof_file is not None else edproof
        options = SmokeTestOptions(base_url, billing_email, key, timeout, poll_interval, edproof_line)
        run_smoke_test(options, lambda line: typer.echo(line))
    except (SmokeTestFailed, httpx.HTTPError, OSError) as error:
        typer.echo(f"smoke test failed: {error}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo("smoke test passed")
