"""What the agent commands print: JSON for programs, plain lines and tables for people.

Mail fields are written by strangers, so the human output drops control characters (no terminal
escape sequences) and never reads them as rich markup.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mailservice.client.models import EventPageOut, MessageOut
from mailservice.domain.timestamps import rfc3339

_console = Console(soft_wrap=True, highlight=False)


def print_json(value: BaseModel | dict[str, Any]) -> None:
    data = value.model_dump(mode="json", by_alias=True) if isinstance(value, BaseModel) else value
    print(json.dumps(data, indent=2, ensure_ascii=False))


def print_fields(fields: Iterable[tuple[str, Any]]) -> None:
    """`name: value` lines, skipping empty values."""
    shown = [(name, value) for name, value in fields if value not in (None, "")]
    width = max((len(name) for name, _ in shown), default=0)
    for name, value in shown:
        _console.print(Text(f"{name + ':':<{width + 1}} {clean(_shown(value))}"))


def print_messages(messages: list[MessageOut]) -> None:
    if not messages:
        _console.print("no messages")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("UID", "RECEIVED", "FROM", "SUBJECT", "CODE"):
        table.add_column(column, overflow="fold")
    for message in messages:
        table.add_row(
            Text(str(message.uid) + ("" if message.seen else " *")),
            Text(rfc3339(message.received_at)),
            Text(clean(message.from_.address if message.from_ else "")),
            Text(clean(message.subject or "")),
            Text(clean(message.codes[0].code if message.codes else "")),
        )
    _console.print(table)


def _shown(value: Any) -> str:
    return rfc3339(value) if isinstance(value, datetime) else str(value)


def print_events(page: EventPageOut) -> None:
    """One line per event (its subject, or the expiry it is about), then the cursor for the next page."""
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "TIME", "TYPE", "ABOUT"):
        table.add_column(column, overflow="fold")
    for event in page.events:
        about = (
            event.data.get("subject") if event.type == "message.received" else event.data.get("expires_at")
        )
        table.add_row(
            Text(str(event.id)),
            Text(rfc3339(event.occurred_at)),
            Text(event.type),
            Text(clean(str(about or ""))),
        )
    if page.events:
        _console.print(table)
    _console.print(f"next: --after {page.next_after}")


def print_text(text: str) -> None:
    _console.print(Text(clean(text, keep_newlines=True)))


def clean(text: str, keep_newlines: bool = False) -> str:
    """Drop control and format characters (escape sequences, bidi overrides) from untrusted text."""
    kept = "\n\t" if keep_newlines else ""
    return "".join(
        char if char in kept or unicodedata.category(char)[0] != "C" else " " for char in text
    ).strip()
