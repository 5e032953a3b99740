"""Which failures are retried, and how long to wait: the retry policy as data.

RETRY_STATUSES and RETRY_EXCEPTIONS say what is retried (everything else fails at once);
RETRY_AFTER_STATUSES whose Retry-After header is honoured (``parse_retry_after``).  The
Fetcher runs them with tenacity: exponential backoff with BACKOFF_JITTER, capped by the
``backoff_max`` setting, ``retries`` times.

UNREACHABLE_EXCEPTIONS (a name that does not resolve, a refused connection, no route, a
failed TLS handshake) are not transient the way a timeout or a 503 is: a host that is not
there now will not be there in 10 s either.  They are retried at most UNREACHABLE_RETRIES
times after UNREACHABLE_WAIT seconds (a dropped SYN, a resolver hiccup), and the scheduler's
per-source backoff does the rest; ``attempts_for`` says how many tries an error gets.
"""

from __future__ import annotations

import email.utils
import time

import httpx

__all__ = [
    "BACKOFF_JITTER",
    "RETRY_AFTER_STATUSES",
    "RETRY_EXCEPTIONS",
    "RETRY_STATUSES",
    "RetryableStatus",
    "UNREACHABLE_EXCEPTIONS",
    "UNREACHABLE_RETRIES",
    "UNREACHABLE_WAIT",
    "attempts_for",
    "is_retryable",
    "is_unreachable",
    "parse_retry_after",
]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
RETRY_AFTER_STATUSES = frozenset({429, 503})  # whose Retry-After header is honoured
RETRY_EXCEPTIONS: tuple[type[BaseException], ...] = (
    httpx.TimeoutException,  # connect / read / write / pool timeouts
    httpx.NetworkError,  # refused, reset, DNS failure
    httpx.RemoteProtocolError,  # broken chunked encoding, truncated body, bad status line
)
# A subset of RETRY_EXCEPTIONS: httpx.ConnectError is refused, DNS failure, no route, TLS
# handshake failure (a connect *timeout* is httpx.ConnectTimeout, not one of these)
UNREACHABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (httpx.ConnectError,)
UNREACHABLE_RETRIES = 1  # tries after the first, at most (fewer when ``retries`` is lower)
UNREACHABLE_WAIT = 0.5  # seconds before that one retry
BACKOFF_JITTER = 1.0  # seconds of random jitter added to 1, 2, 4 ... s (capped by backoff_max)


class RetryableStatus(Exception):
    """A response whose status is in RETRY_STATUSES; becomes HTTPStatusError when final."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, (RetryableStatus, *RETRY_EXCEPTIONS))


def is_unreachable(exc: BaseException | None) -> bool:
    """A failure to reach the host at all (see UNREACHABLE_EXCEPTIONS)."""
    return isinstance(exc, UNREACHABLE_EXCEPTIONS)


def attempts_for(exc: BaseException | None, retries: int) -> int:
    """How many attempts in all a request failing with ``exc`` gets, given the ``retries`` setting."""
    return 1 + (min(retries, UNREACHABLE_RETRIES) if is_unreachable(exc) else retries)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
