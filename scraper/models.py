"""Value objects passed between the stages.  No project imports here.

Page        what the fetcher returns (decoded text, final URL, caching headers)
RawArticle  what extraction returns: strings as found on the page, not yet cleaned
Article     what normalization returns and the store keeps: clean, NFC, UTC
StoredArticle  an Article as read back from the store, with its stable id and times
Sibling     another site's copy of a syndicated story (StoredArticle.siblings)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Page:
    """A fetched and decoded HTTP response."""

    url: str  # final URL after redirects
    status: int
    text: str  # decoded body ("" for 304)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    encoding: str = "utf-8"
    not_modified: bool = False  # a 304 answer to a conditional GET
    content: bytes = b""  # raw body bytes (kept for re-extraction)

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


@dataclass
class RawArticle:
    """Fields as found on the page; ``fallbacks`` names fields the generic extractor filled."""

    url: str
    title: str | None = None
    date_text: str | None = None  # the visible date line, unparsed
    published: datetime | None = None  # from machine-readable metadata, if any
    modified: datetime | None = None
    byline: str | None = None  # raw author text (may hold several names, a prefix ...)
    authors: tuple[str, ...] = ()  # people named one by one (metadata): taken as written, before byline's
    agencies: tuple[str, ...] = ()  # agencies named one by one (metadata), added to byline's
    body_html: str | None = None
    lead: str | None = None  # the summary/sapo paragraph, if the site has one apart
    image_url: str | None = None
    canonical_url: str | None = None
    categories: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)  # fields the profile did not fill
    failed_selectors: dict[str, str] = field(default_factory=dict)  # field -> selector


@dataclass(frozen=True)
class Author:
    """A person credited for an article.  ``role`` is e.g. 'thực hiện', 'ảnh'."""

    name: str
    rank: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class Article:
    """A clean article: NFC text, aware UTC datetimes, sanitized absolute-link HTML."""

    url: str  # canonical URL, the article key
    source_id: str
    title: str
    published: datetime | None
    authors: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()  # TTXVN, QĐND ... credited as sources, not people
    body_html: str = ""
    body_text: str = ""
    summary: str = ""
    image_url: str | None = None
    categories: tuple[str, ...] = ()
    modified: datetime | None = None
    fingerprint: str = ""  # hash of the normalized body text; changes when the article is edited
    original_url: str = ""  # the URL as fetched, before canonicalization


@dataclass(frozen=True)
class Sibling:
    """A copy of the same story stored from another page (usually another site)."""

    id: int
    url: str  # canonical URL
    link: str  # the URL as fetched, for readers
    source_id: str
    title: str
    published: datetime  # published, or first seen when undated


@dataclass(frozen=True)
class StoredArticle:
    """An article as the store holds it."""

    id: int
    guid: str  # the feed entry id: fixed at first insert, never changes
    article: Article
    first_seen: datetime
    updated: datetime  # last time the content changed (first_seen if never)
    # Other copies of the same story, earliest first: filled by latest(collapse_clusters=True)
    # when this is the story's earliest copy, else empty.
    siblings: tuple[Sibling, ...] = ()
    # History (issue 12): earlier versions kept, and whether the site has taken it down.
    edits: int = 0
    status: str = "live"  # "live" or "removed"
    removed_at: datetime | None = None

    @property
    def published_or_seen(self) -> datetime:
        return self.article.published or self.first_seen


@dataclass(frozen=True)
class SourceHealth:
    """One row of ``run.py sources`` / ``/healthz``."""

    source_id: str
    last_run: datetime | None
    last_success: datetime | None
    articles: int
    errors: int  # errors in the last run
    consecutive_failures: int
    last_error: str | None
    degraded: str | None  # e.g. "profile selector 'date' (div.post-head) stopped matching"
    articles_last_day: int = 0
    # Why the last run that read the feeds found them broken (the HTML listing was read
    # instead), e.g. "URL: HTTP 404; HTML listing used"; None when they worked.
    feed_problem: str | None = None

    @property
    def warning(self) -> str | None:
        """What health views show as "degraded": the broken feeds, then the profile's drift."""
        parts = [f"feed listing failed: {self.feed_problem}"] if self.feed_problem else []
        return " | ".join(parts + [self.degraded] if self.degraded else parts) or None
