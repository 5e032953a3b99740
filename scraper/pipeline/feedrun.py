"""A source's own feeds as its listing (``feed_urls``), with the HTML listing as the fallback.

For each feed URL: a conditional GET through the one Fetcher (robots.txt, the address
guard, per-host spacing, retries: the rules every page follows), then
``extract.feedlisting.parse_feed``.  The items give the article URLs, in feed order, and
their dates (``FeedListing.dates``: the pipeline uses one only when the article page
itself has no date).

Session cookies: some sites answer a feed only within a session (qdnd.vn redirects a
client without its ``ASP.NET_SessionId`` back to the same feed URL, a 302 loop).  The
Fetcher keeps the cookies responses set (the httpx client's jar); when a feed ends in
a ``RedirectLoop``, the pages that may hand out the session (``session_pages``: the
source's ``feed_session_url``, else the feed's first path segment such as ``/rss``,
then the site's root) are visited one by one, each followed by one more try of the feed.

A feed that breaks (an HTTP error, a redirect loop the session pages do not end, an
offsite redirect, a body that is not a feed or lists no article) is logged
(``feed_failed``), counted as an error of the run, and named in
``FeedListing.problems``: the run then reads the HTML listing (``start_urls``) too,
and the source's health says so (``SourceHealth.feed_problem``).  Mixed into
``SourceRunner``, like the backfill walk.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scraper.config import SourceConfig
from scraper.errors import FetchError, RedirectLoop, StorageError
from scraper.extract.feedlisting import FeedUnusable, parse_feed
from scraper.logs import event, get_logger
from scraper.models import Page
from scraper.pipeline.results import RunResult
from scraper.urls import canonical_url, site_hosts
from storage.offloop import off_loop

if TYPE_CHECKING:
    from scraper.pipeline.runner import PageFetcher

__all__ = ["FeedListing", "FeedListings", "session_pages"]

log = get_logger("pipeline")


@dataclass
class FeedListing:
    """What a source's feeds gave in one run."""

    urls: list[str] = field(default_factory=list)  # article URLs, feed order, no duplicates
    dates: dict[str, datetime] = field(default_factory=dict)  # article URL -> the feed's date
    pages: list[tuple[str, Page]] = field(default_factory=list)  # feeds read anew (validators to save)
    problems: list[str] = field(default_factory=list)  # "URL: reason" of every feed that broke

    def problem_text(self, has_html: bool) -> str | None:
        """The health note of this run's broken feeds, or None when every feed worked."""
        if not self.problems:
            return None
        then = "HTML listing used" if has_html else "no HTML listing (start_urls) to fall back on"
        return "; ".join(self.problems) + f"; {then}"


def session_pages(source: SourceConfig, feed_url: str) -> list[str]:
    """Pages that may give the session cookie a feed wants, in the order they are tried."""
    parts = urlsplit(feed_url)
    root = f"{parts.scheme}://{parts.netloc}"
    pages = [source.feed_session_url] if source.feed_session_url else []
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) > 1:  # /rss/cate/x.rss -> /rss, the index of the site's feeds
        pages.append(f"{root}/{segments[0]}")
    pages.append(f"{root}/")
    return list(dict.fromkeys(p for p in pages if p != feed_url))


class FeedListings:
    """``_feed_listing``, for a class that has the runner's fetcher, store and host check.

    Feed items are kept only on the source's own hosts (its start and feed URLs'): a
    feed that links another source's article does not file it under this one."""

    if TYPE_CHECKING:  # what SourceRunner provides
        store: Any
        fetcher: PageFetcher

        def _check_host(self, url: str, page: Page) -> None: ...

    async def _feed_listing(self, source: SourceConfig, result: RunResult) -> FeedListing:
        """Read every feed of ``source``; a broken one is in ``problems``, never raised."""
        listing = FeedListing()
        seen: set[str] = set()  # canonical URLs: a story in several feeds is listed once
        own_hosts = site_hosts((*source.start_urls, *source.feed_urls))  # not another source's articles
        for feed_url in source.feed_urls:
            started = time.monotonic()
            try:
                page = await self._fetch_feed(source, feed_url)
                if page.not_modified:
                    result.listings_not_modified += 1
                    event(log, "fetch", source=source.id, kind="feed", url=feed_url, status=304,
                          ms=_ms(started))
                    continue
                items = parse_feed(page.content or page.text.encode("utf-8"), page.url, source, own_hosts,
                                   content_type=page.headers.get("content-type"))
            except (FetchError, FeedUnusable) as exc:
                self._feed_broke(source, feed_url, exc.reason if isinstance(exc, FetchError) else str(exc),
                                 listing, result, started)
                continue
            except StorageError:
                raise  # the store is down: the run stops there, as for any listing
            except Exception as exc:  # a bug or a body nobody imagined: the HTML listing still runs
                event(log, "feed_crashed", logging.ERROR, exc_info=True, source=source.id, url=feed_url)
                self._feed_broke(source, feed_url, f"unexpected {type(exc).__name__}: {exc}", listing, result, started)
                continue
            result.listings_ok += 1
            listing.pages.append((feed_url, page))
            for item in items:
                key = canonical_url(item.url)
                if key in seen:
                    continue
                seen.add(key)
                listing.urls.append(item.url)
                if item.published is not None:
                    listing.dates[item.url] = item.published
            event(log, "fetch", source=source.id, kind="feed", url=feed_url, status=page.status,
                  items=len(items), ms=_ms(started))
        return listing

    @staticmethod
    def _feed_broke(source: SourceConfig, feed_url: str, reason: str, listing: FeedListing, result: RunResult,
                    started: float) -> None:
        listing.problems.append(f"{feed_url}: {reason}")
        result.error(f"feed {feed_url}: {reason}")
        event(log, "feed_failed", logging.WARNING, source=source.id, url=feed_url, error=reason, ms=_ms(started))

    async def _fetch_feed(self, source: SourceConfig, feed_url: str) -> Page:
        """The feed, conditionally; on a redirect loop after each session page visited."""
        etag, last_modified = await off_loop(self.store.http_cache_get, feed_url)
        try:
            page = await self.fetcher.get(feed_url, etag=etag, last_modified=last_modified)
        except RedirectLoop as loop:
            page = await self._feed_in_session(source, feed_url, loop, etag, last_modified)
        self._check_host(feed_url, page)
        return page

    async def _feed_in_session(self, source: SourceConfig, feed_url: str, loop: RedirectLoop,
                               etag: str | None, last_modified: str | None) -> Page:
        """Visit each session page (its cookies stay in the Fetcher's jar), then ask for the
        feed again, as conditionally as the first time (a 304 is an answer in the session)."""
        for session_url in session_pages(source, feed_url):
            try:
                await self.fetcher.get(session_url)
            except FetchError as exc:
                event(log, "feed_session", logging.INFO, source=source.id, url=feed_url, via=session_url,
                      error=exc.reason)
                continue
            try:
                page = await self.fetcher.get(feed_url, etag=etag, last_modified=last_modified)
            except RedirectLoop:
                event(log, "feed_session", logging.INFO, source=source.id, url=feed_url, via=session_url,
                      error="still a redirect loop")
                continue
            event(log, "feed_session", source=source.id, url=feed_url, via=session_url, result="ok")
            return page
        raise RedirectLoop(feed_url, f"{loop.reason}, also after visiting {', '.join(session_pages(source, feed_url))}")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
