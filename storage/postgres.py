"""PostgreSQL backend of the Store interface (psycopg 3).

Settings: ``CONNECT_TIMEOUT`` (unless the URL sets ``connect_timeout``),
``APPLICATION_NAME`` (unless the URL sets one), the session time zone UTC.

- A pool of connections per store (psycopg_pool, ``pool_size`` at most, one kept
  open), so the feed server's reads in the thread pool do not queue behind the
  pipeline's writes.  Each call takes one connection for its duration; a
  connection is checked when taken, so one that broke (server restart,
  network) is replaced instead of failing the call; a call that cannot get a
  connection within ``CONNECT_TIMEOUT`` fails with ``StorageError``.
- Connections are in autocommit mode; every write is one explicit transaction
  (READ COMMITTED).
- ``upsert_article`` reads first and, when nothing changed, returns without
  writing or locking anything.  Otherwise, in one transaction: re-read the row
  ``FOR UPDATE``, bump the ``articles`` counter (its row lock orders article
  writers, so ``change_seq`` stays unique), then ``UPDATE`` or
  ``INSERT ... ON CONFLICT (url) DO NOTHING``.  When another connection inserted
  the same URL first, the insert does nothing, the transaction is rolled back
  and retried, and then sees that row: two processes never both report "new",
  and the UNIQUE constraints on ``url`` and ``guid`` rule out duplicates.
- Migrations are the shared numbered files with the macros expanded by
  ``TYPE_MACROS`` (identity, timestamptz, bytea, jsonb); each is applied in one
  transaction with its ``schema_migrations`` row, under an advisory lock, so
  processes starting together migrate once (``storage._pg_schema``).
- Opening refuses, before changing anything, a database migrated by a newer
  qkfeed; ``migrate()`` then refuses a role that cannot write (a write rolled
  back), so privileges fail at start-up rather than at the first upsert.
- Errors are ``StorageError`` naming the database as ``user@host:port/dbname``;
  the password is never part of a message (``storage._pg_names``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from scraper.errors import StorageError
from scraper.logs import get_logger
from scraper.models import Article

from . import _clusters, _pg_schema
from ._common import ARTICLES_COUNTER, KEY_COLUMNS, SQLStoreBase
from ._migrations import Migration, check_sequence, load_migrations
from ._pg_names import describe, display_name, parse_url
from ._pg_schema import TYPE_MACROS
from .base import (
    ClusterKey,
    UpsertResult,
    article_guid,
    utc,
    utc_now,
)

__all__ = ["DEFAULT_POOL_SIZE", "PostgresStore", "TYPE_MACROS", "display_name"]

log = get_logger("storage")

CONNECT_TIMEOUT = 10  # seconds
HEALTH_TIMEOUT = 1.0  # seconds check_health waits for a pooled connection (a probe must answer fast)
DEFAULT_POOL_SIZE = 4  # connections per store at most ([storage] pool_size)
APPLICATION_NAME = "qkfeed"
# Attempts of one upsert that keeps losing insert races to other connections.
UPSERT_ATTEMPTS = 5
IN_CHUNK = 1000
# Full-text match (migration 0002): every word of the folded query, as whole words.
_MATCHES = (
    "qkfeed_search_vector(search_text) @@ plainto_tsquery('simple', qkfeed_search_words(%s))"
)


class _LostRace(Exception):
    """Another connection inserted the URL between our read and our insert."""


class PostgresStore(SQLStoreBase):
    """A Store in one PostgreSQL database, named by a ``postgresql://`` URL.

    ``migrations`` replaces the bundled ones (tests use it); ``open_store``
    calls ``migrate()``, a direct constructor call does not.
    """

    def __init__(
        self,
        url: str,
        *,
        migrations: Sequence[Migration] | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        if pool_size < 1:
            raise StorageError(f"PostgreSQL pool_size must be 1 or more, not {pool_size}")
        self._conninfo, self._name, self._secret = parse_url(url)
        self._migrations = (
            check_sequence(migrations) if migrations is not None else load_migrations()
        )
        self._closed = False
        # One connection first: its failure is the clear one-line error, before any pool.
        probe = self._connect()
        try:
            with self._errors():
                self._refuse_newer(probe)
        finally:
            probe.close()
        self._pool = ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs=self._connect_kwargs(),
            configure=_configure,
            check=ConnectionPool.check_connection,
            timeout=CONNECT_TIMEOUT,
            name=APPLICATION_NAME,
            open=True,
        )

    @property
    def name(self) -> str:
        """``user@host:port/dbname``: the database, without the password."""
        return self._name

    # -- opening -----------------------------------------------------------

    def _connect_kwargs(self) -> dict[str, Any]:
        params = conninfo_to_dict(self._conninfo)
        extra: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = CONNECT_TIMEOUT
        if "application_name" not in params:
            extra["application_name"] = APPLICATION_NAME
        return extra

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self._conninfo, **self._connect_kwargs())
        except psycopg.Error as exc:
            raise StorageError(
                f"cannot open PostgreSQL database {self._name}: {self._describe(exc)}"
            ) from exc
        try:
            _configure(conn)
        except psycopg.Error as exc:
            conn.close()
            raise StorageError(
                f"cannot open PostgreSQL database {self._name}: {self._describe(exc)}"
            ) from exc
        return conn

    # -- connections and errors ---------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[psycopg.Connection[Any]]:
        with self._errors(), self._connection() as conn:
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[psycopg.Connection[Any]]:
        """One write transaction; rolled back on any exception."""
        with self._errors(), self._connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection for one call (``_errors`` must be around it)."""
        if self._closed:
            raise StorageError(f"PostgreSQL database {self._name}: the store is closed")
        with self._pool.connection() as conn:
            yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise StorageError(f"PostgreSQL database {self._name}: {self._describe(exc)}") from exc

    def _describe(self, exc: psycopg.Error) -> str:
        """One line about ``exc``, without the password."""
        return describe(exc, self._secret)

    # -- migrations --------------------------------------------------------

    def migrate(self) -> None:
        with self._errors(), self._connection() as conn:
            self._refuse_newer(conn)
            _pg_schema.migrate(conn, self._migrations, self._name, self._describe)

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
        when = utc(now, "now") if now is not None else utc_now()
        content = self._content_params(article)
        page = zlib.compress(raw_html) if raw_html is not None else None
        with self._errors(), self._connection() as conn:
            row = conn.execute(KEY_COLUMNS.replace("?", "%s"), (article.url,)).fetchone()
            if row is not None and self._unchanged(article, row):
                return "unchanged"
            for _ in range(UPSERT_ATTEMPTS):
                try:
                    with conn.transaction():
                        return self._write_article(conn, article, content, page, when, cluster_key, stored_by,
                                                   keep_version)
                except _LostRace:
                    continue
        raise StorageError(
            f"PostgreSQL database {self._name}: gave up upserting {article.url} after "
            f"{UPSERT_ATTEMPTS} lost races with other writers"
        )

    def _write_article(
        self,
        conn: psycopg.Connection[Any],
        article: Article,
        content: tuple[Any, ...],
        page: bytes | None,
        when: datetime,
        cluster_key: ClusterKey | None,
        stored_by: str = "fetch",
        keep_version: bool = True,
    ) -> UpsertResult:
        row = conn.execute(KEY_COLUMNS.replace("?", "%s") + " FOR UPDATE", (article.url,)).fetchone()
        if row is not None and self._unchanged(article, row):
            return "unchanged"
        seq = _next_seq(conn)
        result: UpsertResult
        if row is None:
            inserted = conn.execute(
                "INSERT INTO articles (url, guid, source_id, first_seen, updated, change_seq,"
                " stored_by, changed_at, last_seen, current_since,"
                " title, published, modified, authors, agencies, categories, body_html,"
                " body_text, summary, image_url, fingerprint, original_url, search_text)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb,"
                " %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (url) DO NOTHING RETURNING id",
                (article.url, article_guid(article.url), article.source_id, when, when, seq,
                 stored_by, when, when, when)
                + content,
            ).fetchone()
            if inserted is None:
                raise _LostRace  # rolls back the counter too
            article_id = int(inserted[0])
            result = "new"
        else:
            self._keep_version(conn, article.url, when, keep=keep_version)
            conn.execute(
                "UPDATE articles SET updated = %s, change_seq = %s,"
                " title = %s, published = %s, modified = %s, authors = %s::jsonb,"
                " agencies = %s::jsonb, categories = %s::jsonb, body_html = %s, body_text = %s,"
                " summary = %s, image_url = %s, fingerprint = %s, original_url = %s,"
                " search_text = %s WHERE url = %s",
                (when, seq) + content + (article.url,),
            )
            article_id = int(row[4])
            result = "updated"
        # The counter's row lock (taken above) orders the filing with every other writer.
        self._file_and_keep_page(conn, article_id, article, cluster_key, page, when)
        return result

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(urls))
        found: set[str] = set()
        with self._reading() as conn:
            for start in range(0, len(wanted), IN_CHUNK):
                rows = conn.execute(
                    "SELECT url FROM articles WHERE url = ANY(%s)",
                    (wanted[start : start + IN_CHUNK],),
                )
                found.update(url for (url,) in rows)
        return found

    # -- hooks of SQLStoreBase ---------------------------------------------

    JSON_PARAM = "?::jsonb"

    @property
    def _label(self) -> str:
        return f"PostgreSQL database {self._name}"

    def _runner(self, conn: psycopg.Connection[Any]) -> _clusters.Run:
        return _runner(conn)

    def _applied_version(self, conn: psycopg.Connection[Any]) -> int:
        return _pg_schema.applied_version(conn)

    def _next_seq(self, conn: psycopg.Connection[Any]) -> int:
        return _next_seq(conn)

    @staticmethod
    def _ts(value: datetime) -> datetime:
        return value

    @staticmethod
    def _dt_req(value: datetime) -> datetime:
        return utc(value)

    @staticmethod
    def _load_json(value: Any) -> Any:
        return value  # jsonb comes back decoded

    def _search_clause(self, terms: Sequence[str], collapse: bool) -> tuple[str, Any]:
        if collapse:  # a story matches when any of its copies does
            return f"id IN (SELECT COALESCE(cluster_id, id) FROM articles WHERE {_MATCHES})", " ".join(terms)
        return _MATCHES, " ".join(terms)

    def _health_rows(
        self, conn: psycopg.Connection[Any], ids: list[str], day_ago: datetime
    ) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[Any, ...]]]:
        counts: dict[str, tuple[int, int]] = {}
        states: dict[str, tuple[Any, ...]] = {}
        for sid, total, last_day in conn.execute(
            "SELECT source_id, COUNT(*), COUNT(*) FILTER (WHERE first_seen >= %s)"
            " FROM articles WHERE source_id = ANY(%s) GROUP BY source_id",
            (day_ago, ids),
        ):
            counts[sid] = (int(total), int(last_day))
        for row in conn.execute(
            "SELECT source_id, last_run, last_success, last_errors, consecutive_failures,"
            " last_error, degraded, feed_problem FROM source_state WHERE source_id = ANY(%s)",
            (ids,),
        ):
            states[row[0]] = tuple(row[1:])
        return counts, states

    # Leases go by the server's clock (one clock for workers on many machines)
    # unless ``now`` is given.
    def _clock(self, conn: psycopg.Connection[Any], now: datetime | None) -> datetime:
        if now is not None:
            return utc(now, "now")
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        return utc(row[0])

    # -- health ------------------------------------------------------------

    def check_health(self) -> str | None:
        """``SELECT 1`` on a pooled connection, waiting at most ``HEALTH_TIMEOUT`` for one."""
        if self._closed:
            return f"PostgreSQL database {self._name}: the store is closed"
        try:
            with self._errors(), self._pool.connection(timeout=HEALTH_TIMEOUT) as conn:
                conn.execute("SELECT 1").fetchone()
        except StorageError as exc:
            return str(exc)
        return None

    def quick_check(self) -> str | None:
        return self.check_health()  # the server checks its own pages

    # -- lifetime ----------------------------------------------------------

    def close(self) -> None:
        self._closed = True
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self._name!r})"


# -- helpers -----------------------------------------------------------------


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Every connection, new or replaced, works in UTC."""
    conn.execute("SET TIME ZONE 'UTC'")


def _runner(conn: psycopg.Connection[Any]) -> _clusters.Run:
    def run(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor = conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description is not None else []

    return run


def _next_seq(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "UPDATE counters SET value = value + 1 WHERE name = %s RETURNING value",
        (ARTICLES_COUNTER,),
    ).fetchone()
    if row is None:
        raise StorageError("the articles counter is missing (a broken migration?)")
    return int(row[0])


def _dt(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


