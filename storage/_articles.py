"""The shared SQL for articles: lookups, the feed query, re-extraction, near-duplicate filing.

``upsert_article`` and ``known_urls`` stay in the backends (their SQL differs);
everything that reads articles back, on both backends, is here.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from scraper.logs import event, get_logger
from scraper.models import StoredArticle

from . import _clusters
from ._sqlcore import (
    ARTICLE_COLUMNS,
    ARTICLES_COUNTER,
    SORT_KEY,
    SQLStoreCore,
    marks,
)
from .base import DEFAULT_LATEST_LIMIT, ClusterKey, search_terms, utc

log = get_logger("storage")

REEXTRACT_BATCH = 50


class ArticleQueries(SQLStoreCore):
    """Store methods that read articles (and file them among near-duplicates)."""

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
        return self._listed(sql, params, collapse)

    def version(self) -> str:
        with self._reading() as conn:
            rows = self._runner(conn)(
                "SELECT value FROM counters WHERE name = ?", [ARTICLES_COUNTER]
            )
        return str(rows[0][0] if rows else 0)

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
                    event(log, "raw_page_corrupt", logging.WARNING, url=url, error=str(exc))
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
