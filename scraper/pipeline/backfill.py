"""The backfill walk: a source's listing pagination, back page by page, resumably.

Progress (start URL, page number, next URL, pages done) is saved after every *settled*
page: one whose articles all ended for good (stored, unchanged, or failed in a way that
will not pass, see ``results.may_pass``).  A page where an article failed in a way that
may pass (a timeout, a connection error, a 5xx, a 429), or a listing page that failed so,
holds the progress where it is:
the walk goes on, but nothing past that page is saved, so the next run of the same
command starts again there (and this run counts it: ``RunResult.pages_unsettled``).

The walk always ends: besides ``pages`` and ``since`` it stops at a listing URL it has
walked already (a next-link cycle), after ``max_pages`` pages per start URL (default
``MAX_PAGES``), and after ``STALE_PAGES`` pages in a row that bring no article link
not seen earlier in the walk (an endless pagination repeating itself).  Each such stop
is logged (``backfill_walk_stopped``) and noted in the result.

``stop`` (an event the CLI sets on SIGINT/SIGTERM) ends the walk at the next article
boundary: the articles under way are cancelled, the writes already handed to the store
thread are waited for (each is one transaction: committed whole or not at all), the run
is recorded and the result returned with ``interrupted``; the page under way is not
settled, so a resume fetches it again (its stored articles are then known).

The next listing page is fetched while the articles of the current one are, and the
next page's articles start once this page's fetches have all started, so a host's slots
never wait between two pages.  Mixed into ``SourceRunner`` (its listing, article and
record steps are the ones a scheduled run uses); kept in its own module because the
walk and its resume state are a concept of their own.  Store calls made here run off
the event loop (``storage.offloop``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scraper.config import SourceConfig
from scraper.extract.listing import numbered_page_url
from scraper.logs import event, get_logger
from scraper.models import Page
from scraper.pipeline.results import RECORD_TIMEOUT, RunResult
from scraper.pipeline.revisit import STORED_BY
from scraper.urls import url_identity
from storage.offloop import StoreTimeout, off_loop

if TYPE_CHECKING:
    from scraper.pipeline.extractpool import ExtractPool

__all__ = ["MAX_PAGES", "STALE_PAGES", "BackfillWalk"]

log = get_logger("pipeline")

MAX_PAGES = 1000  # listing pages per start URL at most (``--max-pages``)
STALE_PAGES = 3  # pages in a row without an article link new to the walk end it


class BackfillWalk:
    """``backfill``, for a class that has the runner's steps (``SourceRunner``)."""

    if TYPE_CHECKING:  # what SourceRunner provides
        store: Any
        extraction: ExtractPool
        _backfills: int
        now: Callable[[], datetime]

        async def _fetch_listing(self, source: SourceConfig, url: str, result: RunResult, *,
                                 conditional: bool, past_first: bool = False) -> Page | None: ...
        async def _read_listing(self, source: SourceConfig, page: Page, page_no: int,
                                result: RunResult) -> tuple[list[str], str | None]: ...
        async def _articles(self, source: SourceConfig, urls: list[str], result: RunResult, *, limit: int,
                            fetched: asyncio.Event | None = None) -> None: ...
        def _record(self, source: SourceConfig, result: RunResult, started: datetime) -> None: ...
        async def _writes_settled(self) -> None: ...

    async def pages_done(self, source: SourceConfig, *, pages: int | None, since: datetime | None) -> int:
        """Listing pages the saved progress of this backfill counts (0 without any): where a
        resumed progress bar starts."""
        state = await off_loop(self.store.backfill_state_get, source.id)
        return int(state.get("done", state.get("page_no", 0))) if _resumes(state, pages, since) else 0

    async def backfill(
        self,
        source: SourceConfig,
        *,
        pages: int | None = None,
        since: datetime | None = None,
        max_pages: int | None = None,
        on_page: Callable[[int, RunResult], None] | None = None,
        restart: bool = False,
        stop: asyncio.Event | None = None,
    ) -> RunResult:
        """Walk the listing pagination back (resumable: progress is saved after every settled page).

        ``max_pages`` (default ``MAX_PAGES``) bounds the pages per start URL; ``stop``, once
        set, ends the walk at the next article boundary (see the module docstring).  Pages
        are extracted in one thread of this process, or, with ``[fetch] extract_workers`` > 0,
        in that many processes (``scraper.pipeline.extractpool``) shared by the backfills
        running at once; the article writes go to one store thread (see ``runner``).
        """
        self._backfills += 1
        stored_by = STORED_BY.set("backfill")  # its articles: revisited only when recently published
        try:
            async with self.extraction.using():
                return await self._interruptible(source, pages=pages, since=since, max_pages=max_pages or MAX_PAGES,
                                                 on_page=on_page, restart=restart, stop=stop)
        finally:
            STORED_BY.reset(stored_by)
            self._backfills -= 1

    async def _interruptible(self, source: SourceConfig, *, pages: int | None, since: datetime | None,
                             max_pages: int, on_page: Callable[[int, RunResult], None] | None,
                             restart: bool, stop: asyncio.Event | None) -> RunResult:
        started = self.now()
        saved = None if restart else await off_loop(self.store.backfill_state_get, source.id)
        if not _resumes(saved, pages, since):
            saved = {"start": 0, "page_no": 0, "url": None, "done": 0, "pages": pages,
                     "since": since.isoformat() if since else None}
        walk = _Walk(RunResult(source.id), dict(saved or {}))
        task = asyncio.ensure_future(self._walk(source, walk, pages=pages, since=since, limit=min(pages or max_pages, max_pages),
                                                max_pages=max_pages, on_page=on_page))
        waiting: set[asyncio.Future[Any]] = {task}
        if stop is not None:
            waiting.add(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled from outside (a lost lease): the walk goes too
            task.cancel()
            raise
        finally:
            for other in waiting - {task}:
                other.cancel()
        if task.done():
            task.result()  # a walk that failed raises here, as before
        else:
            task.cancel()
            await asyncio.wait({task})
            await self._writes_settled()  # the writes handed over before the signal: each is whole
            walk.result.interrupted = True
            for counts in walk.open:  # the pages under way: what they stored counts
                walk.result.merge(counts)
            event(log, "backfill_interrupted", logging.WARNING, source=source.id,
                  pages_done=walk.state.get("done", 0), new=walk.result.new)
        try:
            await off_loop(self._record, source, walk.result, started, timeout=RECORD_TIMEOUT)
        except StoreTimeout as exc:
            event(log, "record_run_failed", logging.ERROR, source=source.id, error=str(exc))
        return walk.result

    async def _walk(self, source: SourceConfig, walk: _Walk, *, pages: int | None, since: datetime | None,
                    limit: int, max_pages: int, on_page: Callable[[int, RunResult], None] | None) -> None:
        state, result = walk.state, walk.result
        for start_index in range(state["start"], len(source.start_urls)):
            start = source.start_urls[start_index]
            resumed = start_index == state["start"]
            page_no = state["page_no"] if resumed else 0
            url: str | None = state["url"] if resumed and state["url"] else start
            ahead: asyncio.Task[tuple[Page | None, RunResult]] | None = None
            previous: _PageRun | None = None  # a page whose last articles are still being stored
            stale = 0  # pages in a row without an article link new to this walk
            failed_listing: str | None = None  # a listing page that may answer later: held there
            while url is not None and page_no < limit:
                walk.visited.add(_key(url))
                if ahead is not None:
                    page, listing = await ahead
                else:
                    listing = RunResult(source.id)
                    page = await self._fetch_listing(source, url, listing, conditional=False, past_first=page_no > 0)
                ahead = None
                result.merge(listing)
                if page is None:
                    failed_listing = url if listing.unsettled else None
                    break
                links, nxt = await self._read_listing(source, page, page_no, result)
                nxt = nxt or numbered_page_url(start, source, page_no + 1)
                fresh = [u for u in links if _key(u) not in walk.seen]
                walk.seen.update(_key(u) for u in fresh)
                stale = 0 if fresh else stale + 1
                nxt = self._next_or_stop(source, url, nxt, walk, stale=stale, pages_after=page_no + 1,
                                         limit=limit, max_pages=max_pages, pages=pages)
                if links and nxt is not None and page_no + 1 < limit:
                    # the next listing page is fetched while this one's articles are
                    ahead = asyncio.create_task(self._fetch_ahead(source, nxt))
                counts = RunResult(source.id)  # this page's articles, merged once they are done
                walk.open.append(counts)
                fetched = asyncio.Event()
                articles = asyncio.create_task(self._articles(source, fresh, counts, limit=len(fresh) or 1,
                                                              fetched=fetched))
                run = _PageRun(articles, counts, start_index, page_no + 1, nxt, page.url)
                try:
                    if previous is not None:  # the page before, done now: its progress is saved first
                        await self._page_done(source, previous, walk, on_page)
                        previous = None
                    page_no += 1
                    if since is None and links:
                        # the next page's articles start once this page's fetches have all
                        # started: its last ones are fetched, extracted and stored meanwhile
                        # (its progress is saved once they are done, before the next page's)
                        waiter = asyncio.ensure_future(fetched.wait())
                        try:
                            await asyncio.wait({articles, waiter}, return_when=asyncio.FIRST_COMPLETED)
                        finally:
                            waiter.cancel()
                        previous = run
                        url = nxt
                        continue
                    await self._page_done(source, run, walk, on_page)
                except BaseException:
                    for task in (articles, ahead, previous.articles if previous is not None else None):
                        if task is not None:
                            task.cancel()
                    raise
                page_oldest = counts.oldest_published
                if not links or (since is not None and page_oldest is not None and page_oldest < since):
                    break
                url = nxt
            if previous is not None:
                try:
                    await self._page_done(source, previous, walk, on_page)
                except BaseException:
                    for task in (ahead, previous.articles):
                        if task is not None:
                            task.cancel()
                    raise
                previous = None
            if failed_listing is not None:  # after the page before it was saved
                self._hold(source, walk, failed_listing, page_no)
            if ahead is not None:  # --since stopped the walk: the page fetched ahead is not used
                await _discard(ahead)
            if not walk.held:
                state.update(start=start_index + 1, page_no=0, url=None)
                await off_loop(self.store.backfill_state_put, source.id, dict(state))
        if not walk.held:
            await off_loop(self.store.backfill_state_clear, source.id)

    @staticmethod
    def _next_or_stop(source: SourceConfig, url: str, nxt: str | None, walk: _Walk, *, stale: int, pages_after: int,
                      limit: int, max_pages: int, pages: int | None) -> str | None:
        """``nxt``, or None (with a note and a log line) when the walk must end after this page."""
        note = None
        if stale >= STALE_PAGES:
            note = f"{stale} listing pages in a row brought no article not seen earlier in this walk (last: {url})"
        elif nxt is not None and _key(nxt) in walk.visited:
            note = f"the next page of {url} is {nxt}, walked already (a pagination cycle)"
        elif nxt is not None and pages_after >= limit and (pages is None or pages > max_pages):
            note = f"stopped at --max-pages {max_pages} (next page: {nxt})"
        if note is None:
            return nxt
        walk.result.notes.append(note)
        event(log, "backfill_walk_stopped", logging.WARNING, source=source.id, reason=note)
        return None

    async def _page_done(self, source: SourceConfig, run: _PageRun, walk: _Walk,
                         on_page: Callable[[int, RunResult], None] | None) -> None:
        """Wait for a page's articles, then save the walk's progress past it if it is settled."""
        await run.articles
        walk.open.remove(run.counts)
        walk.result.merge(run.counts)
        if run.counts.unsettled:  # a fetch may succeed later: this page is done again next time
            self._hold(source, walk, run.url, run.page_no - 1)
        elif not walk.held:
            walk.state.update(start=run.start_index, page_no=run.page_no, url=run.next_url,
                              done=int(walk.state.get("done", 0)) + 1)
            await off_loop(self.store.backfill_state_put, source.id, dict(walk.state))
        if on_page:
            on_page(run.page_no, walk.result)

    @staticmethod
    def _hold(source: SourceConfig, walk: _Walk, url: str, page_no: int) -> None:
        """Listing page ``url`` (``page_no`` counted from 0) is not settled: no progress past it is saved."""
        walk.result.pages_unsettled += 1
        if not walk.held:
            event(log, "backfill_progress_held", logging.WARNING, source=source.id, page=url, page_no=page_no)
        walk.held = True

    async def _fetch_ahead(self, source: SourceConfig, url: str) -> tuple[Page | None, RunResult]:
        """A listing page fetched ahead, with its own counts (merged only if it is used)."""
        counts = RunResult(source.id)
        return await self._fetch_listing(source, url, counts, conditional=False, past_first=True), counts


@dataclass
class _Walk:
    """One backfill under way: its totals, its saved progress, and what it has seen."""

    result: RunResult
    state: dict[str, Any]
    held: bool = False  # a page that is not settled holds the saved progress where it is
    open: list[RunResult] = field(default_factory=list)  # counts of the pages under way
    visited: set[str] = field(default_factory=set)  # listing URLs walked (canonical)
    seen: set[str] = field(default_factory=set)  # article URLs found on them (canonical)


@dataclass
class _PageRun:
    """A listing page's articles under way, and where the walk goes on once they are done."""

    articles: asyncio.Task[None]
    counts: RunResult  # of these articles only
    start_index: int  # of the start URL being walked
    page_no: int  # pages done, this one included
    next_url: str | None
    url: str  # the listing page itself


def _resumes(state: dict[str, Any] | None, pages: int | None, since: datetime | None) -> bool:
    """Whether saved progress belongs to a backfill with these arguments."""
    return (state is not None and state.get("pages") == pages
            and state.get("since") == (since.isoformat() if since else None))


def _key(url: str) -> str:
    """A URL's identity for the walk's visited sets."""
    try:
        return url_identity(url)
    except ValueError:  # unparsable: compared as it is
        return url


async def _discard(task: asyncio.Task[tuple[Page | None, RunResult]]) -> None:
    """Cancel ``task`` and wait for it; whatever it ended with is dropped."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not report it
