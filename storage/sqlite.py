"""SQLite backend of the Store interface (the default).

Opening, its settings (WAL, ``synchronous``, ``busy_timeout``) and migrations
are in ``storage._sqlite_open``.

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
- Errors of SQLite itself are re-raised as ``StorageError`` naming the file,
  with a short reason (disk full, read-only, corrupted) when there is one.
- The file is guarded (``storage._sqlite_guard``): deleted or replaced while
  open, every later write is refused; ``check_health()`` says why, cheaply;
  ``quick_check()`` runs ``PRAGMA quick_check`` (``run`` calls it on start).
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
from scraper.logs import event, get_logger
from scraper.models import Article

from . import _clusters, _sqlite_open
from ._common import ARTICLES_COUNTER, KEY_COLUMNS, SQLStoreBase
from ._migrations import Migration, check_sequence, load_migrations
from ._sqlite_guard import MAX_DETAIL, FileGuard
from ._sqlite_open import MEMORY
from .base import (
    ClusterKey,
    StoreLost,
    UpsertResult,
    article_guid,
    fts5_query,
    utc,
    utc_now,
)

__all__ = ["SQLiteStore", "MEMORY"]

log = get_logger("storage")

# Bound parameters per statement when a list of URLs or ids is queried.
IN_CHUNK = 500


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
        self._conn = _sqlite_open.connect(self._path, self._refuse_newer)
        self._guard = FileGuard(self._path)  # the file's identity, now that it exists

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
            self._refuse_if_lost()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self._guard.note_commit()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors as StorageError: one line, with a short reason when there is one."""
        try:
            yield
        except sqlite3.Error as exc:
            reason = self._guard.note_error(exc)
            detail = str(exc)[:MAX_DETAIL]
            suffix = f" ({reason})" if reason and reason not in detail else ""
            raise StorageError(f"SQLite database {self._path}: {detail}{suffix}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"SQLite database {self._path}: the store is closed")
        return self._conn

    # -- migrations --------------------------------------------------------

    def migrate(self) -> None:
        with self._lock, self._errors():
            conn = self._connection()
            self._refuse_newer(conn)
            _sqlite_open.migrate(conn, self._path, self._migrations, self._writing)

    # -- articles ----------------------------------------------------------

    def upsert_article(
        self,
        article: Article,
        *,
        raw_html: bytes | None = None,
        now: datetime | None = None,
        cluster_key: ClusterKey | None = None,
        stored_by: str = "fetch",
        keep_version: bool = True,
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
                    " stored_by, changed_at, last_seen, current_since,"
                    " title, published, modified, authors, agencies, categories, body_html,"
                    " body_text, summary, image_url, fingerprint, original_url, search_text)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.url,
                        article_guid(article.url),
                        article.source_id,
                        now_text,
                        now_text,
                        seq,
                        stored_by,
                        now_text,
                        now_text,
                        now_text,
                    )
                    + content,
                )
                article_id = cursor.lastrowid
                result: UpsertResult = "new"
            else:
                self._keep_version(conn, article.url, now_text, keep=keep_version)
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

    # -- durability --------------------------------------------------------

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
        feed_problem: str | None = None,
    ) -> None:
        """Record the run, then checkpoint: a committed run is in the database file itself.

        With ``synchronous=NORMAL`` a WAL commit is not fsynced; a checkpoint
        fsyncs the WAL and copies it into the file, so after each run a power
        cut or a read-only remount keeps everything up to that run (what an
        unfinished run had written is refetched by the next one).
        """
        super().record_run(
            source_id, started=started, finished=finished, ok=ok, new=new, updated=updated,
            errors=errors, message=message, degraded=degraded,
            feed_problem=feed_problem,
        )
        self.checkpoint()

    def checkpoint(self) -> None:
        """``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its own.

        Its own connection, so the fsyncs (slow on a busy disk) never hold the
        store's lock: feed reads and lease renewals go on meanwhile.  PASSIVE
        never waits for readers.  ``mode=rw`` never creates a file: a deleted
        database is not recreated empty.  A failure is logged and noted for
        ``check_health`` (the run itself was committed).
        """
        if self._path == MEMORY or self._guard.lost() is not None:
            return
        try:
            with self._errors():
                conn = sqlite3.connect(
                    f"{Path(self._guard.path).as_uri()}?mode=rw", uri=True,
                    timeout=_sqlite_open.BUSY_TIMEOUT_SECONDS, isolation_level=None,
                )
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                finally:
                    conn.close()
        except StorageError as exc:
            event(log, "checkpoint_failed", logging.WARNING, error=str(exc))

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
        return _sqlite_open.applied_version(conn)

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
                f" last_error, degraded, feed_problem FROM source_state WHERE source_id IN ({marks})",
                chunk,
            ):
                states[row[0]] = row[1:]
        return counts, states

    # -- health ------------------------------------------------------------

    def check_health(self) -> str | None:
        """Cheap: no remembered failure, a writable mount, the schema readable; StoreLost
        when the file is no longer the one opened (``storage._sqlite_guard``)."""
        if self._conn is None:
            return "the store is closed"
        self._refuse_if_lost()
        problem = self._guard.check()
        if problem is None:
            try:
                with self._reading() as conn:
                    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except StorageError as exc:
                problem = str(exc)
        return None if problem is None else _with_path(self._path, problem)

    def _refuse_if_lost(self) -> None:
        lost = self._guard.lost()
        if lost is not None:
            raise StoreLost(f"SQLite database {self._path}: {lost}; refusing to write (restart)")

    def quick_check(self) -> str | None:
        """``PRAGMA quick_check`` (reads every page: seconds on a large file); None when "ok"."""
        try:
            with self._reading() as conn:
                rows = conn.execute("PRAGMA quick_check").fetchall()
        except StorageError as exc:
            return str(exc)
        if rows == [("ok",)]:
            return None
        found = " ".join(" ".join(str(row[0]) for row in rows[:5]).replace("*** in database main ***", "").split())
        first = found[:MAX_DETAIL] + ("…" if len(found) > MAX_DETAIL else "")
        return f"SQLite database {self._path} is corrupted (PRAGMA quick_check: {first})"

    # -- lifetime ----------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r})"


# -- helpers -----------------------------------------------------------------


def _with_path(path: str, problem: str) -> str:
    return problem if problem.startswith("SQLite database") else f"SQLite database {path}: {problem}"


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


def _dt_req(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
