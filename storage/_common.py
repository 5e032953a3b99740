"""What the SQL backends share: the Store methods whose SQL is the same on both.

``SQLStoreBase`` is assembled from one mixin per concept, each in its own
module, all written against the hooks of ``_sqlcore.SQLStoreCore`` (which a
backend supplies):

- ``_articles.ArticleQueries``: reading articles, the feed query, search,
  re-extraction, near-duplicate filing;
- ``_browse.BrowseQueries``: the page's filtered, cursor-paged lists and counts;
- ``_state.SourceStateQueries``: conditional-GET validators, runs, health,
  backfill state;
- ``_leases.LeaseQueries``: source leases;
- ``_export.ExportQueries``: the archive page by page (exports, monthly archive feeds).
- ``_history.HistoryQueries``: versions, revisits, removals (issue 12).
"""

from __future__ import annotations

from ._articles import ArticleQueries
from ._browse import BrowseQueries
from ._export import ExportQueries
from ._history import HistoryQueries
from ._leases import LeaseQueries
from ._sqlcore import ARTICLES_COUNTER, KEY_COLUMNS, SQLStoreCore
from ._state import SourceStateQueries

__all__ = ["ARTICLES_COUNTER", "KEY_COLUMNS", "SQLStoreBase"]


class SQLStoreBase(
    ArticleQueries, BrowseQueries, ExportQueries, SourceStateQueries, LeaseQueries, HistoryQueries,
    SQLStoreCore,
):
    """The Store methods common to the SQL backends; see the module docstring."""
