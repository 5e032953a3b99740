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
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from scraper.errors import StorageError
from scraper.models import Article, Sibling, SourceHealth, StoredArticle

from . import _clusters
from ._migrations import (
    SCHEMA_MIGRATIONS_SQL,
    Migration,
    check_sequence,
    expand_types,
    load_migrations,
    newer_schema_error,
)
from .base import (
    DEFAULT_LATEST_LIMIT,
    ClusterKey,
    LeaseState,
    UpsertResult,
    article_guid,
    content_unchanged,
    fts5_query,
    search_terms,
    search_text,
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
REEXTRACT_BATCH = 50
LAST_DAY = timedelta(hours=24)
ARTICLES_COUNTER = "articles"
PERMISSIONS_HINT = "check the permissions of the file and of its directory"

_ARTICLE_COLUMNS = (
    "id, guid, url, source_id, title, published, authors, agencies, body_html, body_text,"
    " summary, image_url, categories, modified, fingerprint, original_url, first_seen, updated"
)
_SORT_KEY = "COALESCE(published, first_seen)"


class SQLiteStore:
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

    def _refuse_newer(self, conn: sqlite3.Connection) -> None:
        newest = _applied_version(conn)
        known = len(self._migrations)
        if newest > known:
            raise newer_schema_error(newest, known)

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
        content = _content_params(article)
        page = zlib.compress(raw_html) if raw_html is not None else None
        with self._writing() as conn:
            row = conn.execute(
                "SELECT fingerprint, title, published, authors, id FROM articles WHERE url = ?",
                (article.url,),
            ).fetchone()
            if row is not None and content_unchanged(
                article,
                fingerprint=row[0],
                title=row[1],
                published=_dt(row[2]),
                authors=tuple(json.loads(row[3])),
            ):
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
            if cluster_key is not None and article_id is not None:
                _clusters.file_article(_runner(conn), int(article_id), article.source_id, cluster_key)
            if page is not None:
                conn.execute(
                    "INSERT INTO pages (url, fetched_at, html) VALUES (?, ?, ?)"
                    " ON CONFLICT (url) DO UPDATE SET fetched_at = excluded.fetched_at,"
                    " html = excluded.html",
                    (article.url, now_text, page),
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

    def get_article(self, url: str) -> StoredArticle | None:
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE url = ?", (url,)
            ).fetchone()
        return _stored(row) if row is not None else None

    def count_articles(self, source_id: str | None = None) -> int:
        with self._reading() as conn:
            if source_id is None:
                (count,) = conn.execute("SELECT COUNT(*) FROM articles").fetchone()
            else:
                (count,) = conn.execute(
                    "SELECT COUNT(*) FROM articles WHERE source_id = ?", (source_id,)
                ).fetchone()
        return int(count)

    def latest(
        self,
        *,
        source_id: str | None = None,
        limit: int = DEFAULT_LATEST_LIMIT,
        q: str | None = None,
        since: datetime | None = None,
        collapse_clusters: bool = False,
    ) -> list[StoredArticle]:
        if limit <= 0:
            return []
        collapse = collapse_clusters and source_id is None
        where: list[str] = []
        params: list[Any] = []
        if source_id is not None:
            where.append("source_id = ?")
            params.append(source_id)
        if since is not None:
            where.append(f"{_SORT_KEY} >= ?")
            params.append(_ts(utc(since, "since")))
        terms = search_terms(q) if q is not None else []
        if q is not None and not terms and q.strip():
            return []  # nothing searchable in it (punctuation only)
        if terms:
            matches = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"
            if collapse:  # a story matches when any of its copies does
                matches = f"SELECT COALESCE(cluster_id, id) FROM articles WHERE id IN ({matches})"
            where.append(f"id IN ({matches})")
            params.append(fts5_query(terms))
        if collapse:
            where.append("(cluster_id IS NULL OR cluster_id = id)")
        sql = f"SELECT {_ARTICLE_COLUMNS}, cluster_id FROM articles"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {_SORT_KEY} DESC, id DESC LIMIT ?"
        params.append(limit)
        with self._reading() as conn:
            rows = conn.execute(sql, params).fetchall()
            leaders = [row[0] for row in rows if collapse and row[-1] is not None]
            siblings = _siblings(_clusters.sibling_rows(_runner(conn), leaders, _SIBLING_COLUMNS))
        return [replace(_stored(row[:-1]), siblings=siblings.get(row[0], ())) for row in rows]

    def version(self) -> str:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT value FROM counters WHERE name = ?", (ARTICLES_COUNTER,)
            ).fetchone()
        return str(row[0] if row is not None else 0)

    # -- conditional GET ---------------------------------------------------

    def http_cache_get(self, url: str) -> tuple[str | None, str | None]:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT etag, last_modified FROM http_cache WHERE url = ?", (url,)
            ).fetchone()
        return (row[0], row[1]) if row is not None else (None, None)

    def http_cache_put(self, url: str, etag: str | None, last_modified: str | None) -> None:
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO http_cache (url, etag, last_modified, stored_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,"
                " last_modified = excluded.last_modified, stored_at = excluded.stored_at",
                (url, etag, last_modified, _ts(utc_now())),
            )

    # -- runs and health ---------------------------------------------------

    def record_run(
        self,
        source_id: str,
        *,
        started: datetime,
        finished: datetime,
        ok: bool,
        new: int,
        updated: int,
        errors: int,
        message: str | None = None,
        degraded: str | None = None,
    ) -> None:
        started_text = _ts(utc(started, "started"))
        finished_text = _ts(utc(finished, "finished"))
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO runs (source_id, started, finished, ok, new_count, updated_count,"
                " error_count, message, degraded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    source_id,
                    started_text,
                    finished_text,
                    bool(ok),
                    new,
                    updated,
                    errors,
                    message,
                    degraded,
                ),
            )
            # The inserted consecutive_failures is 0 for an ok run and 1 for a failure.
            conn.execute(
                "INSERT INTO source_state (source_id, last_run, last_success, last_errors,"
                " consecutive_failures, last_error, degraded) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (source_id) DO UPDATE SET"
                " last_run = excluded.last_run,"
                " last_success = COALESCE(excluded.last_success, source_state.last_success),"
                " last_errors = excluded.last_errors,"
                " consecutive_failures = CASE WHEN excluded.consecutive_failures = 0 THEN 0"
                " ELSE source_state.consecutive_failures + 1 END,"
                " last_error = excluded.last_error,"
                " degraded = excluded.degraded",
                (
                    source_id,
                    started_text,
                    started_text if ok else None,
                    errors,
                    0 if ok else 1,
                    message,
                    degraded,
                ),
            )

    def source_health(
        self, source_ids: Iterable[str], *, now: datetime | None = None
    ) -> list[SourceHealth]:
        ids = list(dict.fromkeys(source_ids))
        day_ago = _ts((utc(now, "now") if now is not None else utc_now()) - LAST_DAY)
        counts: dict[str, tuple[int, int]] = {}
        states: dict[str, tuple[Any, ...]] = {}
        with self._reading() as conn:
            for chunk in _chunks(ids, IN_CHUNK):
                marks = ", ".join("?" * len(chunk))
                for sid, total, last_day in conn.execute(
                    "SELECT source_id, COUNT(*),"
                    " COALESCE(SUM(CASE WHEN first_seen >= ? THEN 1 ELSE 0 END), 0)"
                    f" FROM articles WHERE source_id IN ({marks}) GROUP BY source_id",
                    [day_ago, *chunk],
                ):
                    counts[sid] = (int(total), int(last_day))
                for row in conn.execute(
                    "SELECT source_id, last_run, last_success, last_errors, consecutive_failures,"
                    f" last_error, degraded FROM source_state WHERE source_id IN ({marks})",
                    chunk,
                ):
                    states[row[0]] = row[1:]
        health = []
        for sid in ids:
            total, last_day = counts.get(sid, (0, 0))
            last_run, last_success, errors, failures, last_error, degraded = states.get(
                sid, (None, None, 0, 0, None, None)
            )
            health.append(
                SourceHealth(
                    source_id=sid,
                    last_run=_dt(last_run),
                    last_success=_dt(last_success),
                    articles=total,
                    errors=int(errors),
                    consecutive_failures=int(failures),
                    last_error=last_error,
                    degraded=degraded,
                    articles_last_day=last_day,
                )
            )
        return health

    # -- backfill ----------------------------------------------------------

    def backfill_state_get(self, source_id: str) -> dict[str, Any] | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT state FROM backfill_state WHERE source_id = ?", (source_id,)
            ).fetchone()
        if row is None:
            return None
        state = json.loads(row[0])
        if not isinstance(state, dict):
            raise StorageError(
                f"SQLite database {self._path}: backfill state of {source_id} is not a JSON object"
            )
        return state

    def backfill_state_put(self, source_id: str, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            raise TypeError(f"backfill state must be a dict, got {type(state).__name__}")
        text = json.dumps(state, ensure_ascii=False, sort_keys=True)
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO backfill_state (source_id, state, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (source_id) DO UPDATE SET state = excluded.state,"
                " updated_at = excluded.updated_at",
                (source_id, text, _ts(utc_now())),
            )

    def backfill_state_clear(self, source_id: str) -> None:
        with self._writing() as conn:
            conn.execute("DELETE FROM backfill_state WHERE source_id = ?", (source_id,))

    # -- re-extraction -----------------------------------------------------

    def pages_for_reextract(self, source_id: str | None = None) -> Iterator[tuple[str, str, bytes]]:
        """Pages in URL order, read in small batches so the lock is never held by the caller.

        A page whose stored bytes do not decompress is logged and skipped.
        """
        after = ""
        while True:
            sql = (
                "SELECT p.url, a.source_id, p.html FROM pages p JOIN articles a ON a.url = p.url"
                " WHERE p.url > ?"
            )
            params: list[Any] = [after]
            if source_id is not None:
                sql += " AND a.source_id = ?"
                params.append(source_id)
            sql += " ORDER BY p.url LIMIT ?"
            params.append(REEXTRACT_BATCH)
            with self._reading() as conn:
                batch = conn.execute(sql, params).fetchall()
            for url, sid, compressed in batch:
                try:
                    html = zlib.decompress(compressed)
                except zlib.error as exc:
                    log.warning("stored page of %s is corrupt (%s); skipped", url, exc)
                    continue
                yield url, sid, html
            if len(batch) < REEXTRACT_BATCH:
                return
            after = batch[-1][0]

    # -- near-duplicates (files the articles the upserts did not) ----------

    def unfiled(self, *, after_id: int = 0, limit: int = 100) -> list[StoredArticle]:
        with self._reading() as conn:
            ids = _clusters.unfiled_ids(_runner(conn), after_id, limit)
            if not ids:
                return []
            marks = ", ".join(["?"] * len(ids))
            rows = conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks}) ORDER BY id", ids
            ).fetchall()
        return [_stored(row) for row in rows]

    def file_article(self, url: str, cluster_key: ClusterKey | None) -> None:
        with self._writing() as conn:
            _next_seq(conn)  # feeds change; in PostgreSQL its row lock orders this with upserts
            row = conn.execute("SELECT id, source_id FROM articles WHERE url = ?", (url,)).fetchone()
            if row is None:
                return
            if cluster_key is None:
                _clusters.mark_keyless(_runner(conn), int(row[0]))
            else:
                _clusters.file_article(_runner(conn), int(row[0]), row[1], cluster_key)

    # -- source leases -----------------------------------------------------

    def take_lease(
        self,
        source_id: str,
        holder: str,
        *,
        ttl: float,
        min_gap: float,
        steal_from: str | None = None,
        now: datetime | None = None,
    ) -> LeaseState:
        when = utc(now, "now") if now is not None else utc_now()
        with self._writing() as conn:
            taken = conn.execute(
                "INSERT INTO source_leases (source_id, holder, expires, last_run, last_holder)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (source_id) DO UPDATE SET holder = excluded.holder,"
                " expires = excluded.expires, last_run = excluded.last_run,"
                " last_holder = excluded.last_holder"
                " WHERE (source_leases.holder IS NULL OR source_leases.expires <= ?"
                " OR source_leases.holder IN (?, ?))"
                " AND (source_leases.last_run IS NULL OR source_leases.last_run <= ?)"
                " RETURNING source_id",
                (
                    source_id,
                    holder,
                    _ts(when + timedelta(seconds=ttl)),
                    _ts(when),
                    holder,
                    _ts(when),
                    holder,
                    steal_from or holder,
                    _ts(when - timedelta(seconds=min_gap)),
                ),
            ).fetchall()
            current, expires, last_run = conn.execute(
                "SELECT holder, expires, last_run FROM source_leases WHERE source_id = ?",
                (source_id,),
            ).fetchone()
        return LeaseState(bool(taken), current, _dt(expires), _dt(last_run), when)

    def renew_lease(
        self, source_id: str, holder: str, *, ttl: float, now: datetime | None = None
    ) -> bool:
        when = utc(now, "now") if now is not None else utc_now()
        with self._writing() as conn:
            rows = conn.execute(
                "UPDATE source_leases SET expires = ? WHERE source_id = ? AND holder = ?"
                " RETURNING source_id",
                (_ts(when + timedelta(seconds=ttl)), source_id, holder),
            ).fetchall()
        return bool(rows)

    def release_lease(
        self,
        source_id: str,
        holder: str,
        *,
        last_run: datetime | None,
        now: datetime | None = None,
    ) -> None:
        ran = _ts(utc(last_run, "last_run")) if last_run is not None else None
        with self._writing() as conn:
            conn.execute(
                "UPDATE source_leases SET holder = NULL, expires = NULL,"
                " last_run = COALESCE(?, last_run),"
                " last_holder = CASE WHEN ? IS NULL THEN last_holder ELSE holder END"
                " WHERE source_id = ? AND holder = ?",
                (ran, ran, source_id, holder),
            )

    # -- lifetime ----------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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


_SIBLING_COLUMNS = "id, url, original_url, source_id, title, published, first_seen"


def _siblings(rows: Iterable[Sequence[Any]]) -> dict[int, tuple[Sibling, ...]]:
    """Sibling rows (``_SIBLING_COLUMNS`` + cluster_id) grouped by cluster, in row order."""
    found: dict[int, list[Sibling]] = {}
    for id_, url, original_url, source_id, title, published, first_seen, cluster in rows:
        found.setdefault(int(cluster), []).append(
            Sibling(
                id=int(id_),
                url=url,
                link=original_url or url,
                source_id=source_id,
                title=title,
                published=_dt(published) or _dt_req(first_seen),
            )
        )
    return {cluster: tuple(items) for cluster, items in found.items()}


def _next_seq(conn: sqlite3.Connection) -> int:
    conn.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (ARTICLES_COUNTER,))
    (seq,) = conn.execute(
        "SELECT value FROM counters WHERE name = ?", (ARTICLES_COUNTER,)
    ).fetchone()
    return int(seq)


def _content_params(a: Article) -> tuple[Any, ...]:
    """The content columns, in the order the INSERT and UPDATE above list them."""
    return (
        a.title,
        _ts(utc(a.published, "published")) if a.published is not None else None,
        _ts(utc(a.modified, "modified")) if a.modified is not None else None,
        _json_list(a.authors),
        _json_list(a.agencies),
        _json_list(a.categories),
        a.body_html,
        a.body_text,
        a.summary,
        a.image_url,
        a.fingerprint,
        a.original_url,
        search_text(a),
    )


def _stored(row: Sequence[Any]) -> StoredArticle:
    (
        id_,
        guid,
        url,
        source_id,
        title,
        published,
        authors,
        agencies,
        body_html,
        body_text,
        summary,
        image_url,
        categories,
        modified,
        fingerprint,
        original_url,
        first_seen,
        updated,
    ) = row
    article = Article(
        url=url,
        source_id=source_id,
        title=title,
        published=_dt(published),
        authors=tuple(json.loads(authors)),
        agencies=tuple(json.loads(agencies)),
        body_html=body_html,
        body_text=body_text,
        summary=summary,
        image_url=image_url,
        categories=tuple(json.loads(categories)),
        modified=_dt(modified),
        fingerprint=fingerprint,
        original_url=original_url,
    )
    return StoredArticle(
        id=int(id_),
        guid=guid,
        article=article,
        first_seen=_dt_req(first_seen),
        updated=_dt_req(updated),
    )


def _ts(value: datetime) -> str:
    """An aware UTC datetime as fixed-width ISO 8601 text (sorts like time)."""
    return value.isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return _dt_req(text) if text is not None else None


def _dt_req(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
