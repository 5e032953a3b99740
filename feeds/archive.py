"""Archived feeds (RFC 5005 §4): the whole archive behind every feed, one document per month.

A feed shows the latest ``max_entries``; behind it, every stored article sits
in exactly one monthly archive document (calendar months, UTC, by published
time or first seen when undated — the feeds' own order)::

    /archive/2024-01.atom   (.rss, .json)              the combined feed's January 2024
    /sources/ID/archive/2024-01.atom   (.rss, .json)   one source's

Links (Atom ``<link>``, RSS ``<atom:link>``, JSON Feed ``_archive`` and
``next_url``):

- the subscription feeds (unfiltered) carry ``current`` (themselves) and
  ``prev-archive``: the newest month that holds an entry;
- an archive document carries ``current`` (its subscription feed),
  ``prev-archive`` / ``next-archive``: the nearest older / newer month that
  holds an entry (empty months are skipped, so a walk never meets a 404), and
  ``<fh:archive/>`` once its month has ended.  The running month's document is
  not marked: it still grows.

The combined feed's archives keep its one-entry-per-story rule: a story
republished by several sites is one entry, in the month of its earliest copy,
the other copies as its related links — so following ``prev-archive`` from
``/feed.atom`` meets every stored article exactly once.

A document is rendered from the store (``Store.articles_between``, two index
lookups for its neighbours) and cached per store version like the feeds; its
ETag is a hash of its bytes, so a finished month keeps its ETag until an
article in it changes (an edit, a copy of one of its stories appearing, a
backfilled article dated in it).  Finished months are sent with
``ARCHIVE_CACHE_CONTROL`` (a day), the running one with the feeds' own.
A month with no entry, or not a month, is 404.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scraper.config import Config

from .cache import Rendered
from .conditional import conditional_response
from .entries import CONTENT_TYPES, FORMATS, FeedMeta, feed_meta
from .render import render

__all__ = [
    "ARCHIVE_CACHE_CONTROL",
    "Month",
    "archive_path",
    "archive_routes",
    "render_archive",
    "subscription_links",
]

ARCHIVE_CACHE_CONTROL = "public, max-age=86400"  # a finished month: changes only with an edit
ARCHIVE_TITLE = "{title} — lưu trữ {month:02d}/{year}"
FAR_FUTURE = datetime.max.replace(tzinfo=UTC)
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in UTC."""

    year: int
    month: int

    @classmethod
    def of(cls, when: datetime) -> Month:
        when = when.astimezone(UTC)
        return cls(when.year, when.month)

    @classmethod
    def parse(cls, text: str) -> Month | None:
        """``2024-01`` -> Month(2024, 1); None for anything else (a 404, not an error)."""
        m = _MONTH.fullmatch(text)
        if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
            return None
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant of the next month (the range is [start, end))."""
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC) if self.year < 9999 else FAR_FUTURE
        return datetime(self.year, self.month + 1, 1, tzinfo=UTC)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def archive_path(source_id: str | None, month: Month, fmt: str) -> str:
    """The archive document's path: ``/archive/2024-01.atom`` or ``/sources/ID/archive/…``."""
    prefix = f"/sources/{source_id}" if source_id is not None else ""
    return f"{prefix}/archive/{month}.{fmt}"


def _neighbour(store: Any, at: datetime, *, before: bool, source_id: str | None) -> Month | None:
    when = store.neighbour_instant(at, before=before, source_id=source_id,
                                   collapse_clusters=source_id is None)
    return Month.of(when) if when is not None else None


def subscription_links(
    store: Any, base: str, source_id: str | None, fmt: str, self_url: str
) -> tuple[tuple[str, str], ...]:
    """``current`` and ``prev-archive`` (the newest month holding an entry) of a subscription feed."""
    newest = _neighbour(store, FAR_FUTURE, before=True, source_id=source_id)
    links = [("current", self_url)]
    if newest is not None:
        links.append(("prev-archive", base + archive_path(source_id, newest, fmt)))
    return tuple(links)


def render_archive(
    config: Config,
    store: Any,
    base: str,
    source_id: str | None,
    month: Month,
    fmt: str,
    *,
    now: datetime,
) -> Rendered | None:
    """The month's archive document, or None when the month holds no entry."""
    items = store.articles_between(month.start, month.end, source_id=source_id,
                                   collapse_clusters=source_id is None)
    if not items:
        return None
    current: FeedMeta = feed_meta(config, source_id=source_id, base_url=base, fmt=fmt)
    links = [("current", current.self_url)]
    older = _neighbour(store, month.start, before=True, source_id=source_id)
    newer = _neighbour(store, month.end, before=False, source_id=source_id)
    if older is not None:
        links.append(("prev-archive", base + archive_path(source_id, older, fmt)))
    if newer is not None:
        links.append(("next-archive", base + archive_path(source_id, newer, fmt)))
    meta = replace(
        current,  # same feed id: the archive documents are pages of the same feed
        title=ARCHIVE_TITLE.format(title=current.title, month=month.month, year=month.year),
        self_url=base + archive_path(source_id, month, fmt),
        links=tuple(links),
        archive=month.end <= now,
    )
    body = render(fmt, meta, items, config.sources)
    return Rendered.of(body, CONTENT_TYPES[fmt], max(i.updated for i in items))


# -- the routes -----------------------------------------------------------------------


class ArchiveEndpoints:
    """The archive routes of the feed server; ``server`` is ``feeds.app._Server``
    (its config, store, base URL, render cache and version are reused)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    async def combined(self, request: Request, fmt: str) -> Response:
        return await self._answer(request, fmt, None)

    async def source(self, request: Request, fmt: str) -> Response:
        source_id = request.path_params["source_id"]
        if source_id not in self.server.config.sources:
            raise HTTPException(404, detail="No such source\n")
        return await self._answer(request, fmt, source_id)

    async def _answer(self, request: Request, fmt: str, source_id: str | None) -> Response:
        month = Month.parse(request.path_params["month"])
        if month is None:
            raise HTTPException(404, detail="Not a month (use YYYY-MM)\n")
        server = self.server
        base = server.base(request)
        now = datetime.now(UTC)
        finished = month.end <= now
        version = await server._version()
        key: Hashable = ("archive", fmt, source_id, str(month), base)
        build = partial(self._build, base, source_id, month, fmt, now)
        doc = await server.cached(key, (version, finished), build)
        if doc.body == b"":
            raise HTTPException(404, detail=f"No entry in {month}\n")
        response = conditional_response(request, doc)
        if finished:
            response.headers["Cache-Control"] = ARCHIVE_CACHE_CONTROL
        return response

    def _build(self, base: str, source_id: str | None, month: Month, fmt: str, now: datetime) -> Rendered:
        doc = render_archive(self.server.config, self.server.store, base, source_id, month, fmt, now=now)
        return doc if doc is not None else Rendered.of(b"", "text/plain", None)  # cached as "empty"


def archive_routes(endpoints: ArchiveEndpoints, methods: list[str]) -> list[Route]:
    """``/archive/{month}.{fmt}`` and ``/sources/{source_id}/archive/{month}.{fmt}``."""
    routes = []
    for fmt in FORMATS:
        routes.append(Route(f"/archive/{{month}}.{fmt}", partial(endpoints.combined, fmt=fmt),
                            methods=methods, name=f"archive_{fmt}"))
        routes.append(Route(f"/sources/{{source_id}}/archive/{{month}}.{fmt}",
                            partial(endpoints.source, fmt=fmt), methods=methods,
                            name=f"source_archive_{fmt}"))
    return routes
