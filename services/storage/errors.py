"""Typed failures of the bot's own database, small enough for a handler to explain in Russian.

The engine (services/storage/db.py) raises these instead of the driver's errors when the
database is locked for too long, has no space left, or cannot be reached: the transaction that
met one was rolled back, so nothing of it was written. Other database errors (a constraint, a bug
in a query) are left as SQLAlchemy raises them.
"""

from __future__ import annotations

# PostgreSQL SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html)
_PG_FULL = {"53100"}  # disk_full
_PG_BUSY = {"55P03", "40P01", "57014"}  # lock_not_available, deadlock_detected, query_canceled
_PG_UNAVAILABLE_CLASSES = ("08",)  # connection_exception
_PG_UNAVAILABLE = {"57P01", "57P02", "57P03", "53300"}  # shutdowns, cannot_connect_now, too many


class StorageError(Exception):
    """The bot's database failed: the write in progress was not kept."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StorageBusy(StorageError):
    """Locked by someone else for longer than the bot waits (SQLite's busy timeout)."""


class StorageFull(StorageError):
    """No space left for the database (SQLITE_FULL, PostgreSQL's disk_full)."""


class StorageUnavailable(StorageError):
    """The database server cannot be reached, or the connection broke (a restart, a crash)."""


def classify(error: BaseException, *, disconnect: bool = False) -> type[StorageError] | None:
    """Which storage failure a driver error is, or None for one that is not about the database
    being busy, full or gone (those stay SQLAlchemy's: an integrity error is the caller's)."""
    sqlite_name = str(getattr(error, "sqlite_errorname", "") or "")
    sqlstate = str(getattr(error, "sqlstate", None) or getattr(error, "pgcode", None) or "")
    text = str(error).lower()
    if sqlite_name == "SQLITE_FULL" or sqlstate in _PG_FULL or "disk is full" in text:
        return StorageFull
    if "no space left" in text:
        return StorageFull
    if sqlite_name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or sqlstate in _PG_BUSY:
        return StorageBusy
    if "database is locked" in text:
        return StorageBusy
    if disconnect or sqlstate in _PG_UNAVAILABLE or sqlstate.startswith(_PG_UNAVAILABLE_CLASSES):
        return StorageUnavailable
    return None


def storage_error(error: BaseException, *, disconnect: bool = False) -> StorageError | None:
    """`error` as a StorageError (with a one-line message), or None (see `classify`)."""
    kind = classify(error, disconnect=disconnect)
    if kind is None:
        return None
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return kind(f"{_LABELS[kind]} ({type(error).__name__}: {first_line[:300]})")


_LABELS: dict[type[StorageError], str] = {
    StorageBusy: "locked for too long",
    StorageFull: "no space left",
    StorageUnavailable: "unreachable",
}
