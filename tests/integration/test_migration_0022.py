"""Migration 0022 makes SQLite's folder ids never given twice, and keeps every row and its id."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.migrate import MIGRATIONS, alembic_config
from tests.support.databases import run_statements

SCHEMA_0021_ROWS = [
    "INSERT INTO mailboxes (id, login, billing_email, status, created_at, updated_at)"
    " VALUES ('m1', 'l1', 'billing@example.org', 'active', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')",
    "INSERT INTO folders (id, mailbox_id, name, uidvalidity, uidnext, highestmodseq, subscribed,"
    " created_at) VALUES (1, 'm1', 'INBOX', 1, 10, 4, false, '2026-01-01 00:00:00+00'),"
    " (2, 'm1', 'Archive', 2, 1, 1, false, '2026-01-01 00:00:00+00')",
    "INSERT INTO recent_marks (folder_id, recent_uid) VALUES (1, 7), (2, 3)",
]
FOLDERS_AND_MARKS = (
    "SELECT folders.id, folders.name, recent_marks.recent_uid"
    " FROM folders JOIN recent_marks ON recent_marks.folder_id = folders.id"
)


def test_the_rows_stay_and_a_deleted_folders_id_is_not_given_again(tmp_path: Path) -> None:
    url = async_database_url(str(tmp_path / "old.db"))
    config = alembic_config(url)
    command.upgrade(config, "0021")
    run_statements(url, *SCHEMA_0021_ROWS)

    command.upgrade(config, "0022")
    kept = run_statements(url, FOLDERS_AND_MARKS + " ORDER BY folders.id")
    run_statements(
        url,
        "PRAGMA foreign_keys=ON",
        "DELETE FROM folders WHERE id = 2",
        "INSERT INTO folders (mailbox_id, name, uidvalidity, uidnext, highestmodseq, subscribed, created_at)"
        " VALUES ('m1', 'Archive', 3, 1, 1, false, '2026-01-01 00:00:01+00')",
    )
    new_ids = run_statements(url, "SELECT id FROM folders ORDER BY id")
    command.downgrade(config, "0021")
    back = run_statements(url, FOLDERS_AND_MARKS)

    assert kept == [(1, "INBOX", 7), (2, "Archive", 3)]
    assert new_ids == [(1,), (3,)]
    assert back == [(1, "INBOX", 7)]


def test_rows_broken_before_the_migration_do_not_stop_it(tmp_path: Path) -> None:
    """A row whose reference was broken by hand (foreign keys off) before the migration is left to
    the operator: only what the migration itself breaks stops it."""
    url = async_database_url(str(tmp_path / "old.db"))
    config = alembic_config(url)
    command.upgrade(config, "0021")
    run_statements(url, *SCHEMA_0021_ROWS)
    run_statements(url, "INSERT INTO recent_marks (folder_id, recent_uid) VALUES (9, 1)")

    command.upgrade(config, "0022")

    assert run_statements(url, "SELECT version_num FROM alembic_version") == [("0022",)]


def test_a_migration_that_breaks_a_reference_is_refused(tmp_path: Path) -> None:
    """Foreign keys are off while SQLite migrates (a table rebuild would otherwise delete the rows
    that refer to it); the references are checked before the commit instead. Here a migration of
    the test's own deletes a folder that a row still refers to: nothing of the run is committed."""
    url = async_database_url(str(tmp_path / "old.db"))
    config = alembic_config(url)
    command.upgrade(config, "0021")
    run_statements(url, *SCHEMA_0021_ROWS)
    with_migration(config, tmp_path, BREAKING_MIGRATION)

    with pytest.raises(RuntimeError, match="rows of recent_marks whose references are broken"):
        command.upgrade(config, "heads")
    assert run_statements(url, "SELECT version_num FROM alembic_version") == [("0021",)]
    assert run_statements(url, "SELECT count(*) FROM folders") == [(2,)]


def test_rows_broken_before_in_a_table_the_migration_rebuilds_do_not_stop_it(tmp_path: Path) -> None:
    """A rebuilt table without an integer key numbers its rows again: the broken rows are counted, not
    named by rowid."""
    url = async_database_url(str(tmp_path / "old.db"))
    config = alembic_config(url)
    command.upgrade(config, "0022")
    run_statements(url, SCHEMA_0021_ROWS[0], "INSERT INTO subscriptions VALUES ('m1', 'A'), ('gone', 'B')")
    run_statements(url, "DELETE FROM subscriptions WHERE name = 'A'")
    with_migration(config, tmp_path, REBUILDING_MIGRATION)

    command.upgrade(config, "heads")

    assert run_statements(url, "SELECT version_num FROM alembic_version") == [("9999",)]


def with_migration(config: Config, directory: Path, script: str) -> None:
    """`config` runs the migrations with `script` as the one after the last."""
    scripts = directory / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_of_the_test.py").write_text(script)
    config.set_main_option("script_location", str(scripts))


def migration_of_the_test(upgrade: str) -> str:
    """The text of a migration after 0022 whose upgrade runs `upgrade` (indented lines)."""
    return f"""
from alembic import op

revision = "9999"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
    pass
"""


REBUILDING_MIGRATION = migration_of_the_test(
    """    with op.batch_alter_table("subscriptions", recreate="always"):
        pass"""
)
BREAKING_MIGRATION = migration_of_the_test("""    op.execute("DELETE FROM folders WHERE id = 2")""")
