"""Run one source: listing pages -> article URLs -> articles -> store.

Errors stay where they happen: a broken article is logged and counted, the
rest of the run goes on; a source whose listings all fail is recorded as a
failed run.  ``run_source`` never raises (except on cancellation), so a
scheduled job can not be killed by a bad page.

Listing validators (ETag, Last-Modified) are saved only after the run has dealt
with every article on the listing for good: an article that failed for a
reason that may pass (timeout, 5xx, an error page, a storage error, a crash
of the process) or that did not fit in ``max_articles_per_run`` keeps the next run's listing
request unconditional, so the article is tried again instead of hiding behind
a 304.

Sources with ``feed_urls`` are listed through their feeds (``feedrun.py``); the HTML
listing (``start_urls``) is then read only when a feed broke.  A date a feed gave stands
in for a page that shows none.

Redirects: a listing or article page that ends up on a host no configured
source lives on (``urls.on_hosts`` over every source's start URLs; subdomains
and http/https count as the same host) is an ``OffsiteRedirect``: logged,
counted as an error, never extracted or stored.

Store calls never run on the event loop (it also serves the feeds): reads go
through ``storage.offloop`` with its timeout, article writes to one writer
thread, so a database outage slows a run down (and fails it), never the server.

The backfill walk (``backfill``) is in ``backfill.py``; the revisits of stored articles
(``_revisits``, after a run's new articles) in ``revisit.py``; what a run did (``RunResult``)
in ``results.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

from scraper.config import Config, SourceConfig
from scraper.dedup.syndication import cluster_key
from scraper.errors import (
    ExtractError,
    FetchError,
    HTTPStatusError,
    OffsiteRedirect,
    QkfeedError,
    StorageError,
)
from scraper.extract.article import extract_article
from scraper.extract.listing import extract_links, read_listing
from scraper.logs import event, get_logger
from scraper.models import Article, Page
from scraper.normalize.article import normalize
from scraper.pipeline.backfill import BackfillWalk
from scraper.pipeline.extractpool import ExtractPool, Prepared, WorkerDied
from scraper.pipeline.feedrun import FeedListings
from scraper.pipeline.results import LISTING_END_STATUSES, RECORD_TIMEOUT, RunResult, may_pass
from scraper.pipeline.revisit import STORED_BY, RevisitWalk
from scraper.urls import canonical_url, on_hosts, scheme_twin, site_hosts
from storage.offloop import StoreTimeout, off_loop

log = get_logger("pipeline")

RECHECK_WINDOW = timedelta(hours=48)  # known articles this young are re-fetched (conditionally) for edits
DRIFT_THRESHOLD = 0.5  # a selector missing on at least this share of a run's articles marks drift
ARTICLE_CONCURRENCY = 4  # article fetches in flight per source (the fetcher still limits per host)
# articles of a source between fetch and store: with extraction workers, fetched pages wait for a
# worker without holding up the next fetches (and this bounds the pages held in memory)
ARTICLES_IN_FLIGHT = 2 * ARTICLE_CONCURRENCY
# One thread for the backfill's article writes: the store takes them one at a time anyway, and
# more threads (asyncio's default executor has up to cores + 4) only add malloc arenas, ~3 MB
# of resident memory each.
_STORE_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qkfeed-store-write")
# One thread for a backfill's extraction when there are no extraction workers: it holds the GIL
# as long as extracting in the event loop would (the CPU is the same), but the loop gets it
# back within the interpreter's switch interval (5 ms) or whenever the thread is in C code
# that lets go of it (lxml's parser, nh3, zlib), so a host slot freed meanwhile is refilled
# at once instead of after the whole page's extraction, and the GIL-free parts use a second core.
_EXTRACTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qkfeed-extract")


class PageFetcher(Protocol):
    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Page: ...


class SourceRunner(FeedListings, BackfillWalk, RevisitWalk):
    """Runs sources against one fetcher and one store."""

    def __init__(self, config: Config, store: object, fetcher: PageFetcher, *, now: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self.store = store  # storage.base.Store
        self.fetcher = fetcher
        self.now = now or (lambda: datetime.now(UTC))
        self.hosts = site_hosts(u for s in config.sources.values() for u in (*s.start_urls, *s.feed_urls))
        self.extraction = ExtractPool(config.fetch.extract_workers)  # used while a backfill runs
        self._backfills = 0  # backfills under way (their article writes go to _STORE_WRITER)

    def _check_host(self, url: str, page: Page) -> None:
        """OffsiteRedirect when redirects took ``url`` to a host no source is configured on."""
        if page.url != url and not on_hosts(page.url, self.hosts):
            raise OffsiteRedirect(url, f"redirected to {page.url}, a host no configured source lives on")

    # --- listing pages -------------------------------------------------------------------

    async def _fetch_listing(self, source: SourceConfig, url: str, result: RunResult, *, conditional: bool,
                             past_first: bool = False) -> Page | None:
        """The listing page at ``url``, or None (counted).  ``past_first``: a backfill's page after the
        first of its start URL, where a LISTING_END_STATUSES answer is the end of the pagination (None,
        not an error)."""
        etag = last_modified = None
        if conditional:
            etag, last_modified = await off_loop(self.store.http_cache_get, url)  # type: ignore[attr-defined]
        started = time.monotonic()
        try:
            page = await self.fetcher.get(url, etag=etag, last_modified=last_modified)
            self._check_host(url, page)
        except FetchError as exc:
            if past_first and isinstance(exc, HTTPStatusError) and exc.status in LISTING_END_STATUSES:
                event(log, "listing_end", source=source.id, url=url, status=exc.status)
                return None
            result.listings_failed += 1
            result.retry_listings = result.retry_listings or may_pass(exc)
            result.unsettled = result.unsettled or may_pass(exc)  # a backfill holds its progress here
            result.error(f"listing {url}: {exc.reason}")
            event(log, "fetch", logging.WARNING, source=source.id, kind="listing", url=url, error=exc.reason,
                  ms=int((time.monotonic() - started) * 1000))
            return None
        event(log, "fetch", source=source.id, kind="listing", url=url, status=page.status,
              ms=int((time.monotonic() - started) * 1000))
        if page.not_modified:
            result.listings_not_modified += 1
            return None
        result.listings_ok += 1
        return page

    def _links(self, source: SourceConfig, page: Page, result: RunResult, found: list[str] | None = None,
               *, past_first: bool = False) -> list[str]:
        """The article links of a listing page; none is layout drift, except on a backfill's page
        after the first (``past_first``): a pagination that goes past its end (an empty page)."""
        links = extract_links(page.text, page.url, source) if found is None else found
        if not links and past_first:
            event(log, "listing_end", source=source.id, url=page.url, links=0)
        elif not links:
            what = f"profile selector 'links' ({source.profile.links})" if source.profile.links else "the generic link rule"
            result.degraded = f"{what} found no article links on {page.url}"
            result.error(f"listing {page.url}: no article links found")
        return links

    async def _read_listing(self, source: SourceConfig, page: Page, page_no: int,
                            result: RunResult) -> tuple[list[str], str | None]:
        """A backfill's listing page: its article links and the next page's URL, read in an
        extraction worker when there is one (else, or should it die, right here)."""
        found = None
        if self.extraction.active:
            with contextlib.suppress(WorkerDied):
                found = await self.extraction.read_listing(page.text, page.url, source, page_no)
        if found is None:
            found = read_listing(page.text, page.url, source, page_no)  # one parse for both
        return self._links(source, page, result, found[0], past_first=page_no > 0), found[1]

    # --- articles ------------------------------------------------------------------------

    async def _select(self, urls: list[str], limit: int, result: RunResult) -> list[tuple[str, bool]]:
        """(url, is_known) to fetch: every new URL, then young known ones for edits, up to limit."""
        keys = {u: canonical_url(u) for u in urls}
        known, young = await off_loop(self._known_and_young, keys)
        fresh = [(u, False) for u in urls if keys[u] not in known]
        recheck = [(u, True) for u in urls if keys[u] in young]
        if len(fresh) > limit:
            result.retry_listings = True  # the rest next time
        return (fresh + recheck)[:limit]

    def _known_and_young(self, keys: dict[str, str]) -> tuple[set[str], set[str]]:
        """The stored ones of these canonical URLs, and those first seen within RECHECK_WINDOW
        (one trip to the store's thread for the whole listing)."""
        wanted = set(keys.values())
        # a key counts as known under either scheme (an archive from before keys kept the
        # scheme, a link written http:// to a page the site redirects to https://)
        found = self.store.known_urls(wanted | {scheme_twin(k) for k in wanted})  # type: ignore[attr-defined]
        stored_as = {k: k if k in found else scheme_twin(k) for k in wanted if k in found or scheme_twin(k) in found}
        horizon = self.now() - RECHECK_WINDOW
        young = set()
        for key, held in stored_as.items():
            stored = self.store.get_article(held)  # type: ignore[attr-defined]
            if stored is not None and stored.first_seen >= horizon:
                young.add(key)
        return set(stored_as), young

    async def _article(self, source: SourceConfig, url: str, known: bool, result: RunResult, drift: Counter[str],
                       fetching: _Fetches, feed_date: datetime | None = None) -> None:
        etag = last_modified = None
        if known:
            etag, last_modified = await off_loop(self.store.http_cache_get, url)  # type: ignore[attr-defined]
        started = time.monotonic()
        try:
            async with fetching:
                page = await self.fetcher.get(url, etag=etag, last_modified=last_modified)
            self._check_host(url, page)
            if page.not_modified:
                result.unchanged += 1
                event(log, "fetch", source=source.id, kind="article", url=url, status=304,
                      ms=int((time.monotonic() - started) * 1000))
                return
            prepared = await self._prepare(page, source)
            if prepared.article.published is None and feed_date is not None:
                # the page shows no date: the source's feed gave one (kept on re-extraction)
                prepared = replace(prepared, article=replace(prepared.article, published=feed_date))
                event(log, "date_from_feed", source=source.id, url=url, published=feed_date.isoformat())
            article = prepared.article
            if known:  # stored under the other scheme (before keys kept it): that row is updated
                twin = scheme_twin(article.url)
                held = await off_loop(self.store.known_urls, {article.url, twin})  # type: ignore[attr-defined]
                if article.url not in held and twin in held:
                    article = replace(article, url=twin)
            upsert = partial(self.store.upsert_article, article, raw_html=page.content or page.text.encode("utf-8"),  # type: ignore[attr-defined]
                             now=self.now(), cluster_key=prepared.key, stored_by=STORED_BY.get())
            # The write goes to a thread of its own: the event loop (which also serves the feeds)
            # never waits on the store, and SQLite and zlib let go of the GIL for most of it, so
            # a backfill's host slots are refilled meanwhile (both stores are thread-safe)
            outcome = await asyncio.get_running_loop().run_in_executor(_STORE_WRITER, upsert)
            if page.etag or page.last_modified:
                await off_loop(self.store.http_cache_put, url, page.etag, page.last_modified)  # type: ignore[attr-defined]
        except (FetchError, ExtractError) as exc:
            result.retry_listings = result.retry_listings or may_pass(exc)
            result.unsettled = result.unsettled or (isinstance(exc, FetchError) and may_pass(exc))
            result.error(f"article {url}: {exc}")
            event(log, "article_failed", logging.WARNING, source=source.id, url=url, error=str(exc))
            return
        except QkfeedError as exc:  # storage, a lost lease: nothing wrong with the page
            result.retry_listings = result.unsettled = True
            result.error(f"article {url}: {exc}")
            event(log, "article_failed", logging.ERROR, source=source.id, url=url, error=str(exc))
            return
        except Exception as exc:  # a bug or a page we never imagined: log it, keep the run going
            result.retry_listings = True
            result.error(f"article {url}: unexpected {type(exc).__name__}: {exc}")
            event(log, "article_failed", logging.ERROR, exc_info=True, source=source.id, url=url, error=repr(exc))
            return
        result.articles_seen += 1
        for fld, selector in prepared.failed_selectors.items():
            drift[f"{fld}\t{selector}"] += 1
        if article.published and (result.oldest_published is None or article.published < result.oldest_published):
            result.oldest_published = article.published
        setattr(result, outcome, getattr(result, outcome) + 1)
        event(log, "fetch", source=source.id, kind="article", url=url, status=page.status,
              ms=int((time.monotonic() - started) * 1000), result=outcome,
              new=int(outcome == "new"), updated=int(outcome == "updated"))

    async def _prepare(self, page: Page, source: SourceConfig) -> Prepared:
        """Extract, normalize and key a fetched page: during a backfill in the extraction
        workers, or without them in the extraction thread (``_EXTRACTOR``); else right here."""
        if self.extraction.active:
            return await self.extraction.prepare(page.text, page.url, source)
        if self._backfills:
            return await asyncio.get_running_loop().run_in_executor(_EXTRACTOR, _prepare_here, page.text, page.url, source)
        return _prepare_here(page.text, page.url, source)

    async def _writes_settled(self) -> None:
        """Wait for the backfill article writes already handed to the store thread (each is one
        transaction: an interrupted backfill ends once every one is committed or dropped whole)."""
        await asyncio.get_running_loop().run_in_executor(_STORE_WRITER, lambda: None)

    async def _articles(self, source: SourceConfig, urls: list[str], result: RunResult, *, limit: int,
                        fetched: asyncio.Event | None = None, feed_dates: dict[str, datetime] | None = None) -> None:
        """Fetch, extract and store the articles at ``urls``; ``fetched`` is set once every fetch has started;
        ``feed_dates``: the dates a feed gave, for pages without one."""
        drift: Counter[str] = Counter()
        todo = await self._select(urls, limit, result)
        fetching = _Fetches(ARTICLE_CONCURRENCY, len(todo), fetched or asyncio.Event())
        in_flight = asyncio.Semaphore(ARTICLES_IN_FLIGHT)

        async def one(url: str, known: bool) -> None:
            async with in_flight:
                await self._article(source, url, known, result, drift, fetching,
                                    (feed_dates or {}).get(url))

        await asyncio.gather(*(one(u, k) for u, k in todo))
        drifted = []
        for key, misses in drift.most_common():
            if result.articles_seen and misses / result.articles_seen >= DRIFT_THRESHOLD:
                fld, selector = key.split("\t", 1)
                drifted.append(f"profile selector '{fld}' ({selector}) matched nothing on {misses}/{result.articles_seen} articles")
                event(log, "layout_drift", logging.WARNING, source=source.id, field=fld, selector=selector,
                      misses=misses, articles=result.articles_seen)
        if drifted:
            result.degraded = "; ".join(drifted) + "; generic extractor used"

    # --- whole runs ----------------------------------------------------------------------

    def _record(self, source: SourceConfig, result: RunResult, started: datetime) -> None:
        message = None if result.ok and not result.messages else "; ".join(result.messages[:3])
        degraded = result.degraded
        try:
            if degraded is None and not result.articles_seen:
                # no article was extracted, so nothing shows the layout is fixed: the mark stays
                previous = self.store.source_health([source.id])  # type: ignore[attr-defined]
                degraded = previous[0].degraded if previous else None
            # a run that read the feeds says how they are now (never an earlier run's word); one
            # that read none (a backfill) leaves the last word as it is
            feed_problem = result.feed_problem
            if feed_problem is None and source.feed_urls:
                previous = self.store.source_health([source.id])  # type: ignore[attr-defined]
                feed_problem = previous[0].feed_problem if previous else None
            self.store.record_run(  # type: ignore[attr-defined]
                source.id, started=started, finished=self.now(), ok=result.ok, new=result.new,
                updated=result.updated, errors=result.errors, message=message, degraded=degraded,
                feed_problem=feed_problem or None,
            )
        except Exception:
            event(log, "record_run_failed", logging.ERROR, exc_info=True, source=source.id)

    async def run_source(self, source: SourceConfig) -> RunResult:
        """One pass now: the feeds, and every start URL unless every feed worked (each
        conditionally), then the new and young articles on them."""
        started = self.now()
        result = RunResult(source.id)
        try:
            urls: list[str] = []
            listings: list[tuple[str, Page]] = []
            feed_dates: dict[str, datetime] = {}
            html = True  # the HTML listing: without feeds, or when one of them broke
            if source.feed_urls:
                feeds = await self._feed_listing(source, result)
                urls, feed_dates, listings = feeds.urls, feeds.dates, feeds.pages
                result.feed_problem = feeds.problem_text(has_html=bool(source.start_urls)) or ""
                html = bool(feeds.problems)
            for start in source.start_urls if html else ():
                page = await self._fetch_listing(source, start, result, conditional=True)
                if page is not None:
                    listings.append((start, page))
                    urls.extend(u for u in self._links(source, page, result) if u not in urls)
            await self._articles(source, urls, result, limit=self.config.fetch.max_articles_per_run,
                                 feed_dates=feed_dates)
            if not result.retry_listings:  # every article on them dealt with: 304 next time is safe
                for start, page in listings:
                    if page.etag or page.last_modified:
                        await off_loop(self.store.http_cache_put, start, page.etag, page.last_modified)  # type: ignore[attr-defined]
            await self._revisits(source, result)  # after the new articles: they never wait on revisits
        except asyncio.CancelledError:
            raise
        except StorageError as exc:  # the store is down or slow: the run stops, the source backs off
            result.crashed = True
            result.error(f"storage: {exc}")
            event(log, "source_failed", logging.ERROR, source=source.id, error=str(exc)[:200])
        except Exception as exc:
            result.crashed = True
            result.error(f"unexpected {type(exc).__name__}: {exc}")
            event(log, "source_failed", logging.ERROR, exc_info=True, source=source.id)
        try:
            await off_loop(self._record, source, result, started, timeout=RECORD_TIMEOUT)
        except StoreTimeout as exc:
            event(log, "record_run_failed", logging.ERROR, source=source.id, error=str(exc))
        event(log, "source_done", logging.INFO if result.ok else logging.WARNING, source=source.id,
              ok=result.ok, new=result.new, updated=result.updated, unchanged=result.unchanged,
              errors=result.errors, degraded=result.degraded)
        return result


class _Fetches:
    """The article fetches of one listing page: at most ``limit`` at once; ``started`` is set
    when all ``total`` of them have started (the next page's may queue behind them for the
    host's slots, which then never idle between two pages)."""

    def __init__(self, limit: int, total: int, started: asyncio.Event) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._left = total
        self.started = started
        if total <= 0:
            started.set()

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        self._left -= 1
        if self._left <= 0:
            self.started.set()

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


def _prepare_here(html: str, url: str, source: SourceConfig) -> Prepared:
    """Extract, normalize and key a page in this process (the names this module imported, so
    a test may stand in for one of them)."""
    raw = extract_article(html, url, source)
    article = normalize(raw, source)
    return Prepared(article, cluster_key(article), raw.failed_selectors)


def article_from_file(html: str, url: str, source: SourceConfig) -> Article:
    """Extract and normalize one page (the ``extract`` command's core)."""
    return normalize(extract_article(html, url, source), source)
