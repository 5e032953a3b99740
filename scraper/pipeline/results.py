"""What one pass over a source did (``RunResult``), and which article failures may pass.

Kept apart from the runner because the scheduler and the CLI read results too, and
because which errors are final is data (``FINAL_ERRORS``), not ``except`` clauses
scattered over the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from scraper.errors import (
    AddressBlocked,
    BlockedByRobots,
    HTTPStatusError,
    OffsiteRedirect,
    ResponseTooLarge,
)

__all__ = ["FINAL_ERRORS", "LISTING_END_STATUSES", "RECORD_TIMEOUT", "RunResult", "may_pass"]

MAX_MESSAGES = 20  # error messages a result keeps (the count goes on)
# a backfill's listing page after the first answering one of these is past the end of the
# pagination (sites answer 404 one page after the last): the walk's normal end, not an error
LISTING_END_STATUSES = frozenset({404, 410})
RECORD_TIMEOUT = 30.0  # seconds a run's record may take before the run stops waiting for it


@dataclass
class RunResult:
    """What one pass over a source did."""

    source_id: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    listings_ok: int = 0
    listings_failed: int = 0
    listings_not_modified: int = 0
    messages: list[str] = field(default_factory=list)
    degraded: str | None = None
    articles_seen: int = 0
    oldest_published: datetime | None = None
    crashed: bool = False  # an unexpected exception ended the run
    retry_listings: bool = False  # an article may succeed later: do not cache the listings
    # a fetch failed in a way a retry may fix (timeout, 5xx, 429, storage): a backfill holds its
    # progress before this page; unlike retry_listings, not set by a page that could not be
    # extracted, which a backfill logs and skips (else it would stop there on every run)
    unsettled: bool = False
    # backfill only: listing pages left for a later run (an article on them failed in a way that
    # may pass), whether a signal stopped the walk, and why a walk ended before its pagination did
    pages_unsettled: int = 0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    # the source's feeds that broke in this run, and what was read instead (pipeline.feedrun);
    # "" when every feed worked, None when the run read no feed (a backfill, a source without)
    feed_problem: str | None = None

    @property
    def ok(self) -> bool:
        """A run succeeds when at least one listing page could be read and nothing crashed it."""
        return not self.crashed and self.listings_ok + self.listings_not_modified > 0

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(message)

    def merge(self, part: RunResult) -> None:
        """Add the counts of ``part`` (one backfill page's articles) to this result."""
        for name in ("new", "updated", "unchanged", "errors", "listings_ok", "listings_failed",
                     "listings_not_modified", "articles_seen"):
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.messages.extend(part.messages[: max(0, MAX_MESSAGES - len(self.messages))])
        self.degraded = part.degraded or self.degraded
        self.crashed = self.crashed or part.crashed
        self.retry_listings = self.retry_listings or part.retry_listings
        self.unsettled = self.unsettled or part.unsettled
        dates = [d for d in (self.oldest_published, part.oldest_published) if d is not None]
        self.oldest_published = min(dates, default=None)


# Article failures that will not pass by trying again; anything else might, an
# ExtractError included (a captcha or error page served with 200 is often temporary).
FINAL_ERRORS: tuple[type[Exception], ...] = (
    BlockedByRobots,
    AddressBlocked,
    ResponseTooLarge,
    OffsiteRedirect,
)


def may_pass(exc: Exception) -> bool:
    """Whether an article that failed with ``exc`` could succeed on a later run."""
    if isinstance(exc, HTTPStatusError):
        return exc.status >= 500 or exc.status in (408, 429)
    return not isinstance(exc, FINAL_ERRORS)
