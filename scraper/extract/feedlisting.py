"""A site's own RSS 2.0 / Atom feed -> article URLs, with the dates and titles the feed gives.

Feeds carry summaries only, so an item is a listing entry, not an article: the pipeline
still fetches and extracts every page in full, and uses the item's date only when the
page itself has none (``FeedItem.published``).

Parsing is feedparser's (RSS 0.9x/1.0/2.0 and Atom, broken XML tolerated, every date
format feeds use, relative links resolved against ``xml:base`` and the feed URL).
feedparser never raises on bad input: a document it cannot read as a feed comes back
without a ``version`` or without entries, which ``FeedUnusable`` reports, so the caller
falls back to the HTML listing.

Item links are kept in feed order (newest first on every site we follow), deduplicated
by canonical URL, only on the hosts ``hosts`` names (a feed may link a partner site),
and, when the source has an ``article_pattern``, only those that match it (a feed may
list video pages the source does not follow).  No other filter: a feed lists articles
by nature, while the generic HTML link rule has to guess them among menus.
"""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser

from scraper.config import SourceConfig
from scraper.urls import absolute_url, canonical_url, on_hosts

__all__ = ["FeedItem", "FeedUnusable", "parse_feed"]


class FeedUnusable(ValueError):
    """The document is not a feed feedparser can read, or it lists no article of the source."""


@dataclass(frozen=True)
class FeedItem:
    """One feed entry: the article's URL, and what the feed says of it."""

    url: str
    published: datetime | None = None  # aware UTC; the entry's published date, else its updated
    title: str | None = None


def parse_feed(content: bytes, feed_url: str, source: SourceConfig, hosts: frozenset[str],
               *, content_type: str | None = None) -> list[FeedItem]:
    """The articles a feed lists; FeedUnusable (with the reason) when there are none.

    ``content`` is the raw body: feedparser reads the encoding from the XML declaration
    and ``content_type`` (decoding it as HTML first would lose the declared charset).
    """
    headers = {"content-location": feed_url}
    if content_type:
        headers["content-type"] = content_type
    # a stream, never the bytes themselves: feedparser opens a str or bytes argument that
    # names a file or an http URL, and a body that reads "/etc/passwd" must stay a body
    parsed = feedparser.parse(io.BytesIO(content), response_headers=headers, sanitize_html=False)
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        raise FeedUnusable(f"not an RSS or Atom feed ({_short(problem) if problem else 'no feed element'})")
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        url = absolute_url(feed_url, _entry_link(entry))
        if not url or not on_hosts(url, hosts):
            continue
        if source.article_pattern and not re.search(source.article_pattern, urlsplit(url).path):
            continue
        key = canonical_url(url)
        if key in seen:
            continue
        seen.add(key)
        title = (entry.get("title") or "").strip() or None
        items.append(FeedItem(url, _entry_date(entry), title))
    if not items:
        what = f"{len(parsed.entries)} items, none an article of this source" if parsed.entries else "no items"
        raise FeedUnusable(f"{parsed.version} feed with {what}")
    return items


def _entry_link(entry: Mapping[str, Any]) -> str | None:
    """The entry's page: ``link`` (RSS ``<link>``, Atom ``rel=alternate``), else a permalink guid."""
    link = entry.get("link")
    if link:
        return str(link)
    guid = entry.get("id")
    if guid and entry.get("guidislink") and str(guid).startswith(("http://", "https://")):
        return str(guid)
    return None


def _entry_date(entry: Mapping[str, Any]) -> datetime | None:
    """feedparser's parsed date (a UTC ``struct_time``) as an aware datetime."""
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _short(problem: object) -> str:
    text = " ".join(str(problem).split())
    return text[:120] + ("…" if len(text) > 120 else "")
