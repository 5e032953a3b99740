"""Entries -> a JSON Feed 1.1 document (by hand: feedgen has no JSON Feed)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from scraper.config import SourceConfig
from scraper.models import StoredArticle

from .entries import FEED_AUTHOR, GENERATOR, Entry, FeedMeta, entries, rfc3339, text

__all__ = ["JSON_FEED_VERSION", "render_json", "render_json_entries"]

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def render_json(
    meta: FeedMeta, items: Sequence[StoredArticle], sources: Mapping[str, SourceConfig]
) -> bytes:
    """JSON Feed 1.1 document, UTF-8."""
    return render_json_entries(meta, entries(items, sources, meta.history_base))


def render_json_entries(meta: FeedMeta, items_: Sequence[Entry]) -> bytes:
    """JSON Feed 1.1 document of entries built by the caller, UTF-8."""
    title = text(meta.title).strip() or GENERATOR
    doc: dict[str, object] = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": text(meta.link),
        "feed_url": text(meta.self_url),
        "description": text(meta.subtitle).strip() or title,
        "language": text(meta.language),
        "authors": [{"name": FEED_AUTHOR}],
        "items": [_json_item(e) for e in items_],
    }
    doc.update(_links(meta))
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _links(meta: FeedMeta) -> dict[str, object]:
    """``FeedMeta.links`` where JSON Feed has a place for them: ``hubs`` (WebSub), and
    ``next_url`` (the older items: RFC 5005's prev-archive); the archive links all
    in the ``_archive`` extension object (JSON Feed 1.1 allows ``_``-keys)."""
    found: dict[str, object] = {}
    hubs = [{"type": "WebSub", "url": text(href)} for rel, href in meta.links if rel == "hub"]
    if hubs:
        found["hubs"] = hubs
    history = {rel.replace("-", "_"): text(href) for rel, href in meta.links
               if rel in ("current", "prev-archive", "next-archive")}
    if "prev_archive" in history:
        found["next_url"] = history["prev_archive"]
    if history or meta.archive:
        found["_archive"] = {**history, "archive": meta.archive}
    return found


def _json_item(e: Entry) -> dict[str, object]:
    item: dict[str, object] = {"id": e.guid, "url": e.url, "title": e.title}
    if e.content_html:
        item["content_html"] = e.content_html
    item["content_text"] = e.content_text or e.summary  # one of the two is required
    if e.summary:
        item["summary"] = e.summary
    if e.image:
        item["image"] = e.image
    item["date_published"] = rfc3339(e.published)
    item["date_modified"] = rfc3339(e.updated)
    if e.authors:
        item["authors"] = [{"name": name} for name in e.authors]
    if e.categories:
        item["tags"] = [c.label for c in e.categories]
    return item
