"""The page's own query parameters, on top of ``feeds.filters.Filter``.

``?region=TEXT`` (a ``[sources.*] region`` value; several allowed),
``?topic=ID`` (``feeds.topics``), ``?from=YYYY-MM-DD`` / ``?to=YYYY-MM-DD``
(days in Vietnam time, both inclusive), ``?before=CURSOR`` (the "Xem tiếp"
link: the (published or first_seen, id) of the last entry shown, as
``20240115T092000.000000Z_123``).  An empty value is no filter (an HTML form
sends every field); a bad one is a 400 naming the parameter.  Equal filters
give one canonical ``query``, so they share one cached render.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from starlette.requests import Request

from scraper.config import Config
from storage.base import ArticleFilter

from .filters import Filter, bad_request, shown
from .page_time import VN_TIMEZONE
from .topics import Topic, sources_in, topic_by_id

__all__ = ["PageQuery", "cursor_text", "parse_page_query", "regions"]

CURSOR_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_CURSOR = re.compile(r"([0-9]{8}T[0-9]{6}\.[0-9]{6}Z)_([0-9]{1,18})")  # ASCII digits only
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class PageQuery:
    """Every filter of one page request."""

    base: Filter  # sources, q, limit
    regions: tuple[str, ...] = ()
    topic: Topic | None = None
    day_from: date | None = None
    day_to: date | None = None
    before: tuple[datetime, int] | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.base.sources or self.base.q or self.regions or self.topic
                     or self.day_from or self.day_to)

    @property
    def feedable(self) -> bool:
        """Whether a feed can follow these filters (feeds know sources and search only)."""
        return not (self.topic or self.day_from or self.day_to)

    def query(self, *, before: tuple[datetime, int] | None = None, page: bool = True) -> str:
        """The canonical query string; ``page=False`` leaves out the page's cursor."""
        pairs = [("source", s) for s in self.base.sources]
        pairs += [("region", r) for r in self.regions]
        if self.topic:
            pairs.append(("topic", self.topic.id))
        if self.day_from:
            pairs.append(("from", self.day_from.isoformat()))
        if self.day_to:
            pairs.append(("to", self.day_to.isoformat()))
        if self.base.q:
            pairs.append(("q", self.base.q))
        if self.base.limit != self.base.default_limit:
            pairs.append(("limit", str(self.base.limit)))
        cursor = before if before is not None else (self.before if page else None)
        if cursor is not None:
            pairs.append(("before", cursor_text(cursor)))
        return urlencode(pairs)

    def feed_query(self, config: Config) -> str:
        """The query of the feed that follows this page's sources and search."""
        sources = self.source_ids(config)
        pairs = [("source", ",".join(sources))] if sources else []
        if self.base.q:
            pairs.append(("q", self.base.q))
        return urlencode(pairs)

    def source_ids(self, config: Config) -> tuple[str, ...]:
        """The sources shown: the source filter, within the chosen regions (``()``: all)."""
        chosen = list(self.base.sources)
        if self.regions:
            in_regions = [s.id for s in config.sources.values() if s.region in self.regions]
            chosen = [s for s in chosen if s in in_regions] if chosen else in_regions
        return tuple(chosen)

    def article_filter(self, config: Config) -> ArticleFilter | None:
        """What the store is asked for; None when the filters exclude every source."""
        sources = self.source_ids(config)
        if (self.base.sources or self.regions) and not sources:
            return None
        start = _day_start(self.day_from) if self.day_from else None
        end = _day_start(self.day_to + timedelta(days=1)) if self.day_to else None
        return ArticleFilter(
            source_ids=sources,
            q=self.base.q or None,
            start=start,
            end=end,
            sections=self.topic.sections if self.topic else (),
            section_sources=sources_in(self.topic, config.sources.values()) if self.topic else (),
            collapse_clusters=True,
        )


def parse_page_query(request: Request, config: Config, base: Filter) -> PageQuery:
    """The page's filters of ``request``; HTTPException(400) naming a bad parameter."""
    params = request.query_params
    known_regions = {s.region for s in config.sources.values() if s.region}
    chosen: set[str] = set()
    for value in params.getlist("region"):
        value = value.strip()
        if not value:
            continue
        if value not in known_regions:
            bad_request(f"unknown region {shown(value)} in region= (known: {', '.join(regions(config))})")
        chosen.add(value)
    topic = None
    topic_id = _one(params.getlist("topic"), "topic")
    if topic_id:
        topic = topic_by_id(topic_id)
        if topic is None:
            bad_request(f"unknown topic {shown(topic_id)} in topic=")
    day_from = _day(_one(params.getlist("from"), "from"), "from")
    day_to = _day(_one(params.getlist("to"), "to"), "to")
    if day_from and day_to and day_from > day_to:
        bad_request(f"from= ({day_from}) is after to= ({day_to})")
    before = None
    cursor = _one(params.getlist("before"), "before")
    if cursor:
        match = _CURSOR.fullmatch(cursor)
        if match is None:
            bad_request(f"before= is not a page cursor: {shown(cursor)}")
        try:
            at = datetime.strptime(match.group(1), CURSOR_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            bad_request(f"before= is not a page cursor: {shown(cursor)}")
        before = (at, int(match.group(2)))
    ordered = tuple(r for r in regions(config) if r in chosen)
    return PageQuery(base=base, regions=ordered, topic=topic, day_from=day_from,
                     day_to=day_to, before=before)


def regions(config: Config) -> list[str]:
    """Every configured region, in config order, once."""
    return list(dict.fromkeys(s.region for s in config.sources.values() if s.region))


def cursor_text(cursor: tuple[datetime, int]) -> str:
    return f"{cursor[0].astimezone(UTC).strftime(CURSOR_FORMAT)}_{cursor[1]}"


def _one(values: list[str], name: str) -> str:
    if len(values) > 1:
        bad_request(f"{name}= may be given only once")
    return values[0].strip() if values else ""


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    if _DAY.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            if MINYEAR < day.year < MAXYEAR:  # a day later or earlier in UTC still exists
                return day
    bad_request(f"{name}= must be a day as YYYY-MM-DD, got {shown(text)}")
    return None  # not reached: bad_request raises


def _day_start(day: date) -> datetime:
    """Midnight of ``day`` in Vietnam, in UTC."""
    return datetime.combine(day, time(0), tzinfo=VN_TIMEZONE).astimezone(UTC)
