"""Query parameters of feed and page requests -> a normalized ``Filter`` (or a 400).

``?source=ID[,ID]`` (repeatable; combined feed and page only), ``?q=TEXT`` (at
most ``MAX_QUERY_CHARS`` after cleaning), ``?limit=1..MAX_LIMIT`` in ASCII
digits only (``int()`` would take ``٣`` or ``３``, which no client means as a
number).  Equal filters give the same canonical ``query``, so they share one
cached render.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request

from scraper.config import Config
from scraper.text import clean_text

__all__ = ["MAX_LIMIT", "MAX_QUERY_CHARS", "Filter", "bad_request", "parse_filter", "shown"]

MAX_LIMIT = 500
MAX_QUERY_CHARS = 200
SHOWN_VALUE_CHARS = 60  # how much of a bad parameter value an error message repeats

_ASCII_NUMBER = re.compile(r"[0-9]{1,6}")  # not \d: that matches every Unicode digit


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
        bad_request("the source filter applies to the combined feed only (/feed.atom?source=ID)")
    for value in raw_sources:
        for sid in value.split(","):
            sid = sid.strip()
            if not sid:
                continue
            if sid not in config.sources:
                known = ", ".join(config.sources) or "none"
                bad_request(f"unknown source {shown(sid)} in source= (known: {known})")
            sources.add(sid)
    q_values = params.getlist("q")
    if len(q_values) > 1:
        bad_request("q= may be given only once")
    q = clean_text(q_values[0]) if q_values else ""
    if len(q) > MAX_QUERY_CHARS:
        bad_request(f"q= is too long ({len(q)} characters; at most {MAX_QUERY_CHARS})")
    limit_values = params.getlist("limit")
    if len(limit_values) > 1:
        bad_request("limit= may be given only once")
    limit = default
    if limit_values:
        text = limit_values[0].strip()
        if not _ASCII_NUMBER.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
            bad_request(
                f"limit= must be a whole number from 1 to {MAX_LIMIT}, got {shown(limit_values[0])}"
            )
        limit = int(text)
    return Filter(sources=tuple(sorted(sources)), q=q, limit=limit, default_limit=default)


def bad_request(message: str) -> None:
    """Raise the 400 the app's error handler turns into a plain-text answer."""
    raise HTTPException(400, detail=message + "\n")


def shown(value: str) -> str:
    """``value`` as an error message repeats it: quoted, cut at ``SHOWN_VALUE_CHARS``."""
    return repr(value[:SHOWN_VALUE_CHARS] + ("…" if len(value) > SHOWN_VALUE_CHARS else ""))
