"""`mailservice smoke-test`: the live smoke test of a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer

from mailservice.smoke_test import SmokeTestFailed, SmokeTestOptions, run_smoke_test


def smoke_test(
    base_url: Annotated[str, typer.Option(help="The server, e.g. https://mail.example.com")],
    billing_email: Annotated[str, typer.Option(help="Where the payment link is sent")],
    work_dir: Annotated[Path, typer.Option(help="Where the key is kept")] = Path("smoke-test"),
    key_path: Annotated[
        Path | None, typer.Option(help="An OpenSSH Ed25519 key (default: WORK_DIR/identity)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the payment")] = 900.0,
    poll_interval: Annotated[float, typer.Option(help="Seconds between resolve attempts")] = 5.0,
) -> None:
    """Check healthz, make or reuse a key, claim a mailbox, print the payment URL, resolve until active."""
    options = SmokeTestOptions(
        base_url, billing_email, key_path or work_dir / "identity", timeout, poll_interval
    )
    try:
        run_smoke_test(options, lambda line: typer.echo(line))
    except (SmokeTestFailed, httpx.HTTPError) as error:
        typer.echo(f"smoke test failed: {error}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo("smoke test passed")
