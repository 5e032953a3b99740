"""Opening a SQLite file for the store: path checks, connection settings, migrations.

Settings (``SQLITE_PRAGMAS``): WAL journal, ``synchronous=NORMAL``,
``foreign_keys=ON``, ``busy_timeout`` 5 s.  NORMAL rather than FULL: FULL
fsyncs the WAL on every commit (one per article); the store checkpoints after
every run instead (``SQLiteStore.record_run``), which makes each finished run
durable for a fraction of the cost (measured in the README).

Opening refuses, before changing anything, a path that cannot be opened, a file
that is not a database, and (through ``refuse_newer``) a database migrated by a
newer qkfeed; migrating then refuses a file or directory it cannot write (a
write rolled back), so permissions fail at start-up rather than at the first
upsert.  Each migration is one ``BEGIN IMMEDIATE`` transaction with its
``schema_migrations`` row, re-reading the applied version under the write lock
so processes starting together migrate once.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from scraper.errors import StorageError
from scraper.logs import event, get_logger

from ._migrations import SCHEMA_MIGRATIONS_SQL, Migration, expand_types, newer_schema_error
from .base import utc_now

log = get_logger("storage")

MEMORY = ":memory:"
BACKEND = "sqlite"  # which per-backend migration files apply
BUSY_TIMEOUT_SECONDS = 5.0
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)
TYPE_MACROS = {
    "id": "INTEGER PRIMARY KEY",  # an alias of the rowid: auto-assigned, never reused here
    "timestamp": "TEXT",
    "bytes": "BLOB",
    "json": "TEXT",
}
PERMISSIONS_HINT = "check the permissions of the file and of its directory"


def connect(path: str, refuse_newer: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    """An autocommit connection to ``path`` with the store's settings, checked to be usable."""
    if path != MEMORY:
        _check_path(Path(path))
    try:
        conn = sqlite3.connect(
            path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise _open_error(path, exc) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        # Reading the schema fails on a file that is not a database.
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        refuse_newer(conn)
        for pragma in SQLITE_PRAGMAS:
            conn.execute(pragma).fetchall()
    except StorageError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise _open_error(path, exc) from exc
    return conn


def _check_path(path: Path) -> None:
    if not path.is_absolute() and not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create directory {path.parent} for SQLite database {path}: {exc.strerror}"
            ) from exc
    if path.is_dir():
        raise StorageError(f"cannot open SQLite database {path}: it is a directory")
    if not path.parent.is_dir():
        raise StorageError(
            f"cannot open SQLite database {path}: directory {path.parent} does not exist"
        )


def _open_error(path: str, exc: sqlite3.Error) -> StorageError:
    hint = f" ({PERMISSIONS_HINT})" if "unable to open" in str(exc) else ""
    return StorageError(f"cannot open SQLite database {path}: {exc}{hint}")


def migrate(
    conn: sqlite3.Connection,
    path: str,
    migrations: Sequence[Migration],
    writing: Callable[[], AbstractContextManager[sqlite3.Connection]],
) -> None:
    """Apply the pending ``migrations``, each in one ``writing()`` transaction.

    The caller holds the store's lock and turns ``sqlite3.Error`` into StorageError.
    """
    bootstrap = expand_types(SCHEMA_MIGRATIONS_SQL, TYPE_MACROS)
    check_writable(conn, path)
    for migration in migrations:
        with writing() as conn:
            # Re-read under the write lock: another process may have migrated.
            conn.execute(bootstrap)
            newest = applied_version(conn)
            if newest > len(migrations):
                raise newer_schema_error(newest, len(migrations))
            if migration.version <= newest:
                continue
            try:
                for statement in _statements(expand_types(migration.sql_for(BACKEND), TYPE_MACROS)):
                    conn.execute(statement)
            except sqlite3.Error as exc:
                raise StorageError(
                    f"SQLite database {path}: migration "
                    f"{migration.version:04d}_{migration.name} failed: {exc}"
                ) from exc
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (migration.version, utc_now().isoformat(timespec="microseconds")),
            )
            event(log, "migration_applied", logging.DEBUG, version=migration.version, migration=migration.name, store=str(path))


def check_writable(conn: sqlite3.Connection, path: str) -> None:
    """Write and roll back, so a read-only file or directory fails at open, not later."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE qkfeed_write_probe (x INTEGER)")
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise StorageError(
            f"cannot write SQLite database {path}: {exc} ({PERMISSIONS_HINT})"
        ) from exc


def applied_version(conn: sqlite3.Connection) -> int:
    """The newest migration applied to the database (0: none)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if exists is None:
        return 0
    (newest,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(newest)


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements (``executescript`` would commit on its own)."""
    start = 0
    for index, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : index + 1]):
            statement = script[start : index + 1]
            start = index + 1
            yield statement
    tail = "\n".join(
        line for line in script[start:].splitlines() if not line.strip().startswith("--")
    )
    if tail.strip():
        raise sqlite3.OperationalError(f"incomplete last statement: {tail.strip()[:60]!r}")
