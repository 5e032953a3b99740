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

__all__ = ["FINAL_ERRORS", "RunResult", "may_pass"]


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

    @property
    def ok(self) -> bool:
        """A run succeeds when at least one listing page could be read and nothing crashed it."""
        return not self.crashed and self.listings_ok + self.listings_not_modified > 0

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.messages) < 20:
            self.messages.append(message)


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
