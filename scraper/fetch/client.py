"""The one HTTP client of qkfeed.

Settings (FetchConfig): ``user_agent``; ``timeout`` (connect, and each read);
``deadline`` (one request/response exchange, body included, so a slow drip
ends); ``max_bytes`` (decoded body cap, checked on Content-Length and while
inflating); ``retries`` and ``backoff_max``; ``per_host_concurrency`` and
``per_host_delay`` (politeness.HostLimiter); ``respect_robots``
(politeness.RobotsCache); ``allow_private_networks`` (the address guard).

One ``Fetcher.get`` call::

    for each hop (at most MAX_REDIRECTS redirects, no URL twice):
        literal-IP check -> robots.txt -> retried exchange:
            wait for a host slot -> connect (transport.GuardedTransport: an httpcore
            pool per origin whose network backend, guard.GuardedBackend, resolves,
            refuses non-public answers and connects to a checked IP) -> headers
            -> body (body.read_body: size cap, bounded inflating)
    -> Page

Errors (all ``scraper.errors.FetchError``)::

    FetchError          timeouts, connection errors, deadline, bad URL (after retries)
    ├── BlockedByRobots robots.txt disallows a hop
    ├── RobotsUnreachable robots.txt of a hop cannot be fetched (5xx, network):
    │                   the host is disallowed for now (politeness.RobotsUnreachable)
    ├── AddressBlocked  a hop resolves to a non-public address
    ├── ResponseTooLarge body over max_bytes (Content-Length or streamed)
    ├── HTTPStatusError a 4xx, or a retried status still failing after retries
    └── RedirectLoop    a redirect back to a URL of the chain, or more than MAX_REDIRECTS

What is retried is data: RETRY_STATUSES and RETRY_EXCEPTIONS (scraper.fetch.retry), a host
that cannot be reached (refused, no such name) only UNREACHABLE_RETRIES times, quickly.
Cookies: the httpx client keeps every cookie a response sets (its jar, scoped by domain)
and sends it on later requests for the Fetcher's lifetime, as a browser does; a site that
answers only within a session (qdnd.vn's feeds) gets its session cookie back.

The deadline is not retried (a server that drips will drip again).  robots.txt is
fetched by the same path, cut at ROBOTS_MAX_BYTES instead of refused over the cap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential_jitter,
)

from scraper.config import FetchConfig
from scraper.errors import (
    AddressBlocked,
    FetchError,
    HTTPStatusError,
    RedirectLoop,
)
from scraper.fetch.body import read_body
from scraper.fetch.charset import decode_html
from scraper.fetch.guard import Resolver, is_public_address, literal_ip, system_resolver
from scraper.fetch.politeness import ROBOTS_MAX_BYTES, HostLimiter, RobotsCache
from scraper.fetch.retry import (
    BACKOFF_JITTER,
    RETRY_AFTER_STATUSES,
    RETRY_EXCEPTIONS,
    RETRY_STATUSES,
    UNREACHABLE_WAIT,
    RetryableStatus,
    attempts_for,
    is_retryable,
    is_unreachable,
    parse_retry_after,
)
from scraper.fetch.transport import GuardedTransport
from scraper.logs import event, get_logger
from scraper.models import Page

__all__ = [
    "Fetcher",
    "GuardedTransport",
    "RETRY_EXCEPTIONS",
    "RETRY_STATUSES",
    "Resolver",
    "is_public_address",
    "parse_retry_after",
    "system_resolver",
]

log = get_logger("fetch")

MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "vi,en;q=0.5",
    "Accept-Encoding": "gzip, deflate",  # decoded here, with the size cap (see body.Inflater)
}

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class _Cap:
    """How much body one fetch may read: ``bytes``, then ResponseTooLarge (or a cut)."""

    bytes: int
    truncate: bool = False


@dataclass
class _Hop:
    """The outcome of one exchange: a page, or where a redirect points."""

    page: Page | None = None
    location: str | None = None


class Fetcher:
    """``async with Fetcher(cfg) as f: page = await f.get(url)``.

    ``transport`` replaces the network layer (tests use ``httpx.MockTransport``
    or a GuardedTransport over a test network backend); with a foreign transport only
    literal IPs in URLs are checked by the address guard.  ``resolver`` is used
    by the default transport's guard; ``sleep`` by backoff and host spacing.
    """

    def __init__(
        self,
        cfg: FetchConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._cfg = cfg
        self._sleep = sleep
        if transport is None:
            transport = GuardedTransport(cfg, resolver=resolver)
        self._client = httpx.AsyncClient(
            transport=transport,
            headers={"User-Agent": cfg.user_agent, **DEFAULT_HEADERS},
            timeout=httpx.Timeout(cfg.timeout),
            follow_redirects=False,
            trust_env=False,
        )
        self._limiter = HostLimiter(cfg, sleep=sleep)
        self._robots = RobotsCache(cfg, self._fetch_robots)
        self._backoff = wait_exponential_jitter(max=cfg.backoff_max, jitter=BACKOFF_JITTER)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        check_robots: bool = True,
    ) -> Page:
        """Fetch ``url``, following redirects; the final Page, decoded.

        With ``etag``/``last_modified`` the GET is conditional and a 304 gives
        ``Page(not_modified=True, text="")``.  Raises BlockedByRobots,
        AddressBlocked, ResponseTooLarge, HTTPStatusError (4xx, or a retried
        status after the retries) or FetchError (timeouts, connection and
        protocol errors after the retries, the deadline, bad or looping URLs).
        """
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self._follow(url, headers, check_robots, _Cap(self._cfg.max_bytes))

    async def _follow(
        self, url: str, headers: dict[str, str], check_robots: bool, cap: _Cap
    ) -> Page:
        """The redirect chain of one ``get``: robots.txt and the guard on every hop."""
        target = first = self._check_url(url)
        seen: set[httpx.URL] = set()  # filled on the first redirect (a URL copy: most pages have none)
        for _ in range(MAX_REDIRECTS + 1):
            hop_url = str(target)
            if check_robots and self._cfg.respect_robots:
                try:
                    refusal = await self._robots.refusal(hop_url)
                except AddressBlocked as exc:
                    raise AddressBlocked(hop_url, exc.reason) from None
                if refusal is not None:
                    raise refusal
            hop = await self._fetch_retrying(target, headers, cap)
            if hop.page is not None:
                if hop.page.not_modified:
                    return hop.page
                text, encoding = decode_html(hop.page.content, hop.page.headers.get("content-type"))
                return replace(hop.page, text=text, encoding=encoding)
            assert hop.location is not None
            try:
                target = self._check_url(str(target.join(hop.location)))
            except httpx.InvalidURL as exc:
                raise FetchError(hop_url, f"invalid redirect {hop.location!r}: {exc}") from None
            except FetchError as exc:
                raise type(exc)(exc.url, f"redirect from {hop_url}: {exc.reason}") from None
            if not seen:
                seen.add(first.copy_with(fragment=None))
            key = target.copy_with(fragment=None)
            if key in seen:
                raise RedirectLoop(url, f"redirect loop at {target}")
            seen.add(key)
        raise RedirectLoop(url, f"more than {MAX_REDIRECTS} redirects")

    def _check_url(self, url: str) -> httpx.URL:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"invalid URL: {exc}") from None
        if target.scheme not in ("http", "https"):
            raise FetchError(url, f"unsupported scheme {target.scheme!r}")
        if not target.host:
            raise FetchError(url, "no host in URL")
        if not self._cfg.allow_private_networks:
            ip = literal_ip(target.host)
            if ip is not None and not is_public_address(ip):
                raise AddressBlocked(url, f"{ip} is not a public address")
        return target

    async def _fetch_robots(self, url: str) -> Page:
        """robots.txt, cut at ROBOTS_MAX_BYTES rather than refused when it is larger
        (RFC 9309 2.5: parse at least the first 500 KiB)."""
        cap = _Cap(ROBOTS_MAX_BYTES, truncate=True)
        return await self._follow(url, {}, False, cap)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.retry_after is not None:
            return 0.0  # the host slot, pushed back by defer(), does the waiting
        if is_unreachable(exc):
            return UNREACHABLE_WAIT
        return float(self._backoff(state))

    def _stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return state.attempt_number >= attempts_for(exc, self._cfg.retries)

    async def _fetch_retrying(
        self, target: httpx.URL, headers: dict[str, str], cap: _Cap
    ) -> _Hop:
        url = str(target)
        retrying = AsyncRetrying(
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_log_retry(url),
        )
        try:
            return await retrying(self._exchange, target, headers, cap)
        except RetryableStatus as exc:
            raise HTTPStatusError(url, exc.status) from None
        except AddressBlocked as exc:
            raise AddressBlocked(url, exc.reason) from None
        except httpx.HTTPError as exc:
            raise FetchError(url, self._describe(exc)) from exc
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"invalid URL: {exc}") from exc

    def _describe(self, exc: httpx.HTTPError) -> str:
        reason = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            reason = f"timed out ({reason})"
        elif str(exc):
            reason = f"{reason}: {exc}"
        attempts = attempts_for(exc, self._cfg.retries)
        if is_retryable(exc) and attempts > 1:
            reason += f" after {attempts} attempts"
        return reason

    async def _exchange(self, target: httpx.URL, headers: dict[str, str], cap: _Cap) -> _Hop:
        url = str(target)
        async with self._limiter.slot(target.host):
            try:
                async with asyncio.timeout(self._cfg.deadline):
                    async with self._client.stream("GET", target, headers=headers) as resp:
                        return await self._read(url, resp, cap)
            except TimeoutError:
                raise FetchError(url, f"deadline of {self._cfg.deadline:g}s exceeded") from None

    async def _read(self, url: str, resp: httpx.Response, cap: _Cap) -> _Hop:
        status = resp.status_code
        headers = {k.lower(): v for k, v in resp.headers.items()}
        if status in REDIRECT_STATUSES and "location" in headers:
            return _Hop(location=headers["location"])
        if status == 304:
            return _Hop(Page(url=url, status=304, text="", headers=headers, not_modified=True))
        if status in RETRY_STATUSES:
            retry_after = None
            if status in RETRY_AFTER_STATUSES:
                retry_after = parse_retry_after(headers.get("retry-after"))
                if retry_after is not None:
                    retry_after = min(retry_after, self._cfg.backoff_max)
                    self._limiter.defer(resp.url.host, retry_after)
            raise RetryableStatus(status, retry_after)
        if status >= 300:
            raise HTTPStatusError(url, status)
        # decoded to text outside the host slot
        content = await read_body(url, resp, cap.bytes, truncate=cap.truncate)
        return _Hop(Page(url=url, status=status, text="", headers=headers, content=content))


def _log_retry(url: str) -> Callable[[RetryCallState], Any]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        event(log, "fetch_retry", attempt=state.attempt_number, url=url, wait_s=round(wait, 2),
              error=str(exc) or type(exc).__name__)

    return before_sleep
