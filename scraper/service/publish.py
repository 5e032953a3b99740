"""WebSub publisher: tell the hubs, in the background, which feeds a run changed.

Settings: ``[feed] websub_hubs`` and the service's base URL (``[server]
base_url``, else its bind address; never a request's ``Host``).  What the
feeds advertise and which feeds a run changes are ``feeds.websub``.

``NotifyingRunner`` wraps ``SourceRunner`` so the scheduler stays as it is:
``run_source`` returns the run's result unchanged, after handing its counts to
``WebSubPublisher.on_run``.  That only queues one notification per hub and
changed feed (the combined feed and the source's, each format) on a bounded
queue (``MAX_PENDING``; one already waiting is not queued twice, past the
bound one is dropped and logged); ``WORKERS`` background tasks send them as
``POST hub.mode=publish&hub.url=<feed URL>``.  A request has ``TIMEOUT``
seconds; connection errors, timeouts, 429 and 5xx are retried ``RETRIES``
times with ``BACKOFF`` doubling; any other answer is final.  So a hub that is
down or slow never holds up a run or the feeds.  Requests go through the
fetcher's address-guarded transport (``scraper.fetch.transport``): a hub on a
private or loopback address is refused unless ``[fetch]
allow_private_networks``.  One-off commands (``fetch``, ``backfill``,
``import``) use the same publisher through ``scraper.cli.announce``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx

from feeds.websub import changed_feeds
from scraper.config import Config, SourceConfig
from scraper.errors import AddressBlocked
from scraper.fetch.transport import GuardedTransport
from scraper.logs import event, get_logger

__all__ = ["NotifyingRunner", "WebSubPublisher"]

log = get_logger("websub")

WORKERS = 2  # notifications in flight at once
MAX_PENDING = 256  # notifications waiting at most (hubs x feeds of a few runs)
TIMEOUT = 10.0  # seconds per request (connect, each read)
RETRIES = 3  # further attempts after a failure that may pass
BACKOFF = 1.0  # seconds before the first retry, doubled after each
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class NotifyingRunner:
    """``runner`` whose every ``run_source`` ends with ``publisher.on_run(source, new, updated)``."""

    def __init__(self, runner: Any, publisher: Any) -> None:
        self.runner = runner
        self.publisher = publisher

    async def run_source(self, source: SourceConfig) -> Any:
        result = await self.runner.run_source(source)
        try:
            self.publisher.on_run(source.id, result.new, result.updated)
        except Exception as exc:  # notifications are a courtesy: the run stands
            event(log, "websub_failed", logging.ERROR, source=source.id, error=repr(exc)[:200])
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)


class WebSubPublisher:
    """Sends publish notifications in the background; see the module docstring.

    Use inside a running event loop: ``start()``, ``on_run(...)`` from the
    scheduler, ``await close()`` on shutdown.
    """

    def __init__(self, config: Config, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 backoff: float = BACKOFF, workers: int = WORKERS) -> None:
        self.hubs = tuple(config.feed.websub_hubs)
        self.base_url = base_url.rstrip("/")
        self.backoff = backoff
        self.workers = workers
        self._client = httpx.AsyncClient(
            transport=transport or GuardedTransport(config.fetch),
            timeout=TIMEOUT,
            headers={"User-Agent": config.fetch.user_agent},
            follow_redirects=False,
        )
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(MAX_PENDING)
        self._pending: set[tuple[str, str]] = set()
        self._inflight: set[tuple[str, str]] = set()  # taken by a worker, not yet sent or given up
        self._workers: list[asyncio.Task[None]] = []
        self.sent = 0  # notifications a hub accepted
        self.failed = 0  # notifications given up on
        self.dropped = 0  # notifications not queued (the queue was full)
        self.cut_off: list[tuple[str, str]] = []  # (hub, topic) that close() gave up waiting for

    def start(self) -> None:
        if self.hubs and not self._workers:
            self._workers = [asyncio.create_task(self._work()) for _ in range(self.workers)]

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
            self._inflight.add((hub, topic))
            try:
                await self._send(hub, topic)
            except Exception as exc:  # never let one notification end the worker
                self.failed += 1
                event(log, "websub_failed", logging.ERROR, hub=hub, topic=topic, error=repr(exc)[:200])
            finally:
                self._inflight.discard((hub, topic))
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

    def unsent(self) -> list[tuple[str, str]]:
        """``(hub, topic)`` still queued or being tried."""
        return sorted(self._pending | self._inflight)

    async def close(self, grace: float = 2.0) -> None:
        """Give queued notifications ``grace`` seconds, then stop the workers and the client.

        What the grace cut off is kept in ``cut_off`` (a one-off command logs it)."""
        if self._workers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drain(), grace)
        self.cut_off = self.unsent()
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        await self._client.aclose()
