"""Stored articles -> one normalized view of a feed and its entries, shared by every format.

``FeedMeta``/``feed_meta`` are the feed-level fields (ids, titles, self and
page links); ``entries`` turns ``StoredArticle``s into ``Entry``s: every string
NFC and XML-safe (``text``), times in whole-second UTC (``utc``), a summary cut
from the body when the article has none, authors or else agencies, categories
(source, region, the article's own), the image and its type from a fixed
table, and the other copies of a syndicated story with their "Cũng đăng trên"
paragraph.  ``feeds.render`` (Atom, RSS) and ``feeds.jsonfeed`` write them out.
"""

from __future__ import annotations

import html
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from scraper.config import Config, SourceConfig
from scraper.models import Sibling, StoredArticle
from scraper.text import clean_text, nfc, strip_xml_illegal

__all__ = [
    "CONTENT_TYPES",
    "EMPTY_FEED_UPDATED",
    "FEED_AUTHOR",
    "FEED_FILES",
    "FORMATS",
    "GENERATOR",
    "SOURCE_FEED_TITLE",
    "Category",
    "Entry",
    "FeedMeta",
    "check_format",
    "entries",
    "feed_meta",
    "feed_updated",
    "rfc3339",
    "text",
    "utc",
]

FORMATS = ("atom", "rss", "json")
CONTENT_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
FEED_FILES = {"atom": "feed.atom", "rss": "feed.rss", "json": "feed.json"}
COMBINED_FEED_ID = "urn:qkfeed:feed:all"
SOURCE_FEED_ID = "urn:qkfeed:feed:source:{id}"
SOURCE_FEED_TITLE = "{name} — qkfeed"
SOURCE_FEED_SUBTITLE = "Tin tức từ {name}, do qkfeed tổng hợp"
GENERATOR = "qkfeed"
FEED_AUTHOR = "qkfeed"  # feed-level Atom author, so entries without authors stay valid
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)
SOURCE_SCHEME = "urn:qkfeed:source"
REGION_SCHEME = "urn:qkfeed:region"
CATEGORY_SCHEME = "urn:qkfeed:category"
ALSO_PUBLISHED_BY = "Cũng đăng trên: "  # before the links to the other copies of a story
LINK_SCHEMES = ("http://", "https://")  # a copy's link is shown only with one of these
SUMMARY_FALLBACK_CHARS = 300  # summary cut from the body when the article has none
DEFAULT_IMAGE_TYPE = "image/jpeg"
IMAGE_TYPES = {  # fixed table, not mimetypes: the system's mime.types must not change output
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".svg": "image/svg+xml",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}

@dataclass(frozen=True)
class FeedMeta:
    """Feed-level fields.  ``link`` is the HTML page, ``self_url`` the feed's own URL."""

    id: str
    title: str
    subtitle: str
    link: str
    self_url: str
    language: str = "vi"
    updated: datetime | None = None  # used only when there are no items
    # Extra feed-level links, (rel, href): RFC 5005 archives (current, prev-archive,
    # next-archive; feeds.archive) and WebSub (hub); written by every format that can.
    links: tuple[tuple[str, str], ...] = ()
    archive: bool = False  # an RFC 5005 archive document that will not change (fh:archive)
    # the feed server's base URL: an edited or removed entry links its history there
    # (``/articles/{id}``, ``feeds.articleview``); None: no such note
    history_base: str | None = None


def feed_meta(config: Config, *, source_id: str | None, base_url: str, fmt: str) -> FeedMeta:
    """Meta of the combined feed (``source_id=None``) or of one source's feed.

    Self URLs are ``{base_url}/feed.{fmt}`` and ``{base_url}/sources/{id}/feed.{fmt}``.
    A source feed links to the source's own site.  Raises ConfigError for an
    unknown source and ValueError for an unknown format.
    """
    check_format(fmt)
    base = base_url.rstrip("/")
    if source_id is None:
        feed = config.feed
        return FeedMeta(
            id=COMBINED_FEED_ID,
            title=feed.title,
            subtitle=feed.description,
            link=feed.link or f"{base}/",  # the server's own page unless configured
            self_url=f"{base}/{FEED_FILES[fmt]}",
            language=feed.language,
            history_base=base,
        )
    source = config.source(source_id)
    return FeedMeta(
        id=SOURCE_FEED_ID.format(id=source.id),
        title=SOURCE_FEED_TITLE.format(name=source.name),
        subtitle=SOURCE_FEED_SUBTITLE.format(name=source.name),
        link=_site_home(source),
        self_url=f"{base}/sources/{source.id}/{FEED_FILES[fmt]}",
        language=config.feed.language,
        history_base=base,
    )


# -- one normalized view of an entry, shared by the three formats -------------


@dataclass(frozen=True)
class Category:
    term: str
    label: str
    scheme: str


@dataclass(frozen=True)
class Entry:
    guid: str
    url: str
    title: str
    summary: str
    content_html: str
    content_text: str
    published: datetime
    updated: datetime
    authors: tuple[str, ...]
    categories: tuple[Category, ...]
    image: str | None
    image_type: str
    related: tuple[tuple[str, str], ...] = ()  # (source name, link) of the other copies


def entries(
    items: Iterable[StoredArticle],
    sources: Mapping[str, SourceConfig],
    history_base: str | None = None,
) -> list[Entry]:
    """The normalized entries of ``items``, in the order given; with ``history_base``, an
    edited or removed article's content ends with a note linking its history."""
    found = [_entry(item, sources.get(item.article.source_id), sources) for item in items]
    if history_base is None:
        return found
    return [_with_history_note(e, item, history_base) for e, item in zip(found, items, strict=True)]


def _with_history_note(entry: Entry, item: StoredArticle, base: str) -> Entry:
    """Issue 12: the main feeds keep one entry per story; its content says it was edited or
    taken down (its ``updated`` already moved with the edit) and links the history."""
    notes = []
    if item.edits:
        notes.append(f"Bài viết đã được sửa {item.edits} lần sau khi đăng")
    if item.status == "removed":
        when = f" lúc {rfc3339(utc(item.removed_at))}" if item.removed_at else ""
        notes.append(f"Bài viết đã bị gỡ khỏi trang nguồn{when}")
    if not notes:
        return entry
    link = html.escape(f"{base.rstrip('/')}/articles/{item.id}", quote=True)
    note = f'<p><em>{html.escape("; ".join(notes), quote=False)}: <a href="{link}">xem lịch sử</a>.</em></p>'
    return replace(entry, content_html=(entry.content_html + "\n" + note).strip())


def _entry(
    item: StoredArticle, source: SourceConfig | None, sources: Mapping[str, SourceConfig]
) -> Entry:
    art = item.article
    # readers follow the URL that was fetched; the canonical key may not be fetchable
    url = text(art.original_url or art.url)
    body_text = text(art.body_text).strip()
    summary = clean_text(art.summary) or _shorten(clean_text(body_text), SUMMARY_FALLBACK_CHARS)
    # Agencies (TTXVN, QĐND ...) are credited when no person is.
    names = _unique(clean_text(a) for a in art.authors) or _unique(
        clean_text(a) for a in art.agencies
    )
    image = text(art.image_url).strip() if art.image_url else ""
    related = _related(item.siblings, sources)
    content_html = text(art.body_html).strip()
    if related:
        content_html = (content_html + "\n" + _also_published_by(related)).strip()
    return Entry(
        guid=text(item.guid),
        url=url,
        title=clean_text(art.title) or url,
        summary=summary,
        content_html=content_html,
        content_text=body_text,
        published=utc(item.published_or_seen),
        updated=utc(item.updated),
        authors=names,
        categories=_categories(art.source_id, art.categories, source),
        image=image or None,
        image_type=_image_type(image),
        related=related,
    )


def _related(
    siblings: Iterable[Sibling], sources: Mapping[str, SourceConfig]
) -> tuple[tuple[str, str], ...]:
    """(source name, link) of each other copy of a story that has a web link."""
    found = []
    for sib in siblings:
        link = text(sib.link).strip()
        if link.lower().startswith(LINK_SCHEMES):
            source = sources.get(sib.source_id)
            found.append((clean_text(source.name if source else sib.source_id) or link, link))
    return tuple(found)


def _also_published_by(related: Sequence[tuple[str, str]]) -> str:
    links = ", ".join(
        f'<a href="{html.escape(link, quote=True)}">{html.escape(name, quote=False)}</a>'
        for name, link in related
    )
    return f"<p>{html.escape(ALSO_PUBLISHED_BY, quote=False)}{links}</p>"


def _categories(
    source_id: str, categories: Iterable[str], source: SourceConfig | None
) -> tuple[Category, ...]:
    found: list[Category] = []
    seen: set[str] = set()

    def add(label: str, scheme: str) -> None:
        label = clean_text(label)
        if label and label.casefold() not in seen:
            seen.add(label.casefold())
            found.append(Category(term=label, label=label, scheme=scheme))

    add(source.name if source else source_id, SOURCE_SCHEME)
    if source and source.region:
        add(source.region, REGION_SCHEME)
    for category in categories:
        add(category, CATEGORY_SCHEME)
    return tuple(found)


def feed_updated(meta: FeedMeta, entries: Sequence[Entry]) -> datetime:
    """The feed's updated time: its newest entry's, else ``meta.updated`` or the epoch."""
    if entries:
        return max(e.updated for e in entries)
    return utc(meta.updated) if meta.updated else EMPTY_FEED_UPDATED



def check_format(fmt: str) -> None:
    """ValueError naming the known formats unless ``fmt`` is one."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown feed format {fmt!r} (use one of: {', '.join(FORMATS)})")


def text(value: str | None) -> str:
    """NFC and XML-safe; every string bound for a feed passes through here."""
    return strip_xml_illegal(nfc(value)) if value else ""


def utc(dt: datetime) -> datetime:
    """Aware UTC, whole seconds; a naive datetime is taken to be UTC already."""
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.replace(microsecond=0)


def rfc3339(dt: datetime) -> str:
    """``dt`` (UTC) as RFC 3339 with a ``Z``."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:.-") + "…"


def _image_type(url: str) -> str:
    try:
        path = urlsplit(url).path
    except ValueError:  # e.g. a malformed IPv6 host
        return DEFAULT_IMAGE_TYPE
    ext = posixpath.splitext(path)[1].lower()
    return IMAGE_TYPES.get(ext, DEFAULT_IMAGE_TYPE)


def _site_home(source: SourceConfig) -> str:
    parts = urlsplit(source.site_url)
    return f"{parts.scheme}://{parts.netloc}/"
