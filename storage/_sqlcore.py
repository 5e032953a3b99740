"""The hooks the shared SQL is written against, and the row <-> Article conversions.

``SQLStoreCore`` is what the query mixins (``_articles``, ``_state``,
``_leases``) build on; a backend supplies the hooks, which capture every way
SQLite and PostgreSQL differ:

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
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from scraper.models import Article, Sibling, StoredArticle

from . import _clusters
from ._migrations import Migration, newer_schema_error
from .base import ClusterKey, content_unchanged, search_text, utc, utc_now

ARTICLES_COUNTER = "articles"
ARTICLE_COLUMNS = (
    "id, guid, url, source_id, title, published, authors, agencies, body_html, body_text,"
    " summary, image_url, categories, modified, fingerprint, original_url, first_seen, updated,"
    " edits, status, removed_at"
)
SORT_KEY = "COALESCE(published, first_seen)"
SIBLING_COLUMNS = "id, url, original_url, source_id, title, published, first_seen"
# The columns ``unchanged`` compares (and the id), by URL.
KEY_COLUMNS = "SELECT fingerprint, title, published, authors, id, summary FROM articles WHERE url = ?"


def marks(count: int) -> str:
    """``?, ?, ...``: ``count`` placeholders."""
    return ", ".join(["?"] * count)


class SQLStoreCore:
    """The hooks and conversions every shared query uses; see the module docstring."""

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
        fingerprint, title, published, authors, _id, summary = row[:6]
        return content_unchanged(
            article,
            fingerprint=fingerprint,
            title=title,
            published=self._dt(published),
            authors=tuple(self._load_json(authors)),
            summary=summary,
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
            edits,
            status,
            removed_at,
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
            edits=int(edits),
            status=status,
            removed_at=self._dt(removed_at),
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

    def _listed(self, sql: str, params: Sequence[Any], collapse: bool) -> list[StoredArticle]:
        """The articles of a query selecting ``ARTICLE_COLUMNS, cluster_id``, each with its
        cluster's other copies when ``collapse`` (one story, one entry), in one read."""
        with self._reading() as conn:
            run = self._runner(conn)
            rows = run(sql, params)
            leaders = [row[0] for row in rows if collapse and row[-1] is not None]
            siblings = self._siblings(_clusters.sibling_rows(run, leaders, SIBLING_COLUMNS))
        return [replace(self._stored(row[:-1]), siblings=siblings.get(row[0], ())) for row in rows]

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
