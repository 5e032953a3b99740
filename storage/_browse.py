"""The shared SQL behind the HTML page: filtered, cursor-paged article lists and their count.

``browse(flt, before=..., limit=...)`` is ``latest`` with the page's filters
(``base.ArticleFilter``): several sources, a date range, URL sections, search;
``before`` is a keyset cursor on the feed order ``(COALESCE(published,
first_seen), id)``, so a page never repeats nor skips an article when newer
ones arrive meanwhile (an OFFSET would shift).  ``count_matching(flt)`` is how
many entries the filter finds in all (stories when clusters are collapsed).

Everything is portable SQL over the indexes of migrations 0001-0003; no schema
change.  Section matching is a ``LIKE`` on the canonical URL (``%://%/SLUG/%``).
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from datetime import datetime
from itertools import islice
from typing import Any

from scraper.models import StoredArticle

from ._sqlcore import ARTICLE_COLUMNS, SORT_KEY, SQLStoreCore, marks
from .base import DEFAULT_LATEST_LIMIT, ArticleFilter, search_terms, utc

_LIKE_SPECIALS = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


def section_pattern(slug: str) -> str:
    """The LIKE pattern (escape ``\\``) of a canonical URL with ``slug`` as a path segment."""
    return "%://%/" + slug.translate(_LIKE_SPECIALS) + "/%"


def _feed_order(item: StoredArticle) -> tuple[datetime, int]:
    return (item.published_or_seen, item.id)


class BrowseQueries(SQLStoreCore):
    """Store methods for the page: ``browse`` and ``count_matching``."""

    def browse(
        self,
        flt: ArticleFilter,
        *,
        before: tuple[datetime, int] | None = None,
        limit: int = DEFAULT_LATEST_LIMIT,
    ) -> list[StoredArticle]:
        if limit <= 0:
            return []
        if len(flt.source_ids) > 1:
            # one query per source (each an index range on (source_id, sort key)), merged:
            # an IN list would sort every row of those sources
            lists = [
                self.browse(replace(flt, source_ids=(sid,)), before=before, limit=limit)
                for sid in dict.fromkeys(flt.source_ids)
            ]
            return list(islice(heapq.merge(*lists, key=_feed_order, reverse=True), limit))
        where = self._filter_where(flt)
        if where is None:
            return []
        clauses, params = where
        if before is not None:
            at = self._ts(utc(before[0], "before"))
            clauses.append(f"({SORT_KEY} < ? OR ({SORT_KEY} = ? AND id < ?))")
            params += [at, at, int(before[1])]
        sql = f"SELECT {ARTICLE_COLUMNS}, cluster_id FROM articles"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {SORT_KEY} DESC, id DESC LIMIT ?"
        params.append(limit)
        collapse = flt.collapses
        return self._listed(sql, params, collapse)

    def count_matching(self, flt: ArticleFilter) -> int:
        where = self._filter_where(flt)
        if where is None:
            return 0
        clauses, params = where
        sql = "SELECT COUNT(*) FROM articles"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._reading() as conn:
            rows = self._runner(conn)(sql, params)
        return int(rows[0][0])

    def _filter_where(self, flt: ArticleFilter) -> tuple[list[str], list[Any]] | None:
        """WHERE conditions and their parameters; None when the filter can match nothing."""
        clauses: list[str] = []
        params: list[Any] = []
        if flt.source_ids:
            clauses.append(f"source_id IN ({marks(len(flt.source_ids))})")
            params += list(flt.source_ids)
        if flt.start is not None:
            clauses.append(f"{SORT_KEY} >= ?")
            params.append(self._ts(utc(flt.start, "start")))
        if flt.end is not None:
            clauses.append(f"{SORT_KEY} < ?")
            params.append(self._ts(utc(flt.end, "end")))
        if flt.sections or flt.section_sources:
            alternatives = ["url LIKE ? ESCAPE '\\'"] * len(flt.sections)
            params += [section_pattern(s) for s in flt.sections]
            if flt.section_sources:
                alternatives.append(f"source_id IN ({marks(len(flt.section_sources))})")
                params += list(flt.section_sources)
            clauses.append("(" + " OR ".join(alternatives) + ")")
        if flt.q is not None and flt.q.strip():
            terms = search_terms(flt.q)
            if not terms:
                return None  # nothing searchable in it (punctuation only)
            clause, param = self._search_clause(terms, flt.collapses)
            clauses.append(clause)
            params.append(param)
        if flt.collapses:
            clauses.append("(cluster_id IS NULL OR cluster_id = id)")
        return clauses, params
