"""What the SQL backends share: the Store methods whose SQL is the same on both.

``SQLStoreBase`` holds every method that differs between SQLite and
PostgreSQL only in small ways, expressed as hooks a backend supplies:

- ``_reading()`` / ``_writing()``: a connection under the store's lock, the
  latter inside one write transaction;
- ``_runner(conn)``: runs one statement written with ``?`` placeholders (the
  PostgreSQL runner turns them into ``%s``) and returns its rows;
- ``_ts`` / ``_dt``: an aware UTC datetime to the stored value and back
  (SQLite: fixed-width ISO text; PostgreSQL: timestamptz);
- ``_load_json``: a stored JSON value to Python (SQLite: text; PostgreSQL:
  jsonb, already decoded), and ``JSON_PARAM``, the placeholder a JSON value is
  written with;
- ``_next_seq(conn)``, ``_clock(conn, now)``, ``_search_clause`` and
  ``_health_rows``: the statements that really differ;
- ``_label``: how messages name the database.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from scraper.errors import StorageError
from scraper.models import Article, Sibling, SourceHealth, StoredArticle

from . import _clusters
from ._migrations import Migration, newer_schema_error
from .base import (
    DEFAULT_LATEST_LIMIT,
    ClusterKey,
    LeaseState,
    content_unchanged,
    search_terms,
    search_text,
    utc,
    utc_now,
)

log = logging.getLogger(__name__)

REEXTRACT_BATCH = 50
LAST_DAY = timedelta(hours=24)
ARTICLES_COUNTER = "articles"

ARTICLE_COLUMNS = (
    "id, guid, url, source_id, title, published, authors, agencies, body_html, body_text,"
    " summary, image_url, categories, modified, fingerprint, original_url, first_seen, updated"
)
SORT_KEY = "COALESCE(published, first_seen)"
SIBLING_COLUMNS = "id, url, original_url, source_id, title, published, first_seen"
# The columns ``unchanged`` compares (and the id), by URL.
KEY_COLUMNS = "SELECT fingerprint, title, published, authors, id FROM articles WHERE url = ?"


def marks(count: int) -> str:
    """``?, ?, ...``: ``count`` placeholders."""
    return ", ".join(["?"] * count)


class SQLStoreBase:
    """The Store methods common to the SQL backends; see the module docstring."""

    # The placeholder a JSON value is written with (PostgreSQL casts text to jsonb).
    JSON_PARAM = "?"
    _migrations: Sequence[Migration]

    # -- hooks -------------------------------------------------------------

    def _reading(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _writing(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _runner(self, conn: Any) -> _clusters.Run:
        raise NotImplementedError

    def _next_seq(self, conn: Any) -> int:
        raise NotImplementedError

    @property
    def _label(self) -> str:
        raise NotImplementedError

    @staticmethod
    def _ts(value: datetime) -> Any:
        """An aware UTC datetime as the database stores it."""
        raise NotImplementedError

    @staticmethod
    def _dt_req(value: Any) -> datetime:
        """A stored instant as an aware UTC datetime."""
        raise NotImplementedError

    @staticmethod
    def _load_json(value: Any) -> Any:
        raise NotImplementedError

    def _clock(self, conn: Any, now: datetime | None) -> datetime:
        """The lease clock, inside the lease's write transaction."""
        return utc(now, "now") if now is not None else utc_now()

    def _search_clause(self, terms: Sequence[str], collapse: bool) -> tuple[str, Any]:
        """A WHERE condition (``?`` placeholders) matching ``terms``, and its parameter."""
        raise NotImplementedError

    def _health_rows(
        self, conn: Any, ids: list[str], day_ago: datetime
    ) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[Any, ...]]]:
        """Per source: (articles, articles since ``day_ago``), and its source_state row."""
        raise NotImplementedError

    def _applied_version(self, conn: Any) -> int:
        """The newest migration applied to the database (0: none)."""
        raise NotImplementedError

    # -- shared steps --------------------------------------------------------

    def _refuse_newer(self, conn: Any) -> None:
        newest = self._applied_version(conn)
        known = len(self._migrations)
        if newest > known:
            raise newer_schema_error(newest, known)

    def _file_and_keep_page(
        self,
        conn: Any,
        article_id: int | None,
        article: Article,
        cluster_key: ClusterKey | None,
        page: bytes | None,
        fetched_at: Any,
    ) -> None:
        """The end of an upsert's transaction: (re)file the article among
        near-duplicates (``cluster_key``) and store its compressed page."""
        run = self._runner(conn)
        if cluster_key is not None and article_id is not None:
            # PostgreSQL: the counter's row lock (taken by the upsert) orders this
            # with every other writer.
            _clusters.file_article(run, article_id, article.source_id, cluster_key)
        if page is not None:
            run(
                "INSERT INTO pages (url, fetched_at, html) VALUES (?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET fetched_at = EXCLUDED.fetched_at,"
                " html = EXCLUDED.html",
                [article.url, fetched_at, page],
            )

    # -- conversions -------------------------------------------------------

    def _dt(self, value: Any) -> datetime | None:
        return self._dt_req(value) if value is not None else None

    def _content_params(self, a: Article) -> tuple[Any, ...]:
        """The content columns, in the order the INSERT and UPDATE of an article list them."""
        return (
            a.title,
            self._ts(utc(a.published, "published")) if a.published is not None else None,
            self._ts(utc(a.modified, "modified")) if a.modified is not None else None,
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

    def _unchanged(self, article: Article, row: Sequence[Any]) -> bool:
        """Whether ``row`` (``KEY_COLUMNS``) needs no update for ``article``."""
        fingerprint, title, published, authors = row[:4]
        return content_unchanged(
            article,
            fingerprint=fingerprint,
            title=title,
            published=self._dt(published),
            authors=tuple(self._load_json(authors)),
        )

    def _stored(self, row: Sequence[Any]) -> StoredArticle:
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
            published=self._dt(published),
            authors=tuple(self._load_json(authors)),
            agencies=tuple(self._load_json(agencies)),
            body_html=body_html,
            body_text=body_text,
            summary=summary,
            image_url=image_url,
            categories=tuple(self._load_json(categories)),
            modified=self._dt(modified),
            fingerprint=fingerprint,
            original_url=original_url,
        )
        return StoredArticle(
            id=int(id_),
            guid=guid,
            article=article,
            first_seen=self._dt_req(first_seen),
            updated=self._dt_req(updated),
        )

    def _siblings(self, rows: Iterable[Sequence[Any]]) -> dict[int, tuple[Sibling, ...]]:
        """Sibling rows (``SIBLING_COLUMNS`` + cluster_id) grouped by cluster, in row order."""
        found: dict[int, list[Sibling]] = {}
        for id_, url, original_url, source_id, title, published, first_seen, cluster in rows:
            found.setdefault(int(cluster), []).append(
                Sibling(
                    id=int(id_),
                    url=url,
                    link=original_url or url,
                    source_id=source_id,
                    title=title,
                    published=self._dt(published) or self._dt_req(first_seen),
                )
            )
        return {cluster: tuple(items) for cluster, items in found.items()}

    # -- articles ----------------------------------------------------------

    def get_article(self, url: str) -> StoredArticle | None:
        with self._reading() as conn:
            rows = self._runner(conn)(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE url = ?", [url])
        return self._stored(rows[0]) if rows else None

    def count_articles(self, source_id: str | None = None) -> int:
        with self._reading() as conn:
            run = self._runner(conn)
            if source_id is None:
                rows = run("SELECT COUNT(*) FROM articles", [])
            else:
                rows = run("SELECT COUNT(*) FROM articles WHERE source_id = ?", [source_id])
        return int(rows[0][0])

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
            where.append(f"{SORT_KEY} >= ?")
            params.append(self._ts(utc(since, "since")))
        terms = search_terms(q) if q is not None else []
        if q is not None and not terms and q.strip():
            return []  # nothing searchable in it (punctuation only)
        if terms:
            clause, param = self._search_clause(terms, collapse)
            where.append(clause)
            params.append(param)
        if collapse:
            where.append("(cluster_id IS NULL OR cluster_id = id)")
        sql = f"SELECT {ARTICLE_COLUMNS}, cluster_id FROM articles"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {SORT_KEY} DESC, id DESC LIMIT ?"
        params.append(limit)
        with self._reading() as conn:
            run = self._runner(conn)
            rows = run(sql, params)
            leaders = [row[0] for row in rows if collapse and row[-1] is not None]
            siblings = self._siblings(_clusters.sibling_rows(run, leaders, SIBLING_COLUMNS))
        return [replace(self._stored(row[:-1]), siblings=siblings.get(row[0], ())) for row in rows]

    def version(self) -> str:
        with self._reading() as conn:
            rows = self._runner(conn)(
                "SELECT value FROM counters WHERE name = ?", [ARTICLES_COUNTER]
            )
        return str(rows[0][0] if rows else 0)

    # -- conditional GET ---------------------------------------------------

    def http_cache_get(self, url: str) -> tuple[str | None, str | None]:
        with self._reading() as conn:
            rows = self._runner(conn)(
                "SELECT etag, last_modified FROM http_cache WHERE url = ?", [url]
            )
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    def http_cache_put(self, url: str, etag: str | None, last_modified: str | None) -> None:
        with self._writing() as conn:
            self._runner(conn)(
                "INSERT INTO http_cache (url, etag, last_modified, stored_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET etag = EXCLUDED.etag,"
                " last_modified = EXCLUDED.last_modified, stored_at = EXCLUDED.stored_at",
                [url, etag, last_modified, self._ts(utc_now())],
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
        started_at = self._ts(utc(started, "started"))
        finished_at = self._ts(utc(finished, "finished"))
        with self._writing() as conn:
            run = self._runner(conn)
            run(
                "INSERT INTO runs (source_id, started, finished, ok, new_count, updated_count,"
                " error_count, message, degraded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [source_id, started_at, finished_at, bool(ok), new, updated, errors, message, degraded],
            )
            # The inserted consecutive_failures is 0 for an ok run and 1 for a failure.
            run(
                "INSERT INTO source_state (source_id, last_run, last_success, last_errors,"
                " consecutive_failures, last_error, degraded) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (source_id) DO UPDATE SET"
                " last_run = EXCLUDED.last_run,"
                " last_success = COALESCE(EXCLUDED.last_success, source_state.last_success),"
                " last_errors = EXCLUDED.last_errors,"
                " consecutive_failures = CASE WHEN EXCLUDED.consecutive_failures = 0 THEN 0"
                " ELSE source_state.consecutive_failures + 1 END,"
                " last_error = EXCLUDED.last_error,"
                " degraded = EXCLUDED.degraded",
                [
                    source_id,
                    started_at,
                    started_at if ok else None,
                    errors,
                    0 if ok else 1,
                    message,
                    degraded,
                ],
            )

    def source_health(
        self, source_ids: Iterable[str], *, now: datetime | None = None
    ) -> list[SourceHealth]:
        ids = list(dict.fromkeys(source_ids))
        day_ago = (utc(now, "now") if now is not None else utc_now()) - LAST_DAY
        with self._reading() as conn:
            counts, states = self._health_rows(conn, ids, day_ago)
        health = []
        for sid in ids:
            total, last_day = counts.get(sid, (0, 0))
            last_run, last_success, errors, failures, last_error, degraded = states.get(
                sid, (None, None, 0, 0, None, None)
            )
            health.append(
                SourceHealth(
                    source_id=sid,
                    last_run=self._dt(last_run),
                    last_success=self._dt(last_success),
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
            rows = self._runner(conn)(
                "SELECT state FROM backfill_state WHERE source_id = ?", [source_id]
            )
        if not rows:
            return None
        state = self._load_json(rows[0][0])
        if not isinstance(state, dict):
            raise StorageError(
                f"{self._label}: backfill state of {source_id} is not a JSON object"
            )
        return state

    def backfill_state_put(self, source_id: str, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            raise TypeError(f"backfill state must be a dict, got {type(state).__name__}")
        text = json.dumps(state, ensure_ascii=False, sort_keys=True)
        with self._writing() as conn:
            self._runner(conn)(
                "INSERT INTO backfill_state (source_id, state, updated_at)"
                f" VALUES (?, {self.JSON_PARAM}, ?)"
                " ON CONFLICT (source_id) DO UPDATE SET state = EXCLUDED.state,"
                " updated_at = EXCLUDED.updated_at",
                [source_id, text, self._ts(utc_now())],
            )

    def backfill_state_clear(self, source_id: str) -> None:
        with self._writing() as conn:
            self._runner(conn)("DELETE FROM backfill_state WHERE source_id = ?", [source_id])

    # -- re-extraction -----------------------------------------------------

    def pages_for_reextract(self, source_id: str | None = None) -> Iterator[tuple[str, str, bytes]]:
        """Pages in URL order (the database's collation), read in small batches so
        the lock is never held by the caller.

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
                batch = self._runner(conn)(sql, params)
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
            run = self._runner(conn)
            ids = _clusters.unfiled_ids(run, after_id, limit)
            if not ids:
                return []
            rows = run(
                f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks(len(ids))})"
                " ORDER BY id",
                ids,
            )
        return [self._stored(row) for row in rows]

    def file_article(self, url: str, cluster_key: ClusterKey | None) -> None:
        with self._writing() as conn:
            self._next_seq(conn)  # feeds change; in PostgreSQL its row lock orders this with upserts
            run = self._runner(conn)
            rows = run("SELECT id, source_id FROM articles WHERE url = ?", [url])
            if not rows:
                return
            if cluster_key is None:
                _clusters.mark_keyless(run, int(rows[0][0]))
            else:
                _clusters.file_article(run, int(rows[0][0]), rows[0][1], cluster_key)

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
        with self._writing() as conn:
            when = self._clock(conn, now)
            run = self._runner(conn)
            taken = run(
                "INSERT INTO source_leases (source_id, holder, expires, last_run, last_holder)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (source_id) DO UPDATE SET holder = EXCLUDED.holder,"
                " expires = EXCLUDED.expires, last_run = EXCLUDED.last_run,"
                " last_holder = EXCLUDED.last_holder"
                " WHERE (source_leases.holder IS NULL OR source_leases.expires <= ?"
                " OR source_leases.holder IN (?, ?))"
                " AND (source_leases.last_run IS NULL OR source_leases.last_run <= ?)"
                " RETURNING source_id",
                [
                    source_id,
                    holder,
                    self._ts(when + timedelta(seconds=ttl)),
                    self._ts(when),
                    holder,
                    self._ts(when),
                    holder,
                    steal_from or holder,
                    self._ts(when - timedelta(seconds=min_gap)),
                ],
            )
            ((current, expires, last_run),) = run(
                "SELECT holder, expires, last_run FROM source_leases WHERE source_id = ?",
                [source_id],
            )
        return LeaseState(bool(taken), current, self._dt(expires), self._dt(last_run), when)

    def renew_lease(
        self, source_id: str, holder: str, *, ttl: float, now: datetime | None = None
    ) -> bool:
        with self._writing() as conn:
            when = self._clock(conn, now)
            rows = self._runner(conn)(
                "UPDATE source_leases SET expires = ? WHERE source_id = ? AND holder = ?"
                " RETURNING source_id",
                [self._ts(when + timedelta(seconds=ttl)), source_id, holder],
            )
        return bool(rows)

    def release_lease(
        self,
        source_id: str,
        holder: str,
        *,
        last_run: datetime | None,
        now: datetime | None = None,
    ) -> None:
        ran = self._ts(utc(last_run, "last_run")) if last_run is not None else None
        with self._writing() as conn:
            if ran is None:
                self._runner(conn)(
                    "UPDATE source_leases SET holder = NULL, expires = NULL"
                    " WHERE source_id = ? AND holder = ?",
                    [source_id, holder],
                )
            else:
                self._runner(conn)(
                    "UPDATE source_leases SET holder = NULL, expires = NULL, last_run = ?,"
                    " last_holder = holder WHERE source_id = ? AND holder = ?",
                    [ran, source_id, holder],
                )

    # -- lifetime ----------------------------------------------------------

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)
