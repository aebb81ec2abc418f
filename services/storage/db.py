"""Engine, sessions and migrations. Alembic scripts live inside the package, so every command
works from any working directory."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Dialect, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.storage.errors import StorageError, StorageUnavailable, storage_error

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# A write waits this long for another process's lock (a backup, `sqlite3` in a shell) before it
# fails with StorageBusy; readers are not blocked at all in WAL mode.
SQLITE_BUSY_TIMEOUT_MS = 5000


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and foreign keys, and its folder is created.
    A server database's pooled connections are pinged before use, so a restarted server costs
    nothing. A database that is locked too long, full or unreachable raises a StorageError
    (services/storage/errors.py) instead of the driver's error."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "handle_error", _storage_errors)
    event.listen(engine.sync_engine, "do_connect", _connect)
    return engine


def _storage_errors(context: ExceptionContext) -> StorageError | None:
    """Busy, full or gone become a StorageError; anything else stays as SQLAlchemy raises it. A
    failure to connect at all (no connection yet: the server is down, starting up, refuses this
    database) is «gone» too. The pre-ping's own failure is left alone: the pool reconnects on it."""
    if context.is_pre_ping:
        return None
    gone = context.is_disconnect or context.connection is None
    return storage_error(context.original_exception, disconnect=gone)


def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
    """asyncpg raises plain OSError (connection refused) or its own errors (the server is
    starting up) when it cannot connect, which SQLAlchemy passes through unwrapped."""
    try:
        return dialect.connect(*cargs, **cparams)
    except dialect.loaded_dbapi.Error:
        raise  # wrapped by SQLAlchemy, then translated by _storage_errors
    except Exception as exc:
        raise StorageUnavailable(f"unreachable (cannot connect: {type(exc).__name__}: {exc})"[:300]) from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: services hand out plain data after the session is gone
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(_alembic_config(connection), "head")


_REVISION = re.compile(r"^(down_)?revision\s*=\s*(?:\"(\w+)\"|None)", re.MULTILINE)


def head_revision() -> str:
    """The newest migration's id, read from the scripts themselves: a database already at it
    needs no Alembic, which would stay loaded in the running bot for nothing (about 11 MiB)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"):
        for down, revision in _REVISION.findall(script.read_text(encoding="utf-8")):
            if revision:
                (parents if down else revisions).add(revision)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must have one head, not {sorted(heads)}")
    return heads.pop()


async def migrate(engine: AsyncEngine) -> None:
    """Bring the database schema up to date (idempotent)."""
    async with engine.begin() as connection:
        if await connection.run_sync(_current_revision) == head_revision():
            return
        await connection.run_sync(_upgrade)


def _current_revision(connection: Connection) -> str | None:
    from sqlalchemy import inspect

    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
