"""The feed server: an ASGI app serving feeds, OPML, the HTML page, health and metrics.

Public surface::

    create_app(config, store, *, base_url=None, cache_size=..., cache_bytes=...,
               version_check=0.0, allowed_hosts=None) -> FeedFront
        app.state.cache    the RenderCache (clear() it to force re-rendering)
        app.state.metrics  the Metrics counters
        app.state.in_flight  renders in progress, each shared by every request that missed
        app.state.versions   the StoreVersion the feeds are served at (feeds.version)
        app.state.fastpath   the FastPath table the app fills and its front replays
    RenderCache, Rendered (feeds.cache), health_report (feeds.health)

Routes (GET and HEAD)::

    /feed.atom  /feed.rss  /feed.json                     the combined feed
    /sources/{source_id}/feed.atom|rss|json               one source (404 if unknown)
    /archive/YYYY-MM.atom|rss|json, /sources/{source_id}/archive/YYYY-MM.…  monthly archives
                                                          (RFC 5005, feeds.archive)
        ?source=ID[,ID]  (repeatable; combined feed only)  ?q=TEXT  ?limit=1..MAX_LIMIT
    /          the HTML page (same filters, and ?region= ?topic= ?from= ?to= ?before=:
               feeds.page_query)                /opml     OPML 2.0 of every feed
    /healthz   JSON, 200 or 503                 /metrics  Prometheus text format
    /edits.atom|rss|json  /removed.atom|rss|json  (also /sources/{source_id}/...)
    /articles/{id}  one article's text, versions and diffs  (feeds.history, feeds.articleview)

The app is ``feeds.fastpath.FeedFront`` (guards, then cached feed answers from
prebuilt ASGI messages) in front of Starlette (routing, the metrics
middleware, these endpoints).

Caching: a document is rendered at most once per (path, normalized query, base
URL, store version), however many requests miss it at the same moment (they
share one render).  Feeds read the store version through ``StoreVersion``:
with ``version_check=0`` (the default) a feed request costs one
``store.version()`` call when nothing changed; with ``version_check=S`` (the
service uses ``DEFAULT_VERSION_CHECK``) at most one call every S seconds, and
changes made elsewhere show within S seconds.  The page reads the version and
run state (``source_health``) on every request, since ``version()`` does not
track run state.  Each feed answer is also offered to the fast path table,
which the front replays for identical requests.  Conditional requests and gzip:
``feeds.conditional``.

Store calls are synchronous and run off the event loop.  A ``StorageError``
becomes a 503 with a plain-text message.  During an outage (``feeds.storeprobe``)
every feed already rendered is still served, at the last store version read
(with its usual headers); a document not rendered yet answers 503 at once;
``/healthz`` and ``/metrics`` say so (``feeds.status``).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from itertools import islice

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from scraper.config import Config
from scraper.errors import StorageError
from scraper.logs import event, get_logger
from scraper.models import SourceHealth, StoredArticle
from storage import Store
from storage.offloop import StoreTimeout

from . import metrics as prom
from .archive import ArchiveEndpoints, archive_routes, subscription_links
from .cache import DEFAULT_CACHE_BYTES, DEFAULT_CACHE_SIZE, RenderCache, Rendered, SharedRenders
from .conditional import CACHE_CONTROL, NO_STORE, NOSNIFF, conditional_response
from .fastpath import FastPath, FeedFront, key_of
from .filters import MAX_LIMIT, Filter, parse_filter, shown
from .guard import HostGuard
from .health import health_report
from .history import history_routes
from .metrics import Metrics, RequestCounter
from .opml import CONTENT_TYPE as OPML_CONTENT_TYPE
from .opml import render_opml
from .page import CONTENT_TYPE as PAGE_CONTENT_TYPE
from .page import SECURITY_HEADERS, render_page
from .page_data import page_view
from .page_query import PageQuery, parse_page_query
from .render import CONTENT_TYPES, FEED_FILES, FORMATS, feed_meta, render
from .status import StatusEndpoints, status_routes
from .storeprobe import StoreProbe
from .version import StoreVersion
from .websub import link_header

__all__ = [
    "CACHE_CONTROL",
    "DEFAULT_CACHE_BYTES",
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_VERSION_CHECK",
    "MAX_LIMIT",
    "RenderCache",
    "Rendered",
    "create_app",
    "health_report",
    "latest",
]

log = get_logger("app")

DEFAULT_VERSION_CHECK = 0.5  # seconds a store version is served before it is read again
DEFAULT_MAX_HEADER_BYTES = 64 * 1024  # [server] max_header_bytes' default
STORE_UNAVAILABLE = "The article store cannot be read right now; try again later.\n"
VERSION_WAIT = 1.0  # seconds a feed waits for the store version before serving the last one read
FILTER_TITLE_SEP = " — "


# -- reading the store -------------------------------------------------------------


def _newest_first(item: StoredArticle) -> tuple[datetime, int]:
    return (item.published_or_seen, item.id)


def latest(store: Store, sources: Sequence[str], q: str, limit: int) -> list[StoredArticle]:
    """Newest first, from every source (``()``: one entry per story, copies on other sites
    as its siblings) or from the given ones merged (every source's own entries)."""
    search = q or None
    if not sources:
        return store.latest(limit=limit, q=search, collapse_clusters=True)
    if len(sources) == 1:
        return store.latest(source_id=sources[0], limit=limit, q=search)
    lists = [store.latest(source_id=sid, limit=limit, q=search) for sid in sources]
    return list(islice(heapq.merge(*lists, key=_newest_first, reverse=True), limit))


# -- the application ------------------------------------------------------------------


class _Server:
    """The endpoints, sharing the config, the store, the cache and the counters."""

    def __init__(
        self,
        config: Config,
        store: Store,
        base_url: str | None,
        cache: RenderCache,
        metrics: Metrics,
        versions: StoreVersion,
        fast: FastPath,
        probe: StoreProbe,
    ) -> None:
        self.config = config
        self.store = store
        self.base_url = base_url.rstrip("/") if base_url else None
        self.cache = cache
        self.metrics = metrics
        self.versions = versions
        self.fast = fast
        self.probe = probe
        self.routes: list[Route] = []  # set by create_app: the fast path's metrics labels
        shared = SharedRenders(cache, metrics.count_cache_hit, metrics.count_render)
        # the cached document, or one render shared by every request that missed it
        self.cached = shared.get
        self.renders = shared.in_flight

    def base(self, request: Request) -> str:
        return self.base_url or str(request.base_url).rstrip("/")

    # -- feeds

    async def combined_feed(self, request: Request, fmt: str) -> Response:
        return await self.feed(request, fmt, None)

    async def source_feed(self, request: Request, fmt: str) -> Response:
        source_id = request.path_params["source_id"]
        if source_id not in self.config.sources:
            raise HTTPException(404, detail=f"No such source: {shown(source_id)}\n")
        return await self.feed(request, fmt, source_id)

    async def feed(self, request: Request, fmt: str, source_id: str | None) -> Response:
        flt = parse_filter(request, self.config, allow_sources=source_id is None)
        base = self.base(request)
        key = ("feed", fmt, source_id, flt.query, base)
        version = await self._version()
        if not self.probe.up and self.cache.get(key, version) is None:
            raise StoreTimeout(f"{request.url.path}: not rendered yet and the store is down")
        doc = await self.cached(
            key, version, partial(self._render_feed, fmt, source_id, flt, base, version)
        )
        response = conditional_response(request, doc)
        if self.config.feed.websub_hubs and not flt.query:  # WebSub discovery (feeds.websub)
            self_url = feed_meta(self.config, source_id=source_id, base_url=base, fmt=fmt).self_url
            response.headers["Link"] = link_header(self.config.feed.websub_hubs, self_url)
        if key_of(request.scope) is not None:  # the fast path's protocol asked for this answer
            self.fast.offer(
                request.scope,
                version,
                prom.path_label(self.routes, request.scope),
                response.status_code,
                response.raw_headers,
                response.body,
            )
        return response

    async def _version(self) -> str:
        """The store version, or the last one read while the store is down or slow to answer."""
        if self.probe.up:
            try:
                return await asyncio.wait_for(self.versions.get(), VERSION_WAIT)
            except (TimeoutError, StorageError) as exc:
                self.probe.mark_down(str(exc) or "the store version could not be read in time")
        else:
            self.probe.refresh()  # in the background: the feeds never wait for a health check
        if self.versions.value is None:
            raise StoreTimeout("the store version has never been read")
        return self.versions.value

    def _render_feed(
        self, fmt: str, source_id: str | None, flt: Filter, base: str, version: str
    ) -> Rendered:
        meta = feed_meta(self.config, source_id=source_id, base_url=base, fmt=fmt)
        if flt.query:
            meta = replace(
                meta,
                id=f"{meta.id}?{flt.query}",
                title=meta.title + FILTER_TITLE_SEP + self._filter_title(flt),
                self_url=f"{meta.self_url}?{flt.query}",
            )
        else:  # the unfiltered feed: RFC 5005 archive links (feeds.archive), WebSub hubs (feeds.websub)
            links = subscription_links(self.store, base, source_id, fmt, meta.self_url)
            hubs = tuple(("hub", hub) for hub in self.config.feed.websub_hubs)
            meta = replace(meta, links=links + hubs)
        sources = (source_id,) if source_id else flt.sources
        items = latest(self.store, sources, flt.q, flt.limit)
        body = render(fmt, meta, items, self.config.sources)
        return Rendered.of(body, CONTENT_TYPES[fmt], self._last_modified(items, version))

    def _filter_title(self, flt: Filter) -> str:
        bits = []
        if flt.sources:
            bits.append(", ".join(self.config.sources[s].name for s in flt.sources))
        if flt.q:
            bits.append(f"tìm “{flt.q}”")
        if flt.limit != flt.default_limit:
            bits.append(f"{flt.limit} tin")
        return "; ".join(bits)

    def _last_modified(
        self, items: Sequence[StoredArticle], version: str, *more: datetime | None
    ) -> datetime:
        times = [i.updated for i in items] + [t for t in more if t is not None]
        return max(times) if times else self.cache.version_seen_at(version)

    # -- the page

    async def page(self, request: Request) -> Response:
        flt = parse_page_query(
            request, self.config, parse_filter(request, self.config, allow_sources=True)
        )
        base = self.base(request)
        if not self.probe.up:
            self.probe.refresh()
            raise StoreTimeout("the page needs the store, which is down")
        version, health = await run_in_threadpool(self._page_state)
        # Run state is on the page but not in version(): it is part of the stamp.
        stamp = (
            version,
            tuple(
                (
                    h.source_id,
                    h.last_run,
                    h.last_success,
                    h.articles,
                    h.consecutive_failures,
                    h.degraded,
                    h.feed_problem,
                    h.last_error,
                )
                for h in health
            ),
        )
        key = ("page", flt.query(), base)
        doc = await self.cached(key, stamp, partial(self._render_page, flt, base, version, health))
        return conditional_response(request, doc, extra_headers=SECURITY_HEADERS)

    def _page_state(self) -> tuple[str, list[SourceHealth]]:
        return self.store.version(), self.store.source_health(list(self.config.sources))

    def _render_page(
        self, flt: PageQuery, base: str, version: str, health: Sequence[SourceHealth]
    ) -> Rendered:
        view = page_view(self.store, self.config, flt, base, health)
        last_modified = self._last_modified(view.items, version, *(h.last_run for h in health))
        return Rendered.of(render_page(view), PAGE_CONTENT_TYPE, last_modified)

    # -- OPML (health and metrics: feeds.status)

    async def opml(self, request: Request) -> Response:
        base = self.base(request)
        doc = await self.cached(
            ("opml", base),
            "config",
            lambda: Rendered.of(render_opml(self.config, base), OPML_CONTENT_TYPE, None),
        )
        return conditional_response(request, doc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = {**(exc.headers or {}), **NOSNIFF, "Cache-Control": NO_STORE}
    detail = exc.detail if exc.detail.endswith("\n") else exc.detail + "\n"
    return PlainTextResponse(detail, status_code=exc.status_code, headers=headers)


async def _storage_error(request: Request, exc: Exception) -> Response:
    event(log, "store_unreadable", logging.ERROR, path=request.url.path, error=str(exc))
    headers = {**NOSNIFF, "Cache-Control": NO_STORE, "Retry-After": "30"}
    return PlainTextResponse(STORE_UNAVAILABLE, status_code=503, headers=headers)


def create_app(
    config: Config,
    store: Store,
    *,
    base_url: str | None = None,
    cache_size: int = DEFAULT_CACHE_SIZE,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    version_check: float = 0.0,
    allowed_hosts: Collection[str] | None = None,
) -> FeedFront:
    """The feed server.  Self links use ``base_url``, else ``[server] base_url``, else the request.

    ``version_check``: seconds a store version is served before it is read again
    (0: on every feed request); see ``feeds.version`` for the staleness bound.
    ``allowed_hosts``: the ``Host`` names answered (``feeds.guard``; None: any, as
    for in-process test clients); the service passes ``[server] allowed_hosts`` or
    its default.  Heads over ``[server] max_header_bytes`` get 431.
    """
    cache = RenderCache(cache_size, cache_bytes)
    metrics = Metrics()
    versions = StoreVersion(store.version, version_check)
    probe = StoreProbe(store.check_health)
    fast = FastPath(versions, metrics)
    versions.on_change = fast.clear  # answers of an older version are no use any more
    server = _Server(
        config, store, base_url or config.server.base_url, cache, metrics, versions, fast, probe
    )
    methods = ["GET", "HEAD"]
    routes = [Route("/", server.page, methods=methods, name="page")]
    for fmt in FORMATS:
        routes.append(
            Route(
                f"/{FEED_FILES[fmt]}",
                partial(server.combined_feed, fmt=fmt),
                methods=methods,
                name=f"feed_{fmt}",
            )
        )
        routes.append(
            Route(
                f"/sources/{{source_id}}/{FEED_FILES[fmt]}",
                partial(server.source_feed, fmt=fmt),
                methods=methods,
                name=f"source_feed_{fmt}",
            )
        )
    routes += archive_routes(ArchiveEndpoints(server), methods)
    routes += [
        Route("/opml", server.opml, methods=methods, name="opml"),
    ]
    routes += status_routes(StatusEndpoints(server), methods)  # /healthz, /metrics (feeds.status)
    routes += history_routes(server)  # /edits.*, /removed.*, /articles/{id} (feeds.history)
    server.routes = routes
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestCounter, metrics=metrics, routes=routes)],
        exception_handlers={HTTPException: _http_error, StorageError: _storage_error},
    )
    app.state.cache = cache
    app.state.metrics = metrics
    app.state.in_flight = server.renders  # renders being shared right now
    app.state.versions = versions
    app.state.fastpath = fast
    app.state.probe = probe
    app.state.config = config
    hosts = HostGuard(allowed_hosts) if allowed_hosts is not None else None
    return FeedFront(app, fast, routes=routes, max_header_bytes=config.server.max_header_bytes,
                     hosts=hosts, state=app.state)
