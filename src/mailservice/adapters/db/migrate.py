"""Run the Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def upgrade_to_head(url: URL) -> None:
    """Bring the schema up to date; safe to run on every start."""
    command.upgrade(alembic_config(url), "head")


async def upgrade_to_head_async(url: URL) -> None:
    # env.py runs its own event loop, so it must run in a thread of its own.
    await asyncio.to_thread(upgrade_to_head, url)
