"""What ``storage.copy`` copies: each table's key, columns (with their kinds), order and clock.

The plan of a copy is data: a ``Table`` per copied table says how a row is
identified (``key``), which column decides which side is newer (``clock``),
and whether an older differing source row is a conflict or silently loses.
Column kinds say how a value is encoded per backend (``storage._copy_sides``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Source rows read per query.
BATCH = 200

# Column kinds: how a value is encoded per backend.
TEXT, INT, TS, JSON, BYTES, BOOL = "text", "int", "ts", "json", "bytes", "bool"


@dataclass(frozen=True)
class Table:
    """One copied table: how its rows are identified, read, compared and encoded."""

    name: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (name, kind), key columns included
    clock: str | None  # the column that says which side is newer; None: never rewritten
    newer_wins_silently: bool  # False: an older differing source row is a conflict
    order: str  # reading order of the source (an indexed, unique column)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


ARTICLES = Table(
    "articles",
    key=("url",),
    columns=(
        ("url", TEXT),
        ("guid", TEXT),
        ("source_id", TEXT),
        ("title", TEXT),
        ("published", TS),
        ("modified", TS),
        ("authors", JSON),
        ("agencies", JSON),
        ("categories", JSON),
        ("body_html", TEXT),
        ("body_text", TEXT),
        ("summary", TEXT),
        ("image_url", TEXT),
        ("fingerprint", TEXT),
        ("original_url", TEXT),
        ("search_text", TEXT),
        ("first_seen", TS),
        ("updated", TS),
        # history (migration 0004): removal state, revisit schedule, counts
        ("status", TEXT),
        ("removed_at", TS),
        ("pending_reason", TEXT),
        ("pending_since", TS),
        ("revisit_step", INT),
        ("stored_by", TEXT),
        ("revisits", INT),
        ("edits", INT),
        ("last_seen", TS),
        ("changed_at", TS),
        ("current_since", TS),
    ),
    # any write to the row moves changed_at (= updated for a content change), so a
    # revisit or a removal seen by the source is newer too
    clock="changed_at",
    newer_wins_silently=False,
    order="id",
)
PAGES = Table(
    "pages",
    key=("url",),
    columns=(("url", TEXT), ("fetched_at", TS), ("html", BYTES)),
    clock="fetched_at",
    newer_wins_silently=True,
    order="url",
)
# Earlier states of articles (migration 0004): history, never rewritten.
VERSIONS = Table(
    "article_versions",
    key=("url", "seen_from"),
    columns=(
        ("url", TEXT),
        ("seen_from", TS),
        ("seen_until", TS),
        ("last_seen", TS),
        ("title", TEXT),
        ("published", TS),
        ("authors", JSON),
        ("summary", TEXT),
        ("body_html", TEXT),
        ("body_text", TEXT),
        ("fingerprint", TEXT),
        ("html", BYTES),
    ),
    clock=None,
    newer_wins_silently=False,
    order="id",
)
RUNS = Table(
    "runs",
    key=("source_id", "started"),
    columns=(
        ("source_id", TEXT),
        ("started", TS),
        ("finished", TS),
        ("ok", BOOL),
        ("new_count", INT),
        ("updated_count", INT),
        ("error_count", INT),
        ("message", TEXT),
        ("degraded", TEXT),
        ("feed_problem", TEXT),
    ),
    clock=None,
    newer_wins_silently=False,
    order="id",
)
HTTP_CACHE = Table(
    "http_cache",
    key=("url",),
    columns=(("url", TEXT), ("etag", TEXT), ("last_modified", TEXT), ("stored_at", TS)),
    clock="stored_at",
    newer_wins_silently=True,
    order="url",
)
SOURCE_STATE = Table(
    "source_state",
    key=("source_id",),
    columns=(
        ("source_id", TEXT),
        ("last_run", TS),
        ("last_success", TS),
        ("last_errors", INT),
        ("consecutive_failures", INT),
        ("last_error", TEXT),
        ("degraded", TEXT),
        ("feed_problem", TEXT),
    ),
    clock="last_run",
    newer_wins_silently=True,
    order="source_id",
)
BACKFILL_STATE = Table(
    "backfill_state",
    key=("source_id",),
    columns=(("source_id", TEXT), ("state", JSON), ("updated_at", TS)),
    clock="updated_at",
    newer_wins_silently=True,
    order="source_id",
)
# Articles before pages and versions (they reference them).
TABLES = (ARTICLES, PAGES, VERSIONS, RUNS, HTTP_CACHE, SOURCE_STATE, BACKFILL_STATE)


def row_key(table: Table, row: Sequence[Any]) -> tuple[Any, ...]:
    """The values of ``row``'s key columns (``row`` in ``table.names`` order)."""
    index = {name: i for i, name in enumerate(table.names)}
    return tuple(row[index[k]] for k in table.key)
