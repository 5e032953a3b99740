"""Per-host politeness: request spacing and concurrency, and robots.txt.

HostLimiter   settings ``per_host_concurrency`` (requests in flight to one host)
              and ``per_host_delay`` (seconds between two request starts to one
              host); ``defer()`` pushes a host's next slot back (Retry-After).
RobotsCache   settings ``user_agent`` and ``respect_robots`` (the latter read by
              the Fetcher).  Fetches ``/robots.txt`` once per origin every
              ROBOTS_TTL seconds through the caller's fetch function (so the
              address guard, deadline and limiter apply to it too) and parses
              it with protego, as RFC 9309 says (section 2.3.1, 2.4, 2.5):

              success   its rules; over ROBOTS_MAX_BYTES, the rules of its first
                        ROBOTS_MAX_BYTES (up to the last whole line)
              4xx       "unavailable": everything allowed (429 counts as 5xx)
              5xx, network error
                        "unreachable": the whole origin disallowed, tried again
                        after ROBOTS_ERROR_TTL, until a fetch succeeds; rules
                        fetched before keep applying instead while they are
                        younger than ROBOTS_STALE_TTL

              Every fetch logs one ``robots_txt`` event whose ``rule`` field
              names which of these applied.

Both use ``asyncio`` primitives and are meant to live as long as one Fetcher.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from protego import Protego

from scraper.config import FetchConfig
from scraper.errors import AddressBlocked, BlockedByRobots, FetchError, HTTPStatusError
from scraper.logs import event, get_logger
from scraper.models import Page

__all__ = [
    "HostLimiter",
    "ROBOTS_ERROR_TTL",
    "ROBOTS_MAX_BYTES",
    "ROBOTS_STALE_TTL",
    "ROBOTS_TTL",
    "RobotsCache",
    "RobotsRule",
    "RobotsUnreachable",
]

log = get_logger("fetch.robots")

ROBOTS_TTL = 4 * 3600.0  # seconds a fetched robots.txt is trusted
ROBOTS_ERROR_TTL = 600.0  # seconds before a failed robots.txt fetch is tried again
ROBOTS_STALE_TTL = 24 * 3600.0  # seconds fetched rules outlive failed refetches (RFC 9309 2.4)
ROBOTS_MAX_BYTES = 500 * 1024  # parsed of a larger robots.txt (RFC 9309 2.5: at least 500 KiB)

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


class RobotsUnreachable(FetchError):
    """robots.txt could not be fetched (5xx, 429, network error): the whole host is
    disallowed for now.  Not a BlockedByRobots: it passes once robots.txt can be fetched,
    so a caller should try the URL again later."""


class RobotsRule(StrEnum):
    """Which RFC 9309 rule decided an origin's robots.txt (the log's ``rule`` field)."""

    PARSED = "parsed"  # 2xx: its rules
    PARSED_PREFIX = "parsed_prefix"  # 2xx over ROBOTS_MAX_BYTES: the rules of its start
    UNAVAILABLE = "unavailable_allow_all"  # 4xx
    UNREACHABLE = "unreachable_disallow_all"  # 5xx, 429 or a network error
    STALE = "unreachable_cached_rules"  # as UNREACHABLE, but earlier rules still apply


@dataclass(frozen=True)
class _Robots:
    parser: Protego | None  # None: every path gets ``allow``
    allow: bool
    expires: float  # when to fetch again
    fetched: float | None  # when these rules were fetched (None: nothing fetched)
    rule: RobotsRule
    reason: str = ""  # why the origin is disallowed (UNREACHABLE)


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
        """Whether robots.txt of the URL's origin lets our user agent fetch it."""
        return await self.refusal(url) is None

    async def refusal(self, url: str) -> FetchError | None:
        """None when robots.txt lets our user agent fetch ``url``, else the error to raise:
        BlockedByRobots (its rules) or RobotsUnreachable (it could not be fetched).

        Raises AddressBlocked when the robots.txt itself is refused by the
        address guard (the page would be too).
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        entry = self._entries.get(origin)
        if entry is None or entry.expires <= self._clock():
            lock = self._locks.setdefault(origin, asyncio.Lock())
            async with lock:  # one fetch per origin, however many callers wait
                entry = self._entries.get(origin)
                if entry is None or entry.expires <= self._clock():
                    entry = await self._load(origin, entry)
                    self._entries[origin] = entry
        if entry.parser is not None:
            if entry.parser.can_fetch(url, self._user_agent):
                return None
            return BlockedByRobots(url, "disallowed by robots.txt")
        return None if entry.allow else RobotsUnreachable(url, entry.reason)

    async def _load(self, origin: str, previous: _Robots | None) -> _Robots:
        url = f"{origin}/robots.txt"
        now = self._clock()
        try:
            page = await self._fetch(url)
        except AddressBlocked:
            raise
        except HTTPStatusError as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                return self._log(origin, _Robots(None, True, now + ROBOTS_TTL, now,
                                                 RobotsRule.UNAVAILABLE), status=exc.status)
            return self._unreachable(origin, previous, now, exc, status=exc.status)
        except FetchError as exc:
            return self._unreachable(origin, previous, now, exc)
        text, rule = page.text, RobotsRule.PARSED
        if len(page.content) >= ROBOTS_MAX_BYTES:
            # cut at ROBOTS_MAX_BYTES by the Fetcher: a half line is not a rule
            text, rule = text[: text.rfind("\n") + 1], RobotsRule.PARSED_PREFIX
        entry = _Robots(Protego.parse(text), True, now + ROBOTS_TTL, now, rule)
        return self._log(origin, entry, status=page.status, size=len(page.content))

    def _unreachable(
        self, origin: str, previous: _Robots | None, now: float, exc: FetchError,
        status: int | None = None,
    ) -> _Robots:
        expires = now + ROBOTS_ERROR_TTL
        if (
            previous is not None
            and previous.fetched is not None
            and now - previous.fetched < ROBOTS_STALE_TTL
        ):
            entry = _Robots(previous.parser, previous.allow, expires, previous.fetched,
                            RobotsRule.STALE)
        else:
            reason = f"robots.txt unreachable, the host is disallowed until it can be fetched: {exc.reason}"
            entry = _Robots(None, False, expires, None, RobotsRule.UNREACHABLE, reason)
        return self._log(origin, entry, status=status, error=exc.reason)

    def _log(self, origin: str, entry: _Robots, **fields: object) -> _Robots:
        level = logging.INFO if entry.rule in (RobotsRule.PARSED, RobotsRule.UNAVAILABLE) else logging.WARNING
        event(log, "robots_txt", level, origin=origin, rule=str(entry.rule),
              retry_in=round(entry.expires - self._clock()), **fields)
        return entry
