"""When a source runs next: the scheduler's backoff rule, shared with the page that shows it.

A source runs every ``interval`` seconds; after ``failures`` consecutive failed
runs the next try waits ``backoff_delay`` instead (one interval after the first
failure, doubling after each further one, capped at ``BACKOFF_CAP``).
``next_attempt`` applies the rule to what the store records (the last run's
start and the failure count), so a reader sees when a failing source is tried
again without asking the running scheduler; it is approximate by the
scheduler's jitter (``MAX_JITTER``) and the run's own duration.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["BACKOFF_CAP", "MAX_JITTER", "backoff_delay", "next_attempt"]

BACKOFF_CAP = timedelta(hours=6)
MAX_JITTER = 60.0  # seconds


def backoff_delay(interval: float, failures: int) -> timedelta:
    """Delay before the next try after ``failures`` consecutive failed runs (1 -> one interval)."""
    base = timedelta(seconds=interval)
    delay = base * (2 ** min(max(failures - 1, 0), 10))
    return min(delay, max(base, BACKOFF_CAP))


def next_attempt(last_run: datetime | None, interval: float, failures: int) -> datetime | None:
    """About when a source whose last run started at ``last_run`` runs again (None: never ran)."""
    if last_run is None:
        return None
    return last_run + max(backoff_delay(interval, failures), timedelta(seconds=interval))
