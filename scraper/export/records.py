"""One stored article as a flat, JSON-ready dict: the JSONL line, the CSV row, the WARC metadata.

Every field the store keeps about the article's content is here, under the
names the issue and the feeds use (``updated`` is the last time qkfeed saw
the content change; ``modified`` is what the site itself said).  Instants are
ISO 8601 in UTC; lists stay lists (CSV joins them with ``"; "``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage._export import ArchivedArticle

__all__ = ["CSV_FIELDS", "FIELDS", "article_record", "csv_row"]

FIELDS = (
    "url", "guid", "source", "title", "published", "updated", "authors", "agencies",
    "summary", "body_text", "body_html", "image", "syndicated_with",
    "modified", "first_seen", "categories", "original_url",
)
CSV_FIELDS = tuple(f for f in FIELDS if f != "body_html")
LIST_SEPARATOR = "; "


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def article_record(item: ArchivedArticle) -> dict[str, Any]:
    """The article's fields in ``FIELDS`` order."""
    stored = item.stored
    a = stored.article
    return {
        "url": a.url,
        "guid": stored.guid,
        "source": a.source_id,
        "title": a.title,
        "published": _iso(a.published),
        "updated": _iso(stored.updated),
        "authors": list(a.authors),
        "agencies": list(a.agencies),
        "summary": a.summary,
        "body_text": a.body_text,
        "body_html": a.body_html,
        "image": a.image_url,
        "syndicated_with": list(item.syndicated_with),
        "modified": _iso(a.modified),
        "first_seen": _iso(stored.first_seen),
        "categories": list(a.categories),
        "original_url": a.original_url,
    }


def csv_row(record: dict[str, Any]) -> list[str]:
    """``record`` as CSV cells (``CSV_FIELDS``): lists joined, None empty."""
    cells = []
    for name in CSV_FIELDS:
        value = record[name]
        if isinstance(value, list):
            value = LIST_SEPARATOR.join(value)
        cells.append("" if value is None else str(value))
    return cells
