"""The feed server: an ASGI (Starlette) app serving feeds, OPML, the HTML page, health and metrics.

Public surface::

    create_app(config, store, *, base_url=None, cache_size=..., cache_bytes=...,
               version_check=0.0) -> Starlette
        app.state.cache    the RenderCache (clear() it to force re-rendering)
        app.state.metrics  the Metrics counters
        app.state.in_flight  renders in progress, each shared by every request that missed
        app.state.versions   the StoreVersion the feeds are served at (feeds.version)
        app.state.fastpath   the FastPath table the app fills (feeds.fastpath), for
                             uvicorn.Config(http=feeds.fastproto.fast_protocol(...))
    RenderCache, Rendered, health_report(config, health) -> (status code, JSON document)

Routes (GET and HEAD)::

    /feed.atom  /feed.rss  /feed.json                     the combined feed
    /sources/{source_id}/feed.atom|rss|json               one source (404 if unknown)
        ?source=ID[,ID]  (repeatable; combined feed only)  ?q=TEXT  ?limit=1..MAX_LIMIT
    /          the HTML page (same filters)     /opml     OPML 2.0 of every feed
    /healthz   JSON, 200 or 503                 /metrics  Prometheus text format

Caching: a document is rendered at most once per (path, normalized query, base
URL, store version), however many requests miss it at the same moment (they
share one render).  Feeds read the store version through ``StoreVersion``:
with ``version_check=0`` (the default) a feed request costs one
``store.version()`` call when nothing changed; with ``version_check=S`` (the
service uses ``DEFAULT_VERSION_CHECK``) at most one call every S seconds, and
changes made elsewhere show within S seconds.  The page reads the version and
run state (``source_health``) on every request, since ``version()`` does not
track run state.  Each feed answer is also offered to the fast path table,
which the service's protocol replays for identical requests.  Rendered documents keep their gzip form,
so hits do not compress again.  Each encoding has its own strong ETag (a hash of
the bytes sent); ``If-None-Match`` accepts either (the content is the same), and
takes precedence over ``If-Modified-Since`` as RFC 9110 requires.

Store calls are synchronous and run in the thread pool.  A ``StorageError``
becomes a 503 with a plain-text message.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import heapq
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import partial
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from scraper.config import Config
from scraper.errors import StorageError
from scraper.models import SourceHealth, StoredArticle
from scraper.text import clean_text
from storage import Store

from . import metrics as prom
from .fastpath import FastPath, key_of
from .metrics import Metrics, RequestCounter
from .opml import CONTENT_TYPE as OPML_CONTENT_TYPE
from .opml import render_opml
from .page import CONTENT_TYPE as PAGE_CONTENT_TYPE
from .page import SECURITY_HEADERS, PageView, render_page
from .render import CONTENT_TYPES, FEED_FILES, FORMATS, feed_meta, render
from .version import StoreVersion

__all__ = [
    "CACHE_CONTROL",
    "DEFAULT_CACHE_BYTES",
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_VERSION_CHECK",
    "MAX_LIMIT",
    "RenderCache",
    "Rendered",
    "create_app",
    "health_report",
]

log = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 256  # rendered documents kept (LRU)
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024  # and at most this many body bytes (both encodings)
DEFAULT_VERSION_CHECK = 0.5  # seconds a store version is served before it is read again
MAX_LIMIT = 500
MAX_QUERY_CHARS = 200
CACHE_CONTROL = "public, max-age=300"
NO_STORE = "no-store"
GZIP_MIN_BYTES = 512  # smaller documents are sent as they are
GZIP_LEVEL = 6
ETAG_HEX_CHARS = 32
SHOWN_VALUE_CHARS = 60  # how much of a bad parameter value an error message repeats
STORE_UNAVAILABLE = "The article store cannot be read right now; try again later.\n"
FILTER_TITLE_SEP = " — "

_ETAG = re.compile(r'(?:W/)?"([^"]*)"')
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}


# -- rendered documents and their cache ----------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A rendered document in both encodings, with its validators."""

    body: bytes
    content_type: str
    etag: str  # strong ETag of ``body``
    last_modified: datetime | None
    gzip_body: bytes | None  # None when the body is too small to be worth compressing
    gzip_etag: str | None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzip_body or b"")

    @classmethod
    def of(cls, body: bytes, content_type: str, last_modified: datetime | None) -> Rendered:
        packed = gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        return cls(
            body=body,
            content_type=content_type,
            etag=_strong_etag(body),
            last_modified=last_modified.replace(microsecond=0) if last_modified else None,
            gzip_body=packed,
            gzip_etag=_strong_etag(packed) if packed is not None else None,
        )


class RenderCache:
    """LRU of ``Rendered`` documents, each valid for one store-version stamp.

    Settings: ``maxsize`` documents (``DEFAULT_CACHE_SIZE``) and ``max_bytes``
    of bodies (``DEFAULT_CACHE_BYTES``); a document larger than ``max_bytes``
    is served but not kept.

    A key is (kind, path parameters, normalized query, base URL); the stamp
    (the store version, plus run state for the page) is stored with the
    document, so a new version replaces the old render instead of piling up
    beside it.  Thread-safe.
    """

    def __init__(
        self, maxsize: int = DEFAULT_CACHE_SIZE, max_bytes: int = DEFAULT_CACHE_BYTES
    ) -> None:
        if maxsize < 1 or max_bytes < 1:
            raise ValueError("cache size and byte budget must be at least 1")
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._docs: OrderedDict[Hashable, tuple[Hashable, Rendered]] = OrderedDict()
        self._bytes = 0
        self._seen: tuple[str, datetime] | None = None

    def get(self, key: Hashable, stamp: Hashable) -> Rendered | None:
        with self._lock:
            found = self._docs.get(key)
            if found is None or found[0] != stamp:
                return None
            self._docs.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, stamp: Hashable, doc: Rendered) -> None:
        with self._lock:
            old = self._docs.pop(key, None)
            if old is not None:
                self._bytes -= old[1].size
            if doc.size > self.max_bytes:
                return
            self._docs[key] = (stamp, doc)
            self._bytes += doc.size
            while len(self._docs) > self.maxsize or self._bytes > self.max_bytes:
                _, (_, evicted) = self._docs.popitem(last=False)
                self._bytes -= evicted.size

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()
            self._bytes = 0

    @property
    def bytes(self) -> int:
        """Body bytes held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._docs)

    def version_seen_at(self, version: str) -> datetime:
        """When this process first saw store ``version``: never earlier than the change itself.

        The Last-Modified of a document with no entries (which has no entry times).
        """
        with self._lock:
            if self._seen is None or self._seen[0] != version:
                self._seen = (version, datetime.now(UTC).replace(microsecond=0))
            return self._seen[1]


# -- query parameters -------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """The normalized filters of a feed or page request."""

    sources: tuple[str, ...]  # sorted, unique; () = every source
    q: str  # cleaned text; "" = no search
    limit: int
    default_limit: int

    @property
    def query(self) -> str:
        """The canonical query string (empty when nothing is filtered)."""
        pairs = []
        if self.sources:
            pairs.append(("source", ",".join(self.sources)))
        if self.q:
            pairs.append(("q", self.q))
        if self.limit != self.default_limit:
            pairs.append(("limit", str(self.limit)))
        return urlencode(pairs)


def parse_filter(request: Request, config: Config, *, allow_sources: bool) -> Filter:
    """The filters of ``request``; HTTPException(400) naming the bad parameter."""
    params = request.query_params
    default = min(config.feed.max_entries, MAX_LIMIT)
    sources: set[str] = set()
    raw_sources = params.getlist("source")
    if raw_sources and not allow_sources:
        _bad("the source filter applies to the combined feed only (/feed.atom?source=ID)")
    for value in raw_sources:
        for sid in value.split(","):
            sid = sid.strip()
            if not sid:
                continue
            if sid not in config.sources:
                known = ", ".join(config.sources) or "none"
                _bad(f"unknown source {_shown(sid)} in source= (known: {known})")
            sources.add(sid)
    q_values = params.getlist("q")
    if len(q_values) > 1:
        _bad("q= may be given only once")
    q = clean_text(q_values[0]) if q_values else ""
    if len(q) > MAX_QUERY_CHARS:
        _bad(f"q= is too long ({len(q)} characters; at most {MAX_QUERY_CHARS})")
    limit_values = params.getlist("limit")
    if len(limit_values) > 1:
        _bad("limit= may be given only once")
    limit = default
    if limit_values:
        text = limit_values[0].strip()
        if not re.fullmatch(r"\d{1,6}", text) or not 1 <= int(text) <= MAX_LIMIT:
            _bad(
                f"limit= must be a whole number from 1 to {MAX_LIMIT}, got {_shown(limit_values[0])}"
            )
        limit = int(text)
    return Filter(sources=tuple(sorted(sources)), q=q, limit=limit, default_limit=default)


def _bad(message: str) -> None:
    raise HTTPException(400, detail=message + "\n")


def _shown(value: str) -> str:
    return repr(value[:SHOWN_VALUE_CHARS] + ("…" if len(value) > SHOWN_VALUE_CHARS else ""))


# -- conditional requests and content coding ----------------------------------------


def _strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:ETAG_HEX_CHARS] + '"'


def _accepts_gzip(header: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip;q=0`` refuses it, ``*`` allows it)."""
    if not header:
        return False
    gzip_q: float | None = None
    star_q: float | None = None
    for part in header.split(","):
        token, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        token = token.lower()
        if token in ("gzip", "x-gzip"):
            gzip_q = q
        elif token == "*":
            star_q = q
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


def _matching_etag(header: str, candidates: Sequence[str]) -> str | None:
    """The candidate that ``If-None-Match`` names (weak comparison), if any."""
    if header.strip() == "*":
        return candidates[0]
    named = {f'"{tag}"' for tag in _ETAG.findall(header)}
    for etag in candidates:
        if etag in named:
            return etag
    return None


def _not_modified_since(header: str, last_modified: datetime | None) -> bool:
    if last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False  # not an HTTP-date: ignored, as RFC 9110 says
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified <= since


def conditional_response(
    request: Request, doc: Rendered, *, extra_headers: Mapping[str, str] | None = None
) -> Response:
    """200 with the encoding the client accepts, or 304 when its copy is current."""
    use_gzip = doc.gzip_body is not None and _accepts_gzip(request.headers.get("accept-encoding"))
    etag = doc.gzip_etag if use_gzip and doc.gzip_etag else doc.etag
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if doc.last_modified is not None:
        headers["Last-Modified"] = format_datetime(doc.last_modified, usegmt=True)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        variants = [etag] + [t for t in (doc.etag, doc.gzip_etag) if t and t != etag]
        matched = _matching_etag(if_none_match, variants)
        if matched is not None:
            return Response(status_code=304, headers={**headers, "ETag": matched})
    else:
        since = request.headers.get("if-modified-since")
        if since is not None and _not_modified_since(since, doc.last_modified):
            return Response(status_code=304, headers=headers)
    headers.update(_NOSNIFF)
    headers.update(extra_headers or {})
    headers["Content-Type"] = doc.content_type
    if use_gzip and doc.gzip_body is not None:
        headers["Content-Encoding"] = "gzip"
        return Response(doc.gzip_body, headers=headers)
    return Response(doc.body, headers=headers)


# -- health -------------------------------------------------------------------------


def health_report(config: Config, health: Sequence[SourceHealth]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON document) of ``/healthz``.

    Unhealthy (503) when every enabled source that has run failed its last run.
    A source that never ran, or a degraded one, does not make the service
    unhealthy; either (or a failing source) makes the status "degraded".
    """
    by_id = {h.source_id: h for h in health}
    sources: dict[str, Any] = {}
    ran: list[SourceHealth] = []
    warnings = False
    for source in config.sources.values():
        h = by_id.get(source.id) or _never_run(source.id)
        if not source.enabled:
            state = "disabled"
        elif h.last_run is None:
            state = "never_run"
        elif h.consecutive_failures:
            state = "failing"
        elif h.degraded:
            state = "degraded"
        else:
            state = "ok"
        if source.enabled and h.last_run is not None:
            ran.append(h)
            warnings = warnings or state != "ok"
        sources[source.id] = {
            "name": source.name,
            "enabled": source.enabled,
            "status": state,
            "last_run": _iso(h.last_run),
            "last_success": _iso(h.last_success),
            "consecutive_failures": h.consecutive_failures,
            "articles": h.articles,
            "articles_last_day": h.articles_last_day,
            "degraded": h.degraded,
            "last_error": h.last_error,
        }
    if ran and all(h.consecutive_failures for h in ran):
        status, code = "unhealthy", 503
    elif warnings:
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return code, {"status": status, "sources": sources}


def _never_run(source_id: str) -> SourceHealth:
    return SourceHealth(
        source_id=source_id,
        last_run=None,
        last_success=None,
        articles=0,
        errors=0,
        consecutive_failures=0,
        last_error=None,
        degraded=None,
    )


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    ) -> None:
        self.config = config
        self.store = store
        self.base_url = base_url.rstrip("/") if base_url else None
        self.cache = cache
        self.metrics = metrics
        self.versions = versions
        self.fast = fast
        self.routes: list[Route] = []  # set by create_app: the fast path's metrics labels
        self.renders: dict[tuple[Hashable, Hashable], asyncio.Task[Rendered]] = {}  # in flight

    def base(self, request: Request) -> str:
        return self.base_url or str(request.base_url).rstrip("/")

    async def cached(
        self, key: Hashable, stamp: Hashable, build: Callable[[], Rendered]
    ) -> Rendered:
        """The cached document, or one render shared by every request that missed it.

        When the store changes, every open connection misses at once; they all wait
        for the same render instead of each rendering the document again.
        """
        doc = self.cache.get(key, stamp)
        if doc is not None:
            self.metrics.count_cache_hit()
            return doc
        flight = (key, stamp)
        task = self.renders.get(flight)
        if task is None:
            task = asyncio.create_task(self._render(key, stamp, build))
            self.renders[flight] = task
            task.add_done_callback(partial(self._landed, flight))
        else:
            self.metrics.count_cache_hit()
        # shielded: a client that hangs up does not cancel the others' render
        return await asyncio.shield(task)

    async def _render(
        self, key: Hashable, stamp: Hashable, build: Callable[[], Rendered]
    ) -> Rendered:
        doc = await run_in_threadpool(build)
        self.metrics.count_render()
        self.cache.put(key, stamp, doc)
        return doc

    def _landed(self, flight: tuple[Hashable, Hashable], task: asyncio.Task[Rendered]) -> None:
        self.renders.pop(flight, None)
        if not task.cancelled():
            task.exception()  # retrieved here, in case every waiter has gone

    # -- feeds

    async def combined_feed(self, request: Request, fmt: str) -> Response:
        return await self.feed(request, fmt, None)

    async def source_feed(self, request: Request, fmt: str) -> Response:
        source_id = request.path_params["source_id"]
        if source_id not in self.config.sources:
            raise HTTPException(404, detail=f"No such source: {_shown(source_id)}\n")
        return await self.feed(request, fmt, source_id)

    async def feed(self, request: Request, fmt: str, source_id: str | None) -> Response:
        flt = parse_filter(request, self.config, allow_sources=source_id is None)
        base = self.base(request)
        version = await self.versions.get()
        key = ("feed", fmt, source_id, flt.query, base)
        doc = await self.cached(
            key, version, partial(self._render_feed, fmt, source_id, flt, base, version)
        )
        response = conditional_response(request, doc)
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
        flt = parse_filter(request, self.config, allow_sources=True)
        base = self.base(request)
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
                )
                for h in health
            ),
        )
        key = ("page", flt.query, base)
        doc = await self.cached(key, stamp, partial(self._render_page, flt, base, version, health))
        return conditional_response(request, doc, extra_headers=SECURITY_HEADERS)

    def _page_state(self) -> tuple[str, list[SourceHealth]]:
        return self.store.version(), self.store.source_health(list(self.config.sources))

    def _render_page(
        self, flt: Filter, base: str, version: str, health: Sequence[SourceHealth]
    ) -> Rendered:
        items = latest(self.store, flt.sources, flt.q, flt.limit)
        view = PageView(
            config=self.config,
            base_url=base,
            items=items,
            health=health,
            sources=flt.sources,
            q=flt.q,
            query=flt.query,
        )
        last_modified = self._last_modified(items, version, *(h.last_run for h in health))
        return Rendered.of(render_page(view), PAGE_CONTENT_TYPE, last_modified)

    # -- OPML, health, metrics

    async def opml(self, request: Request) -> Response:
        base = self.base(request)
        doc = await self.cached(
            ("opml", base),
            "config",
            lambda: Rendered.of(render_opml(self.config, base), OPML_CONTENT_TYPE, None),
        )
        return conditional_response(request, doc)

    async def healthz(self, request: Request) -> Response:
        try:
            health = await run_in_threadpool(self.store.source_health, list(self.config.sources))
        except StorageError as exc:
            log.error("healthz: cannot read the store: %s", exc)
            document: dict[str, Any] = {"status": "unhealthy", "error": "the store cannot be read"}
            code = 503
        else:
            code, document = health_report(self.config, health)
        document["checked_at"] = _iso(datetime.now(UTC))
        return JSONResponse(
            document, status_code=code, headers={"Cache-Control": NO_STORE, **_NOSNIFF}
        )

    async def metrics_text(self, request: Request) -> Response:
        try:
            health = await run_in_threadpool(self.store.source_health, list(self.config.sources))
            store_up = True
        except StorageError as exc:
            log.error("metrics: cannot read the store: %s", exc)
            health, store_up = [], False
        text = prom.exposition(self.metrics, health, store_up=store_up)
        return Response(
            text,
            headers={"Content-Type": prom.CONTENT_TYPE, "Cache-Control": NO_STORE, **_NOSNIFF},
        )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = {**(exc.headers or {}), **_NOSNIFF, "Cache-Control": NO_STORE}
    detail = exc.detail if exc.detail.endswith("\n") else exc.detail + "\n"
    return PlainTextResponse(detail, status_code=exc.status_code, headers=headers)


async def _storage_error(request: Request, exc: Exception) -> Response:
    log.error("cannot read the store for %s: %s", request.url.path, exc)
    headers = {**_NOSNIFF, "Cache-Control": NO_STORE, "Retry-After": "30"}
    return PlainTextResponse(STORE_UNAVAILABLE, status_code=503, headers=headers)


def create_app(
    config: Config,
    store: Store,
    *,
    base_url: str | None = None,
    cache_size: int = DEFAULT_CACHE_SIZE,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    version_check: float = 0.0,
) -> Starlette:
    """The feed server.  Self links use ``base_url``, else ``[server] base_url``, else the request.

    ``version_check``: seconds a store version is served before it is read again
    (0: on every feed request); see ``feeds.version`` for the staleness bound.
    """
    cache = RenderCache(cache_size, cache_bytes)
    metrics = Metrics()
    versions = StoreVersion(store.version, version_check)
    fast = FastPath(versions, metrics)
    versions.on_change = fast.clear  # answers of an older version are no use any more
    server = _Server(
        config, store, base_url or config.server.base_url, cache, metrics, versions, fast
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
    routes += [
        Route("/opml", server.opml, methods=methods, name="opml"),
        Route("/healthz", server.healthz, methods=methods, name="healthz"),
        Route("/metrics", server.metrics_text, methods=methods, name="metrics"),
    ]
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
    app.state.config = config
    return app
