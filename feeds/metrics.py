"""Prometheus metrics of the feed server, in the text exposition format 0.0.4.

Public surface::

    Metrics          thread-safe process counters (HTTP requests, renders, cache hits)
    RequestCounter   ASGI middleware: counts requests by route template and status
    path_label(routes, scope) -> str   the ``path`` label of a request
    exposition(metrics, health, *, store_up) -> str
    CONTENT_TYPE

The format is small enough to write by hand (no prometheus_client dependency).
The ``path`` label is the matched route's template (``/sources/{source_id}/feed.atom``)
or ``UNMATCHED_PATH``, so label cardinality stays bounded whatever URLs clients try.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scraper.models import SourceHealth

__all__ = [
    "CONTENT_TYPE",
    "UNMATCHED_PATH",
    "Metrics",
    "RequestCounter",
    "exposition",
    "path_label",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED_PATH = "unmatched"  # the path label of requests no route matched
STATUS_BEFORE_RESPONSE = 500  # counted when the app raised before starting a response


@dataclass(frozen=True)
class _Family:
    name: str
    type: str
    help: str


ARTICLES = _Family("qkfeed_articles_total", "gauge", "Articles in the store, per source.")
LAST_SUCCESS = _Family(
    "qkfeed_source_last_success_timestamp_seconds",
    "gauge",
    "Start of the source's last successful run (Unix time); absent if it never succeeded.",
)
FAILURES = _Family(
    "qkfeed_source_consecutive_failures",
    "gauge",
    "Failed runs of the source since its last success.",
)
DEGRADED = _Family(
    "qkfeed_source_degraded", "gauge", "1 if the source's last run reported layout drift, else 0."
)
STORE_UP = _Family(
    "qkfeed_store_up", "gauge", "1 if the store could be read for this scrape, else 0."
)
HTTP_REQUESTS = _Family(
    "qkfeed_http_requests_total", "counter", "HTTP requests served, by route template and status."
)
RENDERS = _Family(
    "qkfeed_feed_renders_total",
    "counter",
    "Feeds, pages and OPML documents rendered (render cache misses).",
)
FAST_PATH = _Family(
    "qkfeed_http_fast_path_total",
    "counter",
    "Requests answered from prebuilt bytes below ASGI (also in the requests and cache hits).",
)
CACHE_HITS = _Family(
    "qkfeed_feed_cache_hits_total",
    "counter",
    "Requests for feeds, pages and OPML answered from the render cache.",
)


class Metrics:
    """Counters of this process; safe to bump from the event loop and worker threads.

    ``count_fast`` is the exception: the fast path (``feeds.fastpath``) calls it
    from the event loop's thread only, and it takes no lock, because it runs for
    every request the fast path answers.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, int]] = Counter()
        self._renders = 0
        self._cache_hits = 0
        self._fast: Counter[tuple[str, int]] = Counter()  # event loop thread only
        self._fast_hits = 0

    def count_fast(self, path_status: tuple[str, int]) -> None:
        """One request answered by the fast path: a request and a cache hit (loop thread only)."""
        self._fast[path_status] += 1
        self._fast_hits += 1

    def count_request(self, path: str, status: int) -> None:
        with self._lock:
            self._requests[(path, status)] += 1

    def count_render(self) -> None:
        with self._lock:
            self._renders += 1

    def count_cache_hit(self) -> None:
        with self._lock:
            self._cache_hits += 1

    @property
    def renders(self) -> int:
        return self._renders

    @property
    def fast_hits(self) -> int:
        return self._fast_hits

    @property
    def cache_hits(self) -> int:
        return self._cache_hits + self._fast_hits

    def requests(self) -> dict[tuple[str, int], int]:
        """A copy of the request counts by (path label, status)."""
        fast = dict(self._fast)  # one C-level copy: atomic under the GIL
        with self._lock:
            counts = Counter(self._requests)
        counts.update(fast)
        return dict(counts)


class RequestCounter:
    """ASGI middleware counting every HTTP request in ``metrics`` by route template and status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        label = self._path_label(scope)
        status = STATUS_BEFORE_RESPONSE

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            self.metrics.count_request(label, status)

    def _path_label(self, scope: Scope) -> str:
        return path_label(self.routes, scope)


def path_label(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The route template ``scope`` matches, or ``UNMATCHED_PATH``."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:  # PARTIAL: the path matched, the method did not
            return str(getattr(route, "path", UNMATCHED_PATH))
    return UNMATCHED_PATH


def exposition(metrics: Metrics, health: Iterable[SourceHealth], *, store_up: bool) -> str:
    """The whole scrape: per-source gauges from ``health`` plus the process counters."""
    health = list(health)
    out: list[str] = []

    def family(fam: _Family, samples: Iterable[tuple[dict[str, str], float | int]]) -> None:
        out.append(f"# HELP {fam.name} {fam.help}")
        out.append(f"# TYPE {fam.name} {fam.type}")
        for labels, value in samples:
            out.append(f"{fam.name}{_labels(labels)} {_number(value)}")

    family(ARTICLES, (({"source": h.source_id}, h.articles) for h in health))
    family(
        LAST_SUCCESS,
        (
            ({"source": h.source_id}, h.last_success.timestamp())
            for h in health
            if h.last_success is not None
        ),
    )
    family(FAILURES, (({"source": h.source_id}, h.consecutive_failures) for h in health))
    family(DEGRADED, (({"source": h.source_id}, 1 if h.warning else 0) for h in health))
    family(STORE_UP, [({}, 1 if store_up else 0)])
    requests = sorted(metrics.requests().items())
    family(
        HTTP_REQUESTS,
        (({"path": path, "status": str(status)}, n) for (path, status), n in requests),
    )
    family(RENDERS, [({}, metrics.renders)])
    family(CACHE_HITS, [({}, metrics.cache_hits)])
    family(FAST_PATH, [({}, metrics.fast_hits)])
    return "\n".join(out) + "\n"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value))
