"""The edits and removals feeds (issue 12): ``/edits.atom|rss|json`` and ``/removed.atom|rss|json``,
also per source (``/sources/{id}/edits.atom`` ...).

One entry per change seen: an edit's entry says which fields changed and
carries the word-level diff of title and body as HTML (``<ins>``/``<del>``,
``feeds.diff``); a removal's entry says when the article was taken down and
keeps its last text.  Both link the article view (``/articles/{id}``,
``feeds.articleview``), where every version stays readable.  Entry ids are
stable (uuid5 of the article's GUID, the kind of change and its time), so a
reader shows each change once.

Documents are rendered once per store version, like the main feeds (the
server's shared render cache); newest change first, ``[feed] max_entries`` of
them.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scraper.config import Config, SourceConfig
from scraper.models import StoredArticle
from scraper.text import clean_text
from scraper.versions import Edit
from storage.offloop import StoreTimeout

from .cache import Rendered
from .conditional import conditional_response
from .diff import FIELD_NAMES, changed_fields, edit_html
from .entries import CONTENT_TYPES, FORMATS, Entry, FeedMeta, text, utc
from .filters import shown
from .render import render_entries

__all__ = ["KINDS", "add_history_counts", "edit_entries", "history_meta", "history_routes", "removal_entries"]

KINDS = ("edits", "removed")
FEED_FILE = "{kind}.{fmt}"
TITLES = {
    "edits": ("Bài đã sửa", "Những thay đổi trong các bài đã đăng"),
    "removed": ("Bài đã gỡ", "Những bài các trang đã gỡ xuống"),
}


def article_link(base: str, article_id: int) -> str:
    """The article view's URL: current text, badge, versions and diffs."""
    return f"{base.rstrip('/')}/articles/{article_id}"


def history_meta(config: Config, kind: str, fmt: str, base: str, source_id: str | None) -> FeedMeta:
    base = base.rstrip("/")
    title, subtitle = TITLES[kind]
    name = config.feed.title if source_id is None else config.source(source_id).name
    where = "" if source_id is None else f"/sources/{source_id}"
    return FeedMeta(
        id=f"urn:qkfeed:{kind}:" + ("all" if source_id is None else f"source:{source_id}"),
        title=f"{title} — {name}",
        subtitle=subtitle,
        link=f"{base}/",
        self_url=f"{base}{where}/{FEED_FILE.format(kind=kind, fmt=fmt)}",
        language=config.feed.language,
    )


def _entry_id(guid: str, kind: str, when: datetime) -> str:
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{guid}#{kind}@{when.isoformat()}"))


def edit_entries(edits: Sequence[Edit], base: str) -> list[Entry]:
    """One entry per edit, newest first as given."""
    found = []
    for e in edits:
        link = article_link(base, e.article_id)
        fields = [FIELD_NAMES[f] for f in changed_fields(e.before, e.after)] or ["định dạng"]
        content = edit_html(e.before, e.after, history_link=link)
        when = utc(e.seen_at)
        found.append(Entry(
            guid=_entry_id(e.guid, "edit", e.seen_at),
            url=text(link),
            title=text(f"Đã sửa {', '.join(fields)}: {clean_text(e.after.title) or e.url}"),
            summary=text(f"Sửa {', '.join(fields)}; bài gốc: {e.link}"),
            content_html=text(content),
            content_text=text(f"Sửa {', '.join(fields)}."),
            published=when,
            updated=when,
            authors=tuple(text(a) for a in e.after.authors),
            categories=(),
            image=None,
            image_type="",
        ))
    return found


def removal_entries(items: Sequence[StoredArticle], base: str,
                    sources: Mapping[str, SourceConfig]) -> list[Entry]:
    """One entry per removed article, the latest removal first as given."""
    found = []
    for item in items:
        art = item.article
        when = utc(item.removed_at or item.updated)
        link = article_link(base, item.id)
        source = sources.get(art.source_id)
        site = source.name if source else art.source_id
        note = (f"<p>Bài viết đã bị gỡ khỏi {html.escape(site, quote=False)} lúc {when.isoformat()}. "
                f'Bản cuối cùng qkfeed lưu được ở dưới; <a href="{html.escape(link)}">lịch sử các phiên bản</a>.</p>')
        found.append(Entry(
            guid=_entry_id(item.guid, "removed", when),
            url=text(link),
            title=text(f"Đã gỡ: {clean_text(art.title) or art.url}"),
            summary=text(f"Đã gỡ khỏi {site}; địa chỉ cũ: {art.original_url or art.url}"),
            content_html=text(note + "\n" + art.body_html),
            content_text=text(art.body_text),
            published=when,
            updated=when,
            authors=tuple(text(a) for a in art.authors),
            categories=(),
            image=None,
            image_type="",
        ))
    return found


class HistoryFeeds:
    """The endpoints, on top of the feed server's cache and store version (``feeds.app``)."""

    def __init__(self, server: Any) -> None:
        self.server = server  # feeds.app._Server: config, store, cached(), _version(), base()

    async def combined(self, request: Request, kind: str, fmt: str) -> Response:
        return await self._feed(request, kind, fmt, None)

    async def per_source(self, request: Request, kind: str, fmt: str) -> Response:
        source_id = request.path_params["source_id"]
        if source_id not in self.server.config.sources:
            raise HTTPException(404, detail=f"No such source: {shown(source_id)}\n")
        return await self._feed(request, kind, fmt, source_id)

    async def _feed(self, request: Request, kind: str, fmt: str, source_id: str | None) -> Response:
        base = self.server.base(request)
        version = await self.server._version()  # noqa: SLF001 - the feed server's own helper
        key = (kind, fmt, source_id, base)
        if not self.server.probe.up and self.server.cache.get(key, version) is None:
            raise StoreTimeout(f"{request.url.path}: not rendered yet and the store is down")
        doc = await self.server.cached(key, version, partial(self._render, kind, fmt, source_id, base))
        return conditional_response(request, doc)

    def _render(self, kind: str, fmt: str, source_id: str | None, base: str) -> Rendered:
        config, store = self.server.config, self.server.store
        limit = config.feed.max_entries
        meta = history_meta(config, kind, fmt, base, source_id)
        if kind == "edits":
            items = edit_entries(store.edits(source_id=source_id, limit=limit), base)
        else:
            items = removal_entries(store.removed(source_id=source_id, limit=limit), base, config.sources)
        newest = max((e.updated for e in items), default=None)
        return Rendered.of(render_entries(fmt, meta, items), CONTENT_TYPES[fmt], newest)


def add_history_counts(store: Any, document: dict[str, Any]) -> None:
    """Put each source's revisits, edits and removals into a ``/healthz`` document (in place)."""
    sources = document.get("sources", {})
    for sid, counts in store.history_counts(list(sources)).items():
        sources[sid].update(revisits=counts.revisits, edits=counts.edits, removed=counts.removed)


def history_routes(server: Any) -> list[Route]:
    """``/edits.*``, ``/removed.*``, their per-source twins and ``/articles/{id}``."""
    from .articleview import ArticleView

    feeds = HistoryFeeds(server)
    methods = ["GET", "HEAD"]
    routes = []
    for kind in KINDS:
        for fmt in FORMATS:
            name = FEED_FILE.format(kind=kind, fmt=fmt)
            routes.append(Route(f"/{name}", partial(feeds.combined, kind=kind, fmt=fmt),
                                methods=methods, name=f"{kind}_{fmt}"))
            routes.append(Route(f"/sources/{{source_id}}/{name}", partial(feeds.per_source, kind=kind, fmt=fmt),
                                methods=methods, name=f"source_{kind}_{fmt}"))
    routes.append(Route("/articles/{article_id:int}", ArticleView(server).page, methods=methods,
                        name="article"))
    return routes
