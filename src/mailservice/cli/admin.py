"""`mailservice admin ...`: the operator tasks of the admin API, run against the database directly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from mailservice.config import Settings
from mailservice.domain.errors import ConfigurationError, DomainError

if TYPE_CHECKING:
    from mailservice.services.registry import Services

app = typer.Typer(help="Operator tasks (the admin API's equivalents).", no_args_is_help=True)


@app.command()
def metrics() -> None:
    """Counts of mailboxes, checkouts and notifications by status, and of accounts."""
    _run(lambda services: services.admin.counts())


@app.command()
def reprovision(
    mailbox_id: Annotated[str | None, typer.Option(help="One mailbox (default: every mailbox)")] = None,
    rotate_credentials: Annotated[bool, typer.Option(help="New IMAP password and access token")] = False,
) -> None:
    """Give mailboxes their INBOX, apply lapsed expiries, optionally rotate credentials."""

    async def task(services: Services) -> dict[str, Any]:
        return asdict(await services.admin.reprovision(mailbox_id, rotate_credentials))

    _run(task)


@app.command()
def reconcile() -> None:
    """Ask the payment provider about every open checkout and apply the paid ones; print the counts."""

    async def task(services: Services) -> dict[str, Any]:
        return {"provider": services.payments.provider, **asdict(await services.reconciler.reconcile())}

    _run(task)


def _run(task: Callable[[Services], Awaitable[Any]]) -> None:
    try:
        settings = Settings()
    except ValidationError as error:
        typer.echo(f"mailservice: invalid configuration: {error}", err=True)
        raise typer.Exit(code=2) from error
    try:
        result = asyncio.run(_with_runtime(settings, task))
    except (ConfigurationError, DomainError) as error:
        typer.echo(f"mailservice: {error}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo(json.dumps(result, indent=2, default=str))


async def _with_runtime(settings: Settings, task: Callable[[Services], Awaitable[Any]]) -> Any:
    from mailservice import bootstrap  # the server's imports, only for the commands that need them

    runtime = await bootstrap.build_runtime(settings)
    try:
        return await task(runtime.services)
    finally:
        await runtime.close()
