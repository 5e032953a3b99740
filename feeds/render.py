"""Stored articles -> Atom 1.0, RSS 2.0 and JSON Feed 1.1 documents.

Public surface::

    FeedMeta, feed_meta(config, source_id=..., base_url=..., fmt=...)
    render(fmt, meta, items, sources) -> bytes
    render_entries(fmt, meta, entries) -> bytes       entries built by the caller (feeds.history)
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

Atom and RSS are built here with feedgen; JSON Feed 1.1 by hand in
``feeds.jsonfeed`` (feedgen lacks it); the entries all three share come from
``feeds.entries``.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Mapping, Sequence

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from scraper.config import SourceConfig
from scraper.models import StoredArticle

from .entries import (
    CONTENT_TYPES,
    EMPTY_FEED_UPDATED,
    FEED_AUTHOR,
    FEED_FILES,
    FORMATS,
    GENERATOR,
    Entry,
    FeedMeta,
    check_format,
    entries,
    feed_meta,
    feed_updated,
    text,
)
from .jsonfeed import render_json, render_json_entries

__all__ = [
    "CONTENT_TYPES",
    "EMPTY_FEED_UPDATED",
    "FEED_FILES",
    "FORMATS",
    "FeedMeta",
    "feed_meta",
    "render",
    "render_atom",
    "render_entries",
    "render_json",
    "render_rss",
]

# feedgen formats RSS dates by switching the process locale to C and back;
# serialize that so concurrent renders cannot leave the locale switched.
_RSS_LOCK = threading.Lock()


def render(
    fmt: str,
    meta: FeedMeta,
    items: Sequence[StoredArticle],
    sources: Mapping[str, SourceConfig],
) -> bytes:
    """Render ``items`` (newest first) in format ``fmt`` ("atom", "rss" or "json")."""
    check_format(fmt)
    return _RENDERERS[fmt](meta, items, sources)


# -- Atom and RSS (feedgen) ---------------------------------------------------

HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005's fh:
ATOM_NS = "http://www.w3.org/2005/Atom"


class FeedLinks(BaseExtension):
    """``FeedMeta.links`` and ``archive`` as feed-level elements.

    Atom: ``<link rel=… href=…>`` (before the entries, where RFC 4287 wants
    feed metadata) and ``<fh:archive/>``; RSS: ``<atom:link>`` in the channel
    (feedgen writes only the self link there) and ``<fh:archive/>``.
    """

    def __init__(self) -> None:
        self.links: tuple[tuple[str, str], ...] = ()
        self.archive = False

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NS} if self.archive else {}

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        for rel, href in self.links:
            etree.SubElement(feed, "link", {"rel": rel, "href": href})  # unprefixed, like feedgen's
        if self.archive:
            etree.SubElement(feed, f"{{{HISTORY_NS}}}archive")
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed[0]
        for rel, href in self.links:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", {"rel": rel, "href": href})
        if self.archive:
            etree.SubElement(channel, f"{{{HISTORY_NS}}}archive")
        return feed


class _NoFeedLinks(BaseExtension):
    """Feed-level half of the ``EntryLinks`` extension: adds nothing."""


class _NoEntryLinks(BaseEntryExtension):
    """Entry-level half of the ``FeedLinks`` extension: adds nothing."""


class EntryLinks(BaseEntryExtension):
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
    return render_entries("atom", meta, entries(items, sources, meta.history_base))


def render_rss(
    meta: FeedMeta, items: Sequence[StoredArticle], sources: Mapping[str, SourceConfig]
) -> bytes:
    """RSS 2.0 document (authors as dc:creator), UTF-8 with an XML declaration."""
    return render_entries("rss", meta, entries(items, sources, meta.history_base))


def render_entries(fmt: str, meta: FeedMeta, items: Sequence[Entry]) -> bytes:
    """Render entries built elsewhere (the edits and removals feeds, ``feeds.history``)."""
    check_format(fmt)
    if fmt == "json":
        return render_json_entries(meta, items)
    fg = _feedgen(meta, items, fmt)
    if fmt == "atom":
        return fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    with _RSS_LOCK:
        return fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)


def _feedgen(meta: FeedMeta, entries: Sequence[Entry], fmt: str) -> FeedGenerator:
    fg = FeedGenerator()
    # dc:creator only in RSS; Atom has real <author> elements.
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("links", _NoFeedLinks, EntryLinks, atom=True, rss=False)
    if meta.links or meta.archive:
        fg.register_extension("history", FeedLinks, _NoEntryLinks, atom=True, rss=True)
        fg.history.links = tuple((text(rel), text(href)) for rel, href in meta.links)
        fg.history.archive = meta.archive
    title = text(meta.title).strip() or GENERATOR
    fg.id(text(meta.id))
    fg.title(title)
    fg.subtitle(text(meta.subtitle).strip() or title)
    fg.language(text(meta.language))
    fg.updated(feed_updated(meta, entries))
    fg.generator(GENERATOR)
    fg.author({"name": FEED_AUTHOR})
    fg.link(href=text(meta.self_url), rel="self", type=CONTENT_TYPES[fmt].split(";")[0])
    # feedgen uses the last link as the RSS <link>: the HTML page goes last.
    fg.link(href=text(meta.link), rel="alternate", type="text/html")
    for entry in entries:
        _add_entry(fg, entry, fmt)
    return fg


def _add_entry(fg: FeedGenerator, e: Entry, fmt: str) -> None:
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


_RENDERERS: dict[
    str, Callable[[FeedMeta, Sequence[StoredArticle], Mapping[str, SourceConfig]], bytes]
] = {"atom": render_atom, "rss": render_rss, "json": render_json}
