"""Reading the whole archive in keyset pages: exports and the monthly archive feeds.

Both read the archive without ever holding more than one page of rows:

- ``archive_page`` walks articles in id order (``id > after_id``), optionally
  with their stored raw page, for ``run.py export``.  Memory per call is
  bounded by ``limit``, so an export's memory stays flat in the archive's size;
- ``articles_between`` / ``neighbour_month`` read one calendar month of the
  archive for ``feeds.archive`` (the RFC 5005 archive documents), on the
  ``articles_newest`` / ``articles_source_newest`` indexes of migration 0001.

No migration: the primary key serves the id walk, and the sort-key indexes the
month ranges.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scraper.models import StoredArticle

from ._sqlcore import ARTICLE_COLUMNS, SORT_KEY, SQLStoreCore, marks
from .base import utc

__all__ = ["ArchivedArticle", "ExportQueries"]

ARCHIVE_PAGE = 200  # articles per keyset page (raw pages included: a few MB at most)


@dataclass(frozen=True)
class ArchivedArticle:
    """One article as an export writes it: its copies elsewhere and its raw page, if stored."""

    stored: StoredArticle
    syndicated_with: tuple[str, ...]  # canonical URLs of the other copies of the story
    fetched_at: datetime | None  # when its page was stored (None: no page kept)
    compressed_page: bytes | None  # zlib; ``page`` decompresses it on demand

    @property
    def page(self) -> bytes | None:
        """The raw HTML as fetched (None when no page is kept); ``zlib.error`` if corrupt."""
        return zlib.decompress(self.compressed_page) if self.compressed_page is not None else None


class ExportQueries(SQLStoreCore):
    """Store methods that read the archive page by page."""

    def archive_page(
        self,
        *,
        after_id: int = 0,
        limit: int = ARCHIVE_PAGE,
        source_ids: tuple[str, ...] | list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        with_pages: bool = False,
    ) -> list[ArchivedArticle]:
        """Articles with id above ``after_id`` in id order, at most ``limit``.

        ``since`` (inclusive) and ``until`` (exclusive) bound published (or
        first seen when undated), like the feeds' order.  The caller pages on
        with the last id returned.
        """
        where = ["a.id > ?"]
        params: list[Any] = [after_id]
        if source_ids:
            where.append(f"a.source_id IN ({marks(len(source_ids))})")
            params += list(source_ids)
        if since is not None:
            where.append("COALESCE(a.published, a.first_seen) >= ?")
            params.append(self._ts(utc(since, "since")))
        if until is not None:
            where.append("COALESCE(a.published, a.first_seen) < ?")
            params.append(self._ts(utc(until, "until")))
        columns = ", ".join(f"a.{c.strip()}" for c in ARTICLE_COLUMNS.split(","))
        page_columns = ", p.fetched_at, p.html" if with_pages else ", NULL, NULL"
        join = " LEFT JOIN pages p ON p.url = a.url" if with_pages else ""
        sql = (
            f"SELECT {columns}, a.cluster_id{page_columns} FROM articles a{join}"
            f" WHERE {' AND '.join(where)} ORDER BY a.id LIMIT ?"
        )
        params.append(limit)
        with self._reading() as conn:
            run = self._runner(conn)
            rows = run(sql, params)
            clusters = sorted({int(r[-3]) for r in rows if r[-3] is not None})
            members: dict[int, list[tuple[int, str]]] = {}
            for chunk_start in range(0, len(clusters), 500):
                chunk = clusters[chunk_start : chunk_start + 500]
                for id_, url, cluster in run(
                    f"SELECT id, url, cluster_id FROM articles WHERE cluster_id IN ({marks(len(chunk))})"
                    f" ORDER BY {SORT_KEY}, id",
                    chunk,
                ):
                    members.setdefault(int(cluster), []).append((int(id_), url))
        found = []
        for row in rows:
            stored = self._stored(row[:-3])
            cluster, fetched_at, html = row[-3:]
            copies = tuple(
                url for id_, url in members.get(int(cluster), []) if id_ != stored.id
            ) if cluster is not None else ()
            found.append(
                ArchivedArticle(
                    stored=stored,
                    syndicated_with=copies,
                    fetched_at=self._dt(fetched_at),
                    compressed_page=bytes(html) if html is not None else None,
                )
            )
        return found

    def articles_between(
        self,
        start: datetime,
        end: datetime,
        *,
        source_id: str | None = None,
        collapse_clusters: bool = False,
    ) -> list[StoredArticle]:
        """Articles whose published (or first seen) is in [start, end), newest first.

        ``collapse_clusters`` (without ``source_id``): one entry per story, as
        ``latest(collapse_clusters=True)`` — its earliest copy, in the month of
        that copy, with the others as ``siblings``.
        """
        collapse = collapse_clusters and source_id is None
        where = [f"{SORT_KEY} >= ?", f"{SORT_KEY} < ?"]
        params: list[Any] = [self._ts(utc(start, "start")), self._ts(utc(end, "end"))]
        if source_id is not None:
            where.append("source_id = ?")
            params.append(source_id)
        if collapse:
            where.append("(cluster_id IS NULL OR cluster_id = id)")
        sql = (
            f"SELECT {ARTICLE_COLUMNS}, cluster_id FROM articles WHERE {' AND '.join(where)}"
            f" ORDER BY {SORT_KEY} DESC, id DESC"
        )
        return self._listed(sql, params, collapse)

    def neighbour_instant(
        self,
        at: datetime,
        *,
        before: bool,
        source_id: str | None = None,
        collapse_clusters: bool = False,
    ) -> datetime | None:
        """The sort key (published or first seen) of the nearest article before ``at``
        (``before``) or at/after it, among the feed's entries; None when there is none.

        One index walk: the archive feeds use it to skip empty months.
        """
        op, order = ("<", "DESC") if before else (">=", "ASC")
        where = [f"{SORT_KEY} {op} ?"]
        params: list[Any] = [self._ts(utc(at, "at"))]
        if source_id is not None:
            where.append("source_id = ?")
            params.append(source_id)
        elif collapse_clusters:
            where.append("(cluster_id IS NULL OR cluster_id = id)")
        sql = (
            f"SELECT {SORT_KEY} FROM articles WHERE {' AND '.join(where)}"
            f" ORDER BY {SORT_KEY} {order}, id {order} LIMIT 1"
        )
        with self._reading() as conn:
            rows = self._runner(conn)(sql, params)
        return self._dt_req(rows[0][0]) if rows else None
