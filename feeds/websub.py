"""WebSub publisher (W3C WebSub §7): tell the hubs when a run changed a feed.

Settings: ``[feed] websub_hubs`` (hub URLs; none: nothing here runs) and
``[server] base_url`` (the topic and self URLs; the service falls back to its
bind address, never a request's ``Host``).

- Every unfiltered feed advertises each hub and its own URL: ``rel="hub"`` /
  ``rel="self"`` as Atom links, RSS ``atom:link``s, JSON Feed ``hubs``, and an
  HTTP ``Link`` header (``hub_links``, ``link_header``).
- After a scheduled run that stored or changed articles (``on_run``), each hub
  gets one ``POST`` per changed feed — the combined feed and the source's, in
  each format — with ``hub.mode=publish`` and ``hub.url=<feed URL>``.

It never holds up fetching or serving: ``on_run`` only puts the notifications
on a bounded queue (``MAX_PENDING``; one already waiting is not queued twice,
and past the bound a notification is dropped and logged), and ``WORKERS``
background tasks send them.  A request has ``TIMEOUT`` seconds; connection
errors, timeouts, 429 and 5xx are retried ``RETRIES`` times with ``BACKOFF``
doubling; any other answer is final.  Requests go through the fetcher's
address-guarded transport (``scraper.fetch.transport``): a hub on a private
or loopback address is refused unless ``[fetch] allow_private_networks``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import httpx

from scraper.config import Config
from scraper.errors import AddressBlocked
from scraper.fetch.transport import GuardedTransport
from scraper.logs import event, get_logger

from .entries import FEED_FILES, FORMATS

__all__ = ["WebSubPublisher", "changed_feeds", "hub_links", "link_header"]

log = get_logger("websub")

WORKERS = 2  # notifications in flight at once
MAX_PENDING = 256  # notifications waiting at most (hubs x feeds of a few runs)
TIMEOUT = 10.0  # seconds per request (connect, each read)
RETRIES = 3  # further attempts after a failure that may pass
BACKOFF = 1.0  # seconds before the first retry, doubled after each
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def hub_links(hubs: Iterable[str], self_url: str) -> tuple[tuple[str, str], ...]:
    """The feed-level links a WebSub subscriber looks for: each hub, then self."""
    return tuple(("hub", hub) for hub in hubs) + (("self", self_url),)


def link_header(hubs: Iterable[str], self_url: str) -> str:
    """The HTTP ``Link`` header value with the same links (RFC 8288)."""
    return ", ".join(f'<{href}>; rel="{rel}"' for rel, href in hub_links(hubs, self_url))


def changed_feeds(base_url: str, source_id: str) -> list[str]:
    """The feed URLs a change to ``source_id``'s articles changes: the combined feed and its own."""
    base = base_url.rstrip("/")
    return [f"{base}/{FEED_FILES[fmt]}" for fmt in FORMATS] + [
        f"{base}/sources/{source_id}/{FEED_FILES[fmt]}" for fmt in FORMATS
    ]


class WebSubPublisher:
    """Sends publish notifications in the background; see the module docstring.

    Use inside a running event loop: ``start()``, ``on_run(...)`` from the
    scheduler, ``await close()`` on shutdown.
    """

    def __init__(self, config: Config, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 backoff: float = BACKOFF) -> None:
        self.hubs = tuple(config.feed.websub_hubs)
        self.base_url = base_url.rstrip("/")
        self.backoff = backoff
        self._client = httpx.AsyncClient(
            transport=transport or GuardedTransport(config.fetch),
            timeout=TIMEOUT,
            headers={"User-Agent": config.fetch.user_agent},
            follow_redirects=False,
        )
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(MAX_PENDING)
        self._pending: set[tuple[str, str]] = set()
        self._workers: list[asyncio.Task[None]] = []
        self.sent = 0  # notifications a hub accepted
        self.failed = 0  # notifications given up on
        self.dropped = 0  # notifications not queued (the queue was full)

    def start(self) -> None:
        if self.hubs and not self._workers:
            self._workers = [asyncio.create_task(self._work()) for _ in range(WORKERS)]

    def on_run(self, source_id: str, new: int, updated: int) -> None:
        """After a run: queue one notification per hub and changed feed (never waits)."""
        if not self.hubs or not (new or updated):
            return
        for topic in changed_feeds(self.base_url, source_id):
            for hub in self.hubs:
                self._enqueue(hub, topic)

    def _enqueue(self, hub: str, topic: str) -> None:
        if (hub, topic) in self._pending:
            return  # the one waiting already tells the hub the feed changed
        try:
            self._queue.put_nowait((hub, topic))
        except asyncio.QueueFull:
            self.dropped += 1
            event(log, "websub_dropped", logging.WARNING, hub=hub, topic=topic, pending=self._queue.qsize())
            return
        self._pending.add((hub, topic))

    async def _work(self) -> None:
        while True:
            hub, topic = await self._queue.get()
            self._pending.discard((hub, topic))
            try:
                await self._send(hub, topic)
            except Exception as exc:  # never let one notification end the worker
                self.failed += 1
                event(log, "websub_failed", logging.ERROR, hub=hub, topic=topic, error=repr(exc)[:200])
            finally:
                self._queue.task_done()

    async def _send(self, hub: str, topic: str) -> None:
        delay = self.backoff
        for attempt in range(RETRIES + 1):
            retry = False
            try:
                response = await self._client.post(hub, data={"hub.mode": "publish", "hub.url": topic})
                await response.aclose()
                if 200 <= response.status_code < 300:
                    self.sent += 1
                    event(log, "websub_published", hub=hub, topic=topic, status=response.status_code)
                    return
                retry = response.status_code in RETRY_STATUS
                error = f"HTTP {response.status_code}"
            except AddressBlocked as exc:
                error = str(exc)
            except (httpx.TransportError, OSError) as exc:
                retry, error = True, f"{type(exc).__name__}: {exc}"[:200]
            if not retry or attempt == RETRIES:
                self.failed += 1
                event(log, "websub_failed", logging.WARNING, hub=hub, topic=topic, error=error,
                      attempts=attempt + 1)
                return
            await asyncio.sleep(delay)
            delay *= 2

    async def drain(self) -> None:
        """Wait until every queued notification has been sent or given up (tests, shutdown)."""
        await self._queue.join()

    async def close(self, grace: float = 2.0) -> None:
        """Give queued notifications ``grace`` seconds, then stop the workers and the client."""
        if self._workers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drain(), grace)
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        await self._client.aclose()
