"""DATABASE_DSN: a SQLite path or URL, or a PostgreSQL URL, turned into an async SQLAlchemy URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

from mailservice.domain.errors import ConfigurationError

_POSTGRES_SCHEMES = ("postgres://", "postgresql://", "postgresql+asyncpg://")


def async_database_url(dsn: str) -> URL:
    """Map the configured DSN to the async driver URL (aiosqlite or asyncpg)."""
    value = dsn.strip()
    if not value:
        raise ConfigurationError("DATABASE_DSN is empty")
    if value.startswith(_POSTGRES_SCHEMES):
        return make_url("postgresql+asyncpg://" + value.split("://", 1)[1])
    if value.startswith(("sqlite://", "sqlite+aiosqlite://")):
        return make_url(value).set(drivername="sqlite+aiosqlite")
    if "://" in value:
        raise ConfigurationError(f"DATABASE_DSN scheme is not supported: {value.split('://', 1)[0]}")
    return URL.create("sqlite+aiosqlite", database=value)


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def ensure_sqlite_directory(url: URL) -> None:
    database = url.database
    if is_sqlite(url) and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def libpq_dsn(url: URL) -> str:
    """The plain `postgresql://` form, for direct asyncpg connections (LISTEN/NOTIFY)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
