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
            wait for a host slot -> connect (GuardedTransport, aiohttp underneath:
            resolve, refuse non-public answers, connect to a checked IP) -> headers -> body
    -> Page

Errors (all ``scraper.errors.FetchError``)::

    FetchError          timeouts, connection errors, deadline, bad URL,
                        redirect loop, too many redirects (after retries)
    ├── BlockedByRobots robots.txt disallows a hop
    ├── AddressBlocked  a hop resolves to a non-public address
    ├── ResponseTooLarge body over max_bytes (Content-Length or streamed)
    └── HTTPStatusError a 4xx, or a retried status still failing after retries

What is retried is data: RETRY_STATUSES and RETRY_EXCEPTIONS.  The deadline
is not retried (a server that drips will drip again).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from scraper.config import FetchConfig
from scraper.errors import (
    AddressBlocked,
    BlockedByRobots,
    FetchError,
    HTTPStatusError,
    ResponseTooLarge,
)
from scraper.fetch.charset import decode_html
from scraper.fetch.politeness import HostLimiter, RobotsCache
from scraper.fetch.transport import (
    GuardedTransport,
    Resolver,
    is_public_address,
    system_resolver,
)
from scraper.fetch.transport import literal_ip as _literal_ip
from scraper.models import Page

__all__ = [
    "Fetcher",
    "GuardedTransport",
    "RETRY_EXCEPTIONS",
    "RETRY_STATUSES",
    "Resolver",
    "is_public_address",
    "system_resolver",
]

log = logging.getLogger(__name__)

MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
RETRY_AFTER_STATUSES = frozenset({429, 503})  # whose Retry-After header is honoured
RETRY_EXCEPTIONS: tuple[type[BaseException], ...] = (
    httpx.TimeoutException,  # connect / read / write / pool timeouts
    httpx.NetworkError,  # refused, reset, DNS failure
    httpx.RemoteProtocolError,  # broken chunked encoding, truncated body, bad status line
)
BACKOFF_JITTER = 1.0  # seconds of random jitter added to 1, 2, 4 ... s (capped by backoff_max)
DEFAULT_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "vi,en;q=0.5",
    "Accept-Encoding": "gzip, deflate",  # decoded here, with the size cap (see _Inflater)
}

Sleep = Callable[[float], Awaitable[None]]


# --- body reading ---------------------------------------------------------------------

_DECODABLE: dict[str, Callable[[], Any]] = {
    "identity": lambda: None,
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "deflate": zlib.decompressobj,
}
_UNSUPPORTED = frozenset({"br", "zstd", "compress", "x-compress"})  # never asked for


class _Inflater:
    """Content-Encoding decoder that never produces more than ``limit`` + 1 bytes.

    httpx's own decoders inflate a whole network read at once: one 64 KiB read
    of a gzip bomb is 64 MiB.  Here every ``decompress`` call is bounded.
    """

    def __init__(self, url: str, content_encoding: str, limit: int) -> None:
        self._url = url
        self._limit = limit
        self._total = 0
        self._head = b""  # input seen before the first output (to retry deflate as raw)
        # like httpx: unknown tokens (e.g. a bogus "UTF-8") are ignored
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c in _DECODABLE or c in _UNSUPPORTED]
        if len(codings) > 1 or (codings and codings[0] in _UNSUPPORTED):
            raise FetchError(url, f"unsupported Content-Encoding {content_encoding!r}")
        self._encoding = codings[0] if codings else "identity"
        self._zlib = _DECODABLE[self._encoding]()

    def _count(self, data: bytes) -> bytes:
        self._total += len(data)
        if self._total > self._limit:
            raise ResponseTooLarge(self._url, f"body exceeds the cap of {self._limit} bytes")
        return data

    def feed(self, data: bytes) -> bytes:
        if self._zlib is None:
            return self._count(data)
        out = []
        try:
            # bytes after the end of the stream (a second gzip member, junk) are ignored,
            # as httpx does
            while data and not self._zlib.eof:
                try:
                    chunk = self._zlib.decompress(data, self._limit - self._total + 1)
                except zlib.error:
                    if self._encoding != "deflate" or self._head is None:
                        raise
                    # "deflate" sent without its zlib header: start again as raw deflate
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    data, self._head = self._head + data, None
                    continue
                if self._head is not None:
                    self._head = (
                        None
                        if chunk
                        else self._head + data[: len(data) - len(self._zlib.unconsumed_tail)]
                    )
                out.append(self._count(chunk))
                data = self._zlib.unconsumed_tail
        except zlib.error as exc:
            raise FetchError(self._url, f"corrupt {self._encoding} body: {exc}") from None
        return b"".join(out)

    def flush(self) -> bytes:
        if self._zlib is None:
            return b""
        return self._count(self._zlib.flush())


# --- the fetcher ----------------------------------------------------------------------


class _RetryableStatus(Exception):
    """A response whose status is in RETRY_STATUSES; becomes HTTPStatusError when final."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, (_RetryableStatus, *RETRY_EXCEPTIONS))


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


@dataclass
class _Hop:
    """The outcome of one exchange: a page, or where a redirect points."""

    page: Page | None = None
    location: str | None = None


class Fetcher:
    """``async with Fetcher(cfg) as f: page = await f.get(url)``.

    ``transport`` replaces the network layer (tests use ``httpx.MockTransport``
    or a GuardedTransport over a test connector); with a foreign transport only
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
        target = first = self._check_url(url)
        seen: set[httpx.URL] = set()  # filled on the first redirect (a URL copy: most pages have none)
        for _ in range(MAX_REDIRECTS + 1):
            hop_url = str(target)
            if check_robots and self._cfg.respect_robots:
                try:
                    allowed = await self._robots.can_fetch(hop_url)
                except AddressBlocked as exc:
                    raise AddressBlocked(hop_url, exc.reason) from None
                if not allowed:
                    raise BlockedByRobots(hop_url, "disallowed by robots.txt")
            hop = await self._fetch_retrying(target, headers)
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
                raise FetchError(url, f"redirect loop at {target}")
            seen.add(key)
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")

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
            ip = _literal_ip(target.host)
            if ip is not None and not is_public_address(ip):
                raise AddressBlocked(url, f"{ip} is not a public address")
        return target

    async def _fetch_robots(self, url: str) -> Page:
        return await self.get(url, check_robots=False)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableStatus) and exc.retry_after is not None:
            return 0.0  # the host slot, pushed back by defer(), does the waiting
        return float(self._backoff(state))

    async def _fetch_retrying(self, target: httpx.URL, headers: dict[str, str]) -> _Hop:
        url = str(target)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._cfg.retries + 1),
            wait=self._wait,
            retry=retry_if_exception(_is_retryable),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_log_retry(url),
        )
        try:
            return await retrying(self._exchange, target, headers)
        except _RetryableStatus as exc:
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
        if _is_retryable(exc) and self._cfg.retries:
            reason += f" after {self._cfg.retries + 1} attempts"
        return reason

    async def _exchange(self, target: httpx.URL, headers: dict[str, str]) -> _Hop:
        url = str(target)
        async with self._limiter.slot(target.host):
            try:
                async with asyncio.timeout(self._cfg.deadline):
                    async with self._client.stream("GET", target, headers=headers) as resp:
                        return await self._read(url, resp)
            except TimeoutError:
                raise FetchError(url, f"deadline of {self._cfg.deadline:g}s exceeded") from None

    async def _read(self, url: str, resp: httpx.Response) -> _Hop:
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
            raise _RetryableStatus(status, retry_after)
        if status >= 300:
            raise HTTPStatusError(url, status)
        content = await self._read_body(url, resp)  # decoded to text outside the host slot
        return _Hop(Page(url=url, status=status, text="", headers=headers, content=content))

    async def _read_body(self, url: str, resp: httpx.Response) -> bytes:
        cap = self._cfg.max_bytes
        length = resp.headers.get("content-length", "")
        if length.strip().isdigit() and int(length) > cap:
            raise ResponseTooLarge(
                url, f"Content-Length {int(length)} exceeds the cap of {cap} bytes"
            )
        if resp.is_stream_consumed:  # a transport that hands over read responses (MockTransport)
            if len(resp.content) > cap:
                raise ResponseTooLarge(url, f"body exceeds the cap of {cap} bytes")
            return resp.content
        inflater = _Inflater(url, resp.headers.get("content-encoding", ""), cap)
        parts = []
        async for raw in resp.aiter_raw():
            parts.append(inflater.feed(raw))
        parts.append(inflater.flush())
        return b"".join(parts)


def _log_retry(url: str) -> Callable[[RetryCallState], Any]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info("retry %d for %s in %.2fs after %s", state.attempt_number, url, wait, exc)

    return before_sleep
