"""What every `mailservice agent` command shares: the service's address, the key, JSON output, and how
refusals become exit statuses."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from mailservice.client.errors import MailServiceError, PaymentRequired
from mailservice.client.keys import AgentKey, KeyFileError
from mailservice.client.operations import MissingKey
from mailservice.client.sync_client import MailClient

DEFAULT_URL = "http://localhost:8080"
DEFAULT_KEY = "~/.config/mailservice/agent_key"
EXIT_REFUSED, EXIT_USAGE, EXIT_TIMED_OUT = 1, 2, 3

Url = Annotated[str, typer.Option("--url", envvar="MAILSERVICE_URL", help="Base URL of the service.")]
KeyPath = Annotated[
    Path, typer.Option("--key", envvar="MAILSERVICE_KEY", help="OpenSSH Ed25519 private key file.")
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Query = Annotated[str | None, typer.Option("--query", "-q", help="Search, e.g. 'from:github is:unread'.")]


@contextmanager
def client_for(url: str, key: Path, as_json: bool) -> Iterator[MailClient]:
    with reported_errors(as_json), MailClient(url, key=AgentKey.load(key)) as mail:
        yield mail


@contextmanager
def reported_errors(as_json: bool) -> Iterator[None]:
    try:
        yield
    except PaymentRequired as error:
        fail(f"{error.message}: pay at {error.payment_url}", error.code, as_json, EXIT_REFUSED, error.body)
    except MailServiceError as error:
        fail(error.message, error.code, as_json, EXIT_REFUSED, error.body)
    except (KeyFileError, MissingKey) as error:
        hint = " (create one with `mailservice agent keygen`)" if "cannot read" in str(error) else ""
        fail(f"{error}{hint}", "key_file", as_json, EXIT_USAGE)


def fail(
    message: str, code: str, as_json: bool, exit_code: int, body: dict[str, object] | None = None
) -> NoReturn:
    if as_json:
        print(json.dumps({**(body or {}), "error": message, "code": code}, ensure_ascii=False))
    print(f"mailservice agent: {message}", file=sys.stderr)
    raise typer.Exit(exit_code)
