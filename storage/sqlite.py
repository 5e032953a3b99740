"""SQLite backend of the Store interface (the default).

Settings (``SQLITE_PRAGMAS``): WAL journal, ``synchronous=NORMAL``,
``foreign_keys=ON``, ``busy_timeout`` 5 s.

- One connection per store, opened with ``check_same_thread=False`` and guarded
  by a lock, so the asyncio loop and a thread pool may share one store.
- The connection is in autocommit mode; every write is one explicit
  ``BEGIN IMMEDIATE`` ... ``COMMIT``.  IMMEDIATE takes the write lock before the
  read that decides what to write, so two processes upserting the same URL
  serialize instead of racing (and the UNIQUE constraint on ``url`` backs that
  up).  A SIGKILL at any moment leaves either the old or the new state.
- Instants are ISO 8601 UTC text with microseconds, fixed width
  (``2024-05-01T03:04:05.000000+00:00``), so text order is time order.
- Lists (authors, agencies, categories) and backfill state are JSON text.
- Opening refuses, before changing anything, a path that cannot be opened, a
  file that is not a database, and a database migrated by a newer qkfeed;
  ``migrate()`` then refuses a file or directory it cannot write (a write
  rolled back), so permissions fail at start-up rather than at the first upsert.
- Errors of SQLite itself are re-raised as ``StorageError`` naming the file.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from scraper.errors import StorageError
from scraper.models import Article

from . import _clusters
from ._common import ARTICLES_COUNTER, KEY_COLUMNS, SQLStoreBase
from ._migrations import (
    SCHEMA_MIGRATIONS_SQL,
    Migration,
    check_sequence,
    expand_types,
    load_migrations,
    newer_schema_error,
)
from .base import (
    ClusterKey,
    UpsertResult,
    article_guid,
    fts5_query,
    utc,
    utc_now,
)

__all__ = ["SQLiteStore", "MEMORY"]

log = logging.getLogger(__name__)

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
# Bound parameters per statement when a list of URLs or ids is queried.
IN_CHUNK = 500
PERMISSIONS_HINT = "check the permissions of the file and of its directory"


class SQLiteStore(SQLStoreBase):
    """A Store in one SQLite file (or ``":memory:"``).

    ``migrations`` replaces the bundled ones (tests use it); ``open_store``
    calls ``migrate()``, a direct constructor call does not.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, migrations: Sequence[Migration] | None = None
    ) -> None:
        self._path = os.fspath(path)
        self._migrations = (
            check_sequence(migrations) if migrations is not None else load_migrations()
        )
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._conn = self._connect()

    # -- opening -----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        path = self._path
        if path != MEMORY:
            self._check_path(Path(path))
        try:
            conn = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._open_error(exc) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            # Reading the schema fails on a file that is not a database.
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            self._refuse_newer(conn)
            for pragma in SQLITE_PRAGMAS:
                conn.execute(pragma).fetchall()
        except StorageError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise self._open_error(exc) from exc
        return conn

    def _check_path(self, path: Path) -> None:
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

    def _open_error(self, exc: sqlite3.Error) -> StorageError:
        hint = f" ({PERMISSIONS_HINT})" if "unable to open" in str(exc) else ""
        return StorageError(f"cannot open SQLite database {self._path}: {exc}{hint}")

    # -- transactions ------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            yield self._connection()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back on any exception."""
        with self._lock, self._errors():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(f"SQLite database {self._path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"SQLite database {self._path}: the store is closed")
        return self._conn

    # -- migrations --------------------------------------------------------

    def migrate(self) -> None:
        bootstrap = expand_types(SCHEMA_MIGRATIONS_SQL, TYPE_MACROS)
        with self._lock, self._errors():
            self._refuse_newer(self._connection())
            self._check_writable()
            for migration in self._migrations:
                with self._writing() as conn:
                    # Re-read under the write lock: another process may have migrated.
                    conn.execute(bootstrap)
                    newest = _applied_version(conn)
                    if newest > len(self._migrations):
                        raise newer_schema_error(newest, len(self._migrations))
                    if migration.version <= newest:
                        continue
                    try:
                        for statement in _statements(expand_types(migration.sql_for(BACKEND), TYPE_MACROS)):
                            conn.execute(statement)
                    except sqlite3.Error as exc:
                        raise StorageError(
                            f"SQLite database {self._path}: migration "
                            f"{migration.version:04d}_{migration.name} failed: {exc}"
                        ) from exc
                    conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        (migration.version, _ts(utc_now())),
                    )
                    log.info(
                        "applied migration %04d_%s to %s",
                        migration.version,
                        migration.name,
                        self._path,
                    )

    def _check_writable(self) -> None:
        """Write and roll back, so a read-only file or directory fails at open, not later."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.execute("CREATE TABLE qkfeed_write_probe (x INTEGER)")
                finally:
                    conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise StorageError(
                    f"cannot write SQLite database {self._path}: {exc} ({PERMISSIONS_HINT})"
                ) from exc

    # -- articles ----------------------------------------------------------

    def upsert_article(
        self,
        article: Article,
        *,
        raw_html: bytes | None = None,
        now: datetime | None = None,
        cluster_key: ClusterKey | None = None,
    ) -> UpsertResult:
        now_text = _ts(utc(now, "now") if now is not None else utc_now())
        content = self._content_params(article)
        page = zlib.compress(raw_html) if raw_html is not None else None
        with self._writing() as conn:
            row = conn.execute(KEY_COLUMNS, (article.url,)).fetchone()
            if row is not None and self._unchanged(article, row):
                return "unchanged"
            seq = _next_seq(conn)
            if row is None:
                cursor = conn.execute(
                    "INSERT INTO articles (url, guid, source_id, first_seen, updated, change_seq,"
                    " title, published, modified, authors, agencies, categories, body_html,"
                    " body_text, summary, image_url, fingerprint, original_url, search_text)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.url,
                        article_guid(article.url),
                        article.source_id,
                        now_text,
                        now_text,
                        seq,
                    )
                    + content,
                )
                article_id = cursor.lastrowid
                result: UpsertResult = "new"
            else:
                conn.execute(
                    "UPDATE articles SET updated = ?, change_seq = ?,"
                    " title = ?, published = ?, modified = ?, authors = ?, agencies = ?,"
                    " categories = ?, body_html = ?, body_text = ?, summary = ?, image_url = ?,"
                    " fingerprint = ?, original_url = ?, search_text = ?"
                    " WHERE url = ?",
                    (now_text, seq) + content + (article.url,),
                )
                article_id = row[4]
                result = "updated"
            self._file_and_keep_page(
                conn,
                int(article_id) if article_id is not None else None,
                article,
                cluster_key,
                page,
                now_text,
            )
        return result

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(urls))
        found: set[str] = set()
        with self._reading() as conn:
            for chunk in _chunks(wanted, IN_CHUNK):
                marks = ", ".join("?" * len(chunk))
                rows = conn.execute(f"SELECT url FROM articles WHERE url IN ({marks})", chunk)
                found.update(url for (url,) in rows)
        return found

    # -- hooks of SQLStoreBase ---------------------------------------------

    @property
    def _label(self) -> str:
        return f"SQLite database {self._path}"

    def _runner(self, conn: sqlite3.Connection) -> _clusters.Run:
        return _runner(conn)

    def _applied_version(self, conn: sqlite3.Connection) -> int:
        return _applied_version(conn)

    def _next_seq(self, conn: sqlite3.Connection) -> int:
        return _next_seq(conn)

    @staticmethod
    def _ts(value: datetime) -> str:
        return _ts(value)

    @staticmethod
    def _dt_req(value: str) -> datetime:
        return _dt_req(value)

    @staticmethod
    def _load_json(value: str) -> Any:
        return json.loads(value)

    def _search_clause(self, terms: Sequence[str], collapse: bool) -> tuple[str, Any]:
        matches = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"
        if collapse:  # a story matches when any of its copies does
            matches = f"SELECT COALESCE(cluster_id, id) FROM articles WHERE id IN ({matches})"
        return f"id IN ({matches})", fts5_query(terms)

    def _health_rows(
        self, conn: sqlite3.Connection, ids: list[str], day_ago: datetime
    ) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[Any, ...]]]:
        counts: dict[str, tuple[int, int]] = {}
        states: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(ids, IN_CHUNK):
            marks = ", ".join("?" * len(chunk))
            for sid, total, last_day in conn.execute(
                "SELECT source_id, COUNT(*),"
                " COALESCE(SUM(CASE WHEN first_seen >= ? THEN 1 ELSE 0 END), 0)"
                f" FROM articles WHERE source_id IN ({marks}) GROUP BY source_id",
                [_ts(day_ago), *chunk],
            ):
                counts[sid] = (int(total), int(last_day))
            for row in conn.execute(
                "SELECT source_id, last_run, last_success, last_errors, consecutive_failures,"
                f" last_error, degraded FROM source_state WHERE source_id IN ({marks})",
                chunk,
            ):
                states[row[0]] = row[1:]
        return counts, states

    # -- lifetime ----------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r})"


# -- helpers -----------------------------------------------------------------


def _applied_version(conn: sqlite3.Connection) -> int:
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


def _runner(conn: sqlite3.Connection) -> _clusters.Run:
    return lambda sql, params: conn.execute(sql, params).fetchall()


def _next_seq(conn: sqlite3.Connection) -> int:
    conn.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (ARTICLES_COUNTER,))
    (seq,) = conn.execute(
        "SELECT value FROM counters WHERE name = ?", (ARTICLES_COUNTER,)
    ).fetchone()
    return int(seq)


def _ts(value: datetime) -> str:
    """An aware UTC datetime as fixed-width ISO 8601 text (sorts like time)."""
    return value.isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return _dt_req(text) if text is not None else None


def _dt_req(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
