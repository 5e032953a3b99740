"""Revisits (issue 12): stored articles fetched again on a decaying schedule, for edits and removals.

``[fetch] revisit`` (a source may override it) lists durations after an
article was first stored; ``storage._history`` keeps the schedule and decides
what is due.  A run does at most ``[fetch] max_revisits_per_run`` of them,
after its new articles (so a big archive never starves them), inside the
run's lease and through the same fetcher (robots, per-host spacing, retries).

What a revisit finds:

- a page that extracts: stored like any fetch (a changed field keeps the
  previous state as a version), and the article is live (again);
- 304 Not Modified (the stored validators are sent): live, unchanged;
- removal evidence: 404 or 410, a redirect to the site's home or to one of the
  source's listing pages, or a page with no article on it (empty, an error
  template: ``ExtractError``).  The store marks it pending and confirms the
  removal only when a second revisit at least ``removal_confirm_after`` later
  agrees;
- a revisit that cannot be made (timeouts, 5xx and 429 after retries, other
  fetch errors): no evidence either way; only the steps whose time has come are
  used up (``skip_revisit``), so a page that keeps failing never holds up the
  revisits behind it, and a pending removal stays pending.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scraper.config import SourceConfig
from scraper.errors import ExtractError, FetchError, HTTPStatusError, StorageError
from scraper.logs import event, get_logger
from scraper.models import Page
from scraper.pipeline.results import RunResult
from scraper.urls import canonical_url
from storage.offloop import off_loop

if TYPE_CHECKING:
    from collections.abc import Callable

    from scraper.config import Config
    from scraper.pipeline.extractpool import Prepared

__all__ = ["GONE_STATUSES", "REVISIT_CONCURRENCY", "STORED_BY", "RevisitWalk", "removal_evidence"]

log = get_logger("pipeline")

GONE_STATUSES = frozenset({404, 410})  # the only statuses that count as removal evidence
REVISIT_CONCURRENCY = 2  # revisits in flight per source (the fetcher still spaces requests per host)
# How articles stored in this context came: a backfill sets "backfill" for its walk, so its
# old articles are revisited only when recently published.
STORED_BY: contextvars.ContextVar[str] = contextvars.ContextVar("qkfeed_stored_by", default="fetch")


def removal_evidence(source: SourceConfig, asked: str, page: Page) -> str | None:
    """Why a fetched page says the article is gone (a redirect to home or a listing), else None."""
    final = canonical_url(page.url)
    if final == canonical_url(asked):
        return None
    if urlsplit(final).path in ("", "/"):
        return f"redirected to the home page {page.url}"
    if final in {canonical_url(u) for u in source.start_urls}:
        return f"redirected to the listing page {page.url}"
    return None


class RevisitWalk:
    """``_revisits`` for a class that has the runner's steps (``SourceRunner``)."""

    if TYPE_CHECKING:  # what SourceRunner provides
        config: Config
        store: Any
        fetcher: Any
        now: Callable[[], datetime]

        async def _prepare(self, page: Page, source: SourceConfig) -> Prepared: ...

    async def _revisits(self, source: SourceConfig, result: RunResult) -> Counter[str]:
        """Do the due revisits of ``source`` (at most ``max_revisits_per_run``); what they found."""
        fetch = self.config.fetch
        steps = source.revisit if source.revisit is not None else fetch.revisit
        found: Counter[str] = Counter()
        if fetch.max_revisits_per_run <= 0:
            return found
        await off_loop(self.store.retire_revisits, source.id, list(steps), now=self.now())
        due = await off_loop(
            self.store.due_revisits, source.id, list(steps), now=self.now(),
            limit=fetch.max_revisits_per_run, confirm_after=fetch.removal_confirm_after,
        )
        if not due:
            return found
        slots = asyncio.Semaphore(REVISIT_CONCURRENCY)

        async def one(key: str, url: str) -> None:
            async with slots:
                try:
                    found[await self._revisit(source, key, url, steps, result)] += 1
                except StorageError:
                    raise  # the store is down: the run stops, as for any article
                except Exception as exc:  # a page we never imagined: logged, nothing recorded
                    found["failed"] += 1
                    event(log, "revisit", logging.ERROR, exc_info=True, source=source.id, url=url,
                          outcome="failed", error=repr(exc)[:200])

        await asyncio.gather(*(one(key, url) for key, url in due))
        event(log, "revisits_done", source=source.id, due=len(due), **dict(found))
        return found

    async def _revisit(self, source: SourceConfig, key: str, url: str, steps: tuple[float, ...],
                       result: RunResult) -> str:
        """Fetch one stored article (key ``key``, fetched from ``url``) again and record what it
        showed; the outcome's name."""
        started = time.monotonic()
        etag, last_modified = await off_loop(self.store.http_cache_get, url)
        evidence: str | None = None
        page: Page | None = None
        try:
            page = await self.fetcher.get(url, etag=etag, last_modified=last_modified)
        except HTTPStatusError as exc:
            if exc.status not in GONE_STATUSES:
                return await self._failed(source, key, url, steps, exc, started)
            evidence = f"HTTP {exc.status}"
        except FetchError as exc:  # timeouts, 5xx and 429 after retries, robots, offsite ...
            return await self._failed(source, key, url, steps, exc, started)
        if page is not None and not page.not_modified:
            evidence = removal_evidence(source, url, page)
            if evidence is None:
                try:
                    evidence = await self._store_revisited(source, key, page, result)
                except ExtractError as exc:
                    evidence = f"no article on the page ({exc})"[:200]
        outcome = await off_loop(
            self.store.record_revisit, key, now=self.now(), steps=list(steps),
            confirm_after=self.config.fetch.removal_confirm_after, evidence=evidence,
        )
        if page is not None and evidence is None and (page.etag or page.last_modified):
            await off_loop(self.store.http_cache_put, url, page.etag, page.last_modified)
        event(log, "revisit", logging.INFO if outcome in ("live", "restored") else logging.WARNING,
              source=source.id, url=url, status=304 if page is not None and page.not_modified
              else page.status if page is not None else evidence, outcome=outcome, evidence=evidence,
              ms=int((time.monotonic() - started) * 1000))
        return outcome

    async def _store_revisited(self, source: SourceConfig, key: str, page: Page,
                               result: RunResult) -> str | None:
        """Extract and store a revisited page under its stored key; None (found) when stored."""
        prepared = await self._prepare(page, source)
        # the stored key stays the article's key, even if the site moved it to another address
        article = replace(prepared.article, url=key)
        outcome = await off_loop(
            self.store.upsert_article, article, raw_html=page.content or page.text.encode("utf-8"),
            now=self.now(), cluster_key=prepared.key,
        )
        if outcome == "updated":
            result.updated += 1
            event(log, "article_edited", source=source.id, url=key)
        return None

    async def _failed(self, source: SourceConfig, key: str, url: str, steps: tuple[float, ...],
                      exc: FetchError, started: float) -> str:
        """No evidence either way: only the steps whose time has come are used up, so a page
        that keeps failing never holds up the revisits behind it (a pending removal stays)."""
        await off_loop(self.store.skip_revisit, key, now=self.now(), steps=list(steps))
        event(log, "revisit", logging.WARNING, source=source.id, url=url, outcome="failed",
              error=exc.reason, ms=int((time.monotonic() - started) * 1000))
        return "failed"
