"""Stored articles -> Atom 1.0, RSS 2.0 and JSON Feed 1.1 documents.

Public surface::

    FeedMeta, feed_meta(config, source_id=..., base_url=..., fmt=...)
    render(fmt, meta, items, sources) -> bytes
    render_atom / render_rss / render_json (meta, items, sources) -> bytes
    CONTENT_TYPES, FORMATS

Guarantees:

* Entries come out in the order given (the caller passes them newest first).
* Output is a pure function of the input: no "now" anywhere, so identical input
  gives byte-identical output and ETags stay stable.  An empty feed is dated
  ``meta.updated`` or ``EMPTY_FEED_UPDATED``.
* Every string is NFC and stripped of XML-illegal characters (C0 controls,
  lone surrogates, U+FFFE/U+FFFF) before it reaches lxml or json; text is
  escaped, never CDATA, so ``]]>`` in a body is harmless.
* Datetimes are written in UTC, whole seconds.
* A syndicated story (``StoredArticle.siblings``: the combined feed collapses
  copies of one story into its earliest article) ends its content with a
  paragraph "Cũng đăng trên: <a>Báo X</a>, …" linking the other copies, and in
  Atom also carries one ``<link rel="related">`` per copy.
* Only sanitized body HTML is marked as HTML (Atom ``content type="html"``, RSS
  ``content:encoded``, JSON ``content_html``); titles, names and summaries are
  text.  RSS ``<description>`` is read as HTML by readers (RSS Best Practices
  Profile), so the summary goes there HTML-escaped: ``<script>`` in an
  article's text stays text in every reader.

Atom and RSS are built with feedgen; JSON Feed 1.1 by hand (feedgen lacks it).
"""

from __future__ import annotations

import html
import json
import posixpath
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from scraper.config import Config, SourceConfig
from scraper.models import Sibling, StoredArticle
from scraper.text import clean_text, nfc, strip_xml_illegal

__all__ = [
    "CONTENT_TYPES",
    "EMPTY_FEED_UPDATED",
    "FORMATS",
    "FeedMeta",
    "feed_meta",
    "render",
    "render_atom",
    "render_json",
    "render_rss",
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
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
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

# feedgen formats RSS dates by switching the process locale to C and back;
# serialize that so concurrent renders cannot leave the locale switched.
_RSS_LOCK = threading.Lock()


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


def feed_meta(config: Config, *, source_id: str | None, base_url: str, fmt: str) -> FeedMeta:
    """Meta of the combined feed (``source_id=None``) or of one source's feed.

    Self URLs are ``{base_url}/feed.{fmt}`` and ``{base_url}/sources/{id}/feed.{fmt}``.
    A source feed links to the source's own site.  Raises ConfigError for an
    unknown source and ValueError for an unknown format.
    """
    _check_format(fmt)
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
        )
    source = config.source(source_id)
    return FeedMeta(
        id=SOURCE_FEED_ID.format(id=source.id),
        title=SOURCE_FEED_TITLE.format(name=source.name),
        subtitle=SOURCE_FEED_SUBTITLE.format(name=source.name),
        link=_site_home(source),
        self_url=f"{base}/sources/{source.id}/{FEED_FILES[fmt]}",
        language=config.feed.language,
    )


def render(
    fmt: str,
    meta: FeedMeta,
    items: Sequence[StoredArticle],
    sources: Mapping[str, SourceConfig],
) -> bytes:
    """Render ``items`` (newest first) in format ``fmt`` ("atom", "rss" or "json")."""
    _check_format(fmt)
    return _RENDERERS[fmt](meta, items, sources)


# -- one normalized view of an entry, shared by the three formats -------------


@dataclass(frozen=True)
class _Category:
    term: str
    label: str
    scheme: str


@dataclass(frozen=True)
class _Entry:
    guid: str
    url: str
    title: str
    summary: str
    content_html: str
    content_text: str
    published: datetime
    updated: datetime
    authors: tuple[str, ...]
    categories: tuple[_Category, ...]
    image: str | None
    image_type: str
    related: tuple[tuple[str, str], ...] = ()  # (source name, link) of the other copies


def _entries(items: Iterable[StoredArticle], sources: Mapping[str, SourceConfig]) -> list[_Entry]:
    return [_entry(item, sources.get(item.article.source_id), sources) for item in items]


def _entry(
    item: StoredArticle, source: SourceConfig | None, sources: Mapping[str, SourceConfig]
) -> _Entry:
    art = item.article
    # readers follow the URL that was fetched; the canonical key may not be fetchable
    url = _text(art.original_url or art.url)
    body_text = _text(art.body_text).strip()
    summary = clean_text(art.summary) or _shorten(clean_text(body_text), SUMMARY_FALLBACK_CHARS)
    # Agencies (TTXVN, QĐND ...) are credited when no person is.
    names = _unique(clean_text(a) for a in art.authors) or _unique(
        clean_text(a) for a in art.agencies
    )
    image = _text(art.image_url).strip() if art.image_url else ""
    related = _related(item.siblings, sources)
    content_html = _text(art.body_html).strip()
    if related:
        content_html = (content_html + "\n" + _also_published_by(related)).strip()
    return _Entry(
        guid=_text(item.guid),
        url=url,
        title=clean_text(art.title) or url,
        summary=summary,
        content_html=content_html,
        content_text=body_text,
        published=_utc(item.published_or_seen),
        updated=_utc(item.updated),
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
        link = _text(sib.link).strip()
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
) -> tuple[_Category, ...]:
    found: list[_Category] = []
    seen: set[str] = set()

    def add(label: str, scheme: str) -> None:
        label = clean_text(label)
        if label and label.casefold() not in seen:
            seen.add(label.casefold())
            found.append(_Category(term=label, label=label, scheme=scheme))

    add(source.name if source else source_id, SOURCE_SCHEME)
    if source and source.region:
        add(source.region, REGION_SCHEME)
    for category in categories:
        add(category, CATEGORY_SCHEME)
    return tuple(found)


def _feed_updated(meta: FeedMeta, entries: Sequence[_Entry]) -> datetime:
    if entries:
        return max(e.updated for e in entries)
    return _utc(meta.updated) if meta.updated else EMPTY_FEED_UPDATED


# -- Atom and RSS (feedgen) ---------------------------------------------------


class _NoFeedLinks(BaseExtension):
    """Feed-level half of the ``_EntryLinks`` extension: adds nothing."""


class _EntryLinks(BaseEntryExtension):
    """Extra Atom entry ``<link>`` elements written with their ``rel`` and ``type``.

    feedgen 1.0 drops the attributes of entry links other than ``href`` (its
    loop reuses the variable), which would turn the image enclosure into a
    second alternate link; so the enclosure is added here for Atom.
    """

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        for attrs in self.links:
            etree.SubElement(entry, "link", attrs)  # unprefixed, like feedgen's own
        return entry


def render_atom(
    meta: FeedMeta, items: Sequence[StoredArticle], sources: Mapping[str, SourceConfig]
) -> bytes:
    """Atom 1.0 document, UTF-8 with an XML declaration."""
    fg = _feedgen(meta, _entries(items, sources), "atom")
    return fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)


def render_rss(
    meta: FeedMeta, items: Sequence[StoredArticle], sources: Mapping[str, SourceConfig]
) -> bytes:
    """RSS 2.0 document (authors as dc:creator), UTF-8 with an XML declaration."""
    fg = _feedgen(meta, _entries(items, sources), "rss")
    with _RSS_LOCK:
        return fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)


def _feedgen(meta: FeedMeta, entries: Sequence[_Entry], fmt: str) -> FeedGenerator:
    fg = FeedGenerator()
    # dc:creator only in RSS; Atom has real <author> elements.
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("links", _NoFeedLinks, _EntryLinks, atom=True, rss=False)
    title = _text(meta.title).strip() or GENERATOR
    fg.id(_text(meta.id))
    fg.title(title)
    fg.subtitle(_text(meta.subtitle).strip() or title)
    fg.language(_text(meta.language))
    fg.updated(_feed_updated(meta, entries))
    fg.generator(GENERATOR)
    fg.author({"name": FEED_AUTHOR})
    fg.link(href=_text(meta.self_url), rel="self", type=CONTENT_TYPES[fmt].split(";")[0])
    # feedgen uses the last link as the RSS <link>: the HTML page goes last.
    fg.link(href=_text(meta.link), rel="alternate", type="text/html")
    for entry in entries:
        _add_entry(fg, entry, fmt)
    return fg


def _add_entry(fg: FeedGenerator, e: _Entry, fmt: str) -> None:
    fe = fg.add_entry(order="append")  # feedgen prepends by default
    fe.guid(e.guid, permalink=False)
    fe.title(e.title)
    fe.link(href=e.url, rel="alternate")  # Atom: written without rel, which means alternate
    if e.image and fmt == "atom":
        fe.links.links.append({"rel": "enclosure", "type": e.image_type, "href": e.image})
    if fmt == "atom":
        for name, link in e.related:
            fe.links.links.append({"rel": "related", "type": "text/html", "href": link, "title": name})
    elif e.image:
        fe.link(href=e.image, rel="enclosure", type=e.image_type)  # RSS <enclosure length="0">
    fe.published(e.published)
    fe.updated(e.updated)
    if e.authors:
        fe.author([{"name": name} for name in e.authors])
        fe.dc.dc_creator(list(e.authors))
    if e.categories:
        fe.category([{"term": c.term, "label": c.label, "scheme": c.scheme} for c in e.categories])
    if e.content_html:
        fe.content(e.content_html, type="html")
    if e.summary:
        fe.summary(html.escape(e.summary, quote=False) if fmt == "rss" else e.summary)


# -- JSON Feed 1.1 -------------------------------------------------------------


def render_json(
    meta: FeedMeta, items: Sequence[StoredArticle], sources: Mapping[str, SourceConfig]
) -> bytes:
    """JSON Feed 1.1 document, UTF-8."""
    entries = _entries(items, sources)
    title = _text(meta.title).strip() or GENERATOR
    doc: dict[str, object] = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": _text(meta.link),
        "feed_url": _text(meta.self_url),
        "description": _text(meta.subtitle).strip() or title,
        "language": _text(meta.language),
        "authors": [{"name": FEED_AUTHOR}],
        "items": [_json_item(e) for e in entries],
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_item(e: _Entry) -> dict[str, object]:
    item: dict[str, object] = {"id": e.guid, "url": e.url, "title": e.title}
    if e.content_html:
        item["content_html"] = e.content_html
    item["content_text"] = e.content_text or e.summary  # one of the two is required
    if e.summary:
        item["summary"] = e.summary
    if e.image:
        item["image"] = e.image
    item["date_published"] = _rfc3339(e.published)
    item["date_modified"] = _rfc3339(e.updated)
    if e.authors:
        item["authors"] = [{"name": name} for name in e.authors]
    if e.categories:
        item["tags"] = [c.label for c in e.categories]
    return item


_RENDERERS: dict[
    str, Callable[[FeedMeta, Sequence[StoredArticle], Mapping[str, SourceConfig]], bytes]
] = {"atom": render_atom, "rss": render_rss, "json": render_json}


# -- small helpers -------------------------------------------------------------


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown feed format {fmt!r} (use one of: {', '.join(FORMATS)})")


def _text(value: str | None) -> str:
    """NFC and XML-safe; every string bound for a feed passes through here."""
    return strip_xml_illegal(nfc(value)) if value else ""


def _utc(dt: datetime) -> datetime:
    """Aware UTC, whole seconds; a naive datetime is taken to be UTC already."""
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.replace(microsecond=0)


def _rfc3339(dt: datetime) -> str:
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
    parts = urlsplit(source.start_urls[0])
    return f"{parts.scheme}://{parts.netloc}/"
