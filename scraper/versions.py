"""What the store tells about an article's past (issue 12): its versions, its edits, its removal.

Plain values, so the CLI, the feeds and the page share them without knowing
the store.  Times are aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ArticleHistory", "Edit", "HistoryCounts", "RevisitOutcome", "Version"]

LIVE, REMOVED = "live", "removed"


@dataclass(frozen=True)
class Version:
    """One state of an article: seen from ``seen_from`` until ``seen_until`` (None: current)."""

    seen_from: datetime
    seen_until: datetime | None
    title: str
    published: datetime | None
    authors: tuple[str, ...]
    summary: str
    body_text: str
    body_html: str = ""


@dataclass(frozen=True)
class ArticleHistory:
    """An article's status and every version, oldest first, the current state last."""

    id: int
    url: str
    guid: str
    source_id: str
    link: str  # the URL as fetched, for readers
    status: str  # "live" or "removed"
    removed_at: datetime | None
    versions: tuple[Version, ...]

    @property
    def edits(self) -> int:
        return len(self.versions) - 1


@dataclass(frozen=True)
class Edit:
    """One change seen: the state before and the state after, at ``seen_at``."""

    article_id: int
    url: str
    guid: str
    source_id: str
    link: str
    seen_at: datetime
    before: Version
    after: Version


@dataclass(frozen=True)
class HistoryCounts:
    """Per source: revisits done, edits kept, articles removed."""

    revisits: int = 0
    edits: int = 0
    removed: int = 0


# What a revisit found (``record_revisit``'s answer).
RevisitOutcome = str  # "live", "restored", "pending", "removed"
