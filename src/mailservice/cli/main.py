"""The `mailservice` command."""

from __future__ import annotations

import asyncio
import logging
import os

import typer
import uvloop
from pydantic import ValidationError

from mailservice.cli import admin
from mailservice.cli.agent_mcp import agent_mcp
from mailservice.cli.smoke_test_command import smoke_test
from mailservice.client import cli as agent_cli
from mailservice.config import Settings
from mailservice.domain.errors import ConfigurationError
from mailservice.logging_defaults import configure_logging

app = typer.Typer(help="Private inbound mailboxes for AI agents.", no_args_is_help=True, add_completion=False)
app.add_typer(admin.app, name="admin")
app.command("smoke-test", context_settings={"help_option_names": ["-h", "--help"]})(smoke_test)
agent_cli.app.command("mcp")(agent_mcp)
app.add_typer(agent_cli.app, name="agent")


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as error:
        _fail(f"invalid configuration: {error}")
    configure_logging(settings.log_level)
    return settings


def _fail(message: str) -> typer.Exit:
    typer.echo(f"mailservice: {message}", err=True)
    raise typer.Exit(code=2)


@app.command()
def serve(
    dev_tls: bool = typer.Option(
        False, "--dev-tls", help="Use a self-signed certificate (made once under DATA_DIR) for local TLS."
    ),
) -> None:
    """Migrate the database, then run every listener until SIGTERM/SIGINT."""
    settings = _settings()
    from mailservice import bootstrap  # the server's imports; agent commands start faster without them

    try:
        if dev_tls:
            settings = bootstrap.with_development_tls(settings)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            try:
                runner.run(bootstrap.serve(settings))
            except bootstrap.StopTimedOut:
                # Leaving the runner would wait for the same stuck tasks and driver threads.
                logging.shutdown()
                os._exit(1)
    except ConfigurationError as error:
        _fail(str(error))


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = _settings()
    from mailservice import bootstrap

    try:
        bootstrap.check_settings(settings)
        asyncio.run(bootstrap.migrate(settings))
    except ConfigurationError as error:
        _fail(str(error))
    typer.echo("database is up to date")


def main() -> None:
    app()
