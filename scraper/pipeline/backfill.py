"""The backfill walk: a source's listing pagination, back page by page, resumably.

Progress (start URL, page number, next URL) is saved after every page, so an interrupted
backfill goes on where it stopped.  The next listing page is fetched while the articles
of the current one are, and the next page's articles start once this page's fetches have
all started, so a host's slots never wait between two pages; a page's progress is still
saved only once all its articles are done.  Mixed into ``SourceRunner`` (its listing,
article and record steps are the ones a scheduled run uses); kept in its own module
because the walk and its resume state are a concept of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scraper.config import SourceConfig
from scraper.extract.listing import numbered_page_url
from scraper.models import Page
from scraper.pipeline.results import RunResult

if TYPE_CHECKING:
    from scraper.pipeline.extractpool import ExtractPool

__all__ = ["BackfillWalk"]


class BackfillWalk:
    """``backfill``, for a class that has the runner's steps (``SourceRunner``)."""

    if TYPE_CHECKING:  # what SourceRunner provides
        store: Any
        extraction: ExtractPool
        _backfills: int
        now: Callable[[], datetime]

        async def _fetch_listing(self, source: SourceConfig, url: str, result: RunResult, *,
                                 conditional: bool) -> Page | None: ...
        async def _read_listing(self, source: SourceConfig, page: Page, page_no: int,
                                result: RunResult) -> tuple[list[str], str | None]: ...
        async def _articles(self, source: SourceConfig, urls: list[str], result: RunResult, *, limit: int,
                            fetched: asyncio.Event | None = None) -> None: ...
        def _record(self, source: SourceConfig, result: RunResult, started: datetime) -> None: ...

    async def _page_done(self, source: SourceConfig, run: _PageRun, state: dict[str, object], result: RunResult,
                         on_page: Callable[[int, RunResult], None] | None) -> None:
        """Wait for a page's articles, then save the walk's progress past it."""
        await run.articles
        state.update(start=run.start_index, page_no=run.page_no, url=run.next_url)
        self.store.backfill_state_put(source.id, state)  # type: ignore[attr-defined]
        if on_page:
            on_page(run.page_no, result)

    async def _fetch_ahead(self, source: SourceConfig, url: str) -> tuple[Page | None, RunResult]:
        """A listing page fetched ahead, with its own counts (merged only if it is used)."""
        counts = RunResult(source.id)
        return await self._fetch_listing(source, url, counts, conditional=False), counts

    @staticmethod
    async def _take_ahead(task: asyncio.Task[tuple[Page | None, RunResult]], result: RunResult) -> Page | None:
        page, counts = await task
        result.listings_ok += counts.listings_ok
        result.listings_failed += counts.listings_failed
        for message in counts.messages:
            result.error(message)
        return page

    async def backfill(
        self,
        source: SourceConfig,
        *,
        pages: int | None = None,
        since: datetime | None = None,
        on_page: Callable[[int, RunResult], None] | None = None,
        restart: bool = False,
    ) -> RunResult:
        """Walk the listing pagination back (resumable: progress is saved after every page).

        The next listing page is fetched while the articles of the current one
        are, so the host's slots never wait for it; a walk that ``since`` stops
        has fetched one page ahead that it does not use.  Pages are extracted in one
        thread of this process, or, with ``[fetch] extract_workers`` > 0, in that many
        processes (``scraper.pipeline.extractpool``) shared by the backfills running at
        once; the article writes go to one store thread (see ``runner``).
        """
        self._backfills += 1
        try:
            async with self.extraction.using():
                return await self._backfill(source, pages=pages, since=since, on_page=on_page, restart=restart)
        finally:
            self._backfills -= 1

    async def _backfill(
        self,
        source: SourceConfig,
        *,
        pages: int | None,
        since: datetime | None,
        on_page: Callable[[int, RunResult], None] | None,
        restart: bool,
    ) -> RunResult:
        started = self.now()
        result = RunResult(source.id)
        state = None if restart else self.store.backfill_state_get(source.id)  # type: ignore[attr-defined]
        if state is None or state.get("pages") != pages or state.get("since") != (since.isoformat() if since else None):
            state = {"start": 0, "page_no": 0, "url": None, "pages": pages,
                     "since": since.isoformat() if since else None}
        for start_index in range(state["start"], len(source.start_urls)):
            start = source.start_urls[start_index]
            page_no = state["page_no"] if start_index == state["start"] else 0
            url: str | None = state["url"] if start_index == state["start"] and state["url"] else start
            ahead: asyncio.Task[tuple[Page | None, RunResult]] | None = None
            previous: _PageRun | None = None  # a page whose last articles are still being stored
            while url is not None and (pages is None or page_no < pages):
                if ahead is not None:
                    page = await self._take_ahead(ahead, result)
                else:
                    page = await self._fetch_listing(source, url, result, conditional=False)
                ahead = None
                if page is None:
                    break
                links, nxt = await self._read_listing(source, page, page_no, result)
                nxt = nxt or numbered_page_url(start, source, page_no + 1)
                if links and nxt is not None and (pages is None or page_no + 1 < pages):
                    # the next listing page is fetched while this one's articles are
                    ahead = asyncio.create_task(self._fetch_ahead(source, nxt))
                before = result.oldest_published
                if since is not None:
                    result.oldest_published = None
                fetched = asyncio.Event()
                articles = asyncio.create_task(self._articles(source, links, result, limit=len(links) or 1,
                                                              fetched=fetched))
                try:
                    if previous is not None:  # the page before, done now: its progress is saved first
                        await self._page_done(source, previous, state, result, on_page)
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
                        previous = _PageRun(articles, start_index, page_no, nxt)
                        url = nxt
                        continue
                    await self._page_done(source, _PageRun(articles, start_index, page_no, nxt), state, result, on_page)
                except BaseException:
                    for task in (articles, ahead, previous.articles if previous is not None else None):
                        if task is not None:
                            task.cancel()
                    raise
                page_oldest, result.oldest_published = result.oldest_published, min(
                    [d for d in (before, result.oldest_published) if d is not None], default=None)
                if not links or (since is not None and page_oldest is not None and page_oldest < since):
                    break
                url = nxt
            if previous is not None:
                try:
                    await self._page_done(source, previous, state, result, on_page)
                except BaseException:
                    if ahead is not None:
                        ahead.cancel()
                    raise
                previous = None
            if ahead is not None:  # --since stopped the walk: the page fetched ahead is not used
                await _discard(ahead)
            state.update(start=start_index + 1, page_no=0, url=None)
            self.store.backfill_state_put(source.id, state)  # type: ignore[attr-defined]
        self.store.backfill_state_clear(source.id)  # type: ignore[attr-defined]
        self._record(source, result, started)
        return result


@dataclass
class _PageRun:
    """A listing page's articles under way, and where the walk goes on once they are done."""

    articles: asyncio.Task[None]
    start_index: int  # of the start URL being walked
    page_no: int  # pages done, this one included
    next_url: str | None


async def _discard(task: asyncio.Task[tuple[Page | None, RunResult]]) -> None:
    """Cancel ``task`` and wait for it; whatever it ended with is dropped."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not report it
