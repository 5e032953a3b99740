"""Per-host politeness: request spacing and concurrency, and robots.txt.

HostLimiter   settings ``per_host_concurrency`` (requests in flight to one host)
              and ``per_host_delay`` (seconds between two request starts to one
              host); ``defer()`` pushes a host's next slot back (Retry-After).
RobotsCache   settings ``user_agent`` and ``respect_robots`` (the latter read by
              the Fetcher).  Fetches ``/robots.txt`` once per origin every
              ROBOTS_TTL seconds through the caller's fetch function (so the
              address guard, size cap and limiter apply to it too) and parses
              it with protego.  A 4xx robots.txt allows everything; a 5xx or an
              unreachable one allows too, with a warning, and is tried again
              after ROBOTS_ERROR_TTL.

Both use ``asyncio`` primitives and are meant to live as long as one Fetcher.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from scraper.config import FetchConfig
from scraper.errors import AddressBlocked, FetchError, HTTPStatusError
from scraper.models import Page

__all__ = ["HostLimiter", "RobotsCache", "ROBOTS_TTL", "ROBOTS_ERROR_TTL"]

log = logging.getLogger(__name__)

ROBOTS_TTL = 4 * 3600.0  # seconds a fetched robots.txt is trusted
ROBOTS_ERROR_TTL = 600.0  # seconds before a failed robots.txt fetch is tried again

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class HostLimiter:
    """At most N requests in flight per host, and request starts spaced by a delay."""

    def __init__(
        self, cfg: FetchConfig, *, sleep: Sleep = asyncio.sleep, clock: Clock = time.monotonic
    ) -> None:
        self._concurrency = cfg.per_host_concurrency
        self._delay = cfg.per_host_delay
        self._sleep = sleep
        self._clock = clock
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = {}  # earliest start of the next request
        self._blocked_until: dict[str, float] = {}  # set by defer()
        self._defers: dict[str, int] = {}  # counts defer() calls, to notice one during a wait

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for a free slot for ``host`` and hold it for the body of the ``with``."""
        host = host.lower()
        sem = self._semaphores.get(host)
        if sem is None:
            sem = self._semaphores[host] = asyncio.Semaphore(self._concurrency)
        async with sem:
            while True:
                defers = self._defers.get(host, 0)
                now = self._clock()
                start = max(
                    now, self._next_start.get(host, now), self._blocked_until.get(host, now)
                )
                self._next_start[host] = start + self._delay  # reserve this start time
                if start > now:
                    await self._sleep(start - now)
                if self._defers.get(host, 0) == defers:
                    break  # no Retry-After arrived while we waited
            yield

    def defer(self, host: str, seconds: float) -> None:
        """Let no request to ``host`` start during the next ``seconds``."""
        host = host.lower()
        until = self._clock() + max(0.0, seconds)
        if until > self._blocked_until.get(host, 0.0):
            self._blocked_until[host] = until
            self._defers[host] = self._defers.get(host, 0) + 1


@dataclass(frozen=True)
class _Robots:
    parser: Protego | None  # None: everything allowed
    expires: float


class RobotsCache:
    """robots.txt rules per origin, fetched lazily through ``fetch``."""

    def __init__(
        self,
        cfg: FetchConfig,
        fetch: Callable[[str], Awaitable[Page]],
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._user_agent = cfg.user_agent
        self._fetch = fetch
        self._clock = clock
        self._entries: dict[str, _Robots] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def can_fetch(self, url: str) -> bool:
        """Whether robots.txt of the URL's origin lets our user agent fetch it.

        Raises AddressBlocked when the robots.txt itself is refused by the
        address guard (the page would be too); every other fetch error allows.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        entry = self._entries.get(origin)
        if entry is None or entry.expires <= self._clock():
            lock = self._locks.setdefault(origin, asyncio.Lock())
            async with lock:  # one fetch per origin, however many callers wait
                entry = self._entries.get(origin)
                if entry is None or entry.expires <= self._clock():
                    entry = await self._load(origin)
                    self._entries[origin] = entry
        return entry.parser is None or entry.parser.can_fetch(url, self._user_agent)

    async def _load(self, origin: str) -> _Robots:
        url = f"{origin}/robots.txt"
        try:
            page = await self._fetch(url)
        except AddressBlocked:
            raise
        except HTTPStatusError as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                return _Robots(None, self._clock() + ROBOTS_TTL)
            log.warning("robots.txt unavailable, allowing all: %s", exc)
            return _Robots(None, self._clock() + ROBOTS_ERROR_TTL)
        except FetchError as exc:
            log.warning("robots.txt unreachable, allowing all: %s", exc)
            return _Robots(None, self._clock() + ROBOTS_ERROR_TTL)
        return _Robots(Protego.parse(page.text), self._clock() + ROBOTS_TTL)
