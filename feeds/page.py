"""The HTML home page: latest stories, search, filters, paging, source health, feed links.

Public surface::

    PageView                  everything one page shows
    render_page(view) -> bytes
    feed_url(base, fmt, source_id=None, query="")
    format_vn_time(dt)        "05/01/2024 17:37" in Asia/Ho_Chi_Minh
    CONTENT_TYPE, SECURITY_HEADERS, CSS

The parts live beside it: ``page_query`` (the page's parameters),
``page_items`` (one story), ``snippet`` (search highlights), ``page_sources``
(the sources table), ``page_style`` (CSS and CSP), ``topics`` (the topic
table).  Every value from the store or the config is escaped with
``html.escape`` (quotes included, attributes always double-quoted); links and
images are emitted only for http(s) URLs.  The page needs no script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape

from scraper.config import Config
from scraper.models import SourceHealth, StoredArticle
from storage.base import search_terms

from .filters import Filter
from .page_items import article_item, source_name
from .page_query import PageQuery, regions
from .page_sources import sources_table
from .page_style import CSS, SECURITY_HEADERS
from .page_time import VN_TIMEZONE, format_vn_time
from .render import CONTENT_TYPES, FEED_FILES, FORMATS
from .topics import TOPICS

__all__ = [
    "CONTENT_TYPE",
    "CSS",
    "SECURITY_HEADERS",
    "VN_TIMEZONE",
    "PageView",
    "feed_url",
    "format_vn_time",
    "render_page",
]

CONTENT_TYPE = "text/html; charset=utf-8"
FORMAT_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
_NO_FILTER = PageQuery(base=Filter(sources=(), q="", limit=50, default_limit=50))


@dataclass(frozen=True)
class PageView:
    """What one rendering of the page shows.

    ``total``: how many entries the filters find in all (None: not counted);
    ``next_cursor``: the "Xem tiếp" link's cursor (None: this is the last page).
    """

    config: Config
    base_url: str
    items: Sequence[StoredArticle]
    health: Sequence[SourceHealth]
    page: PageQuery = field(default=_NO_FILTER)
    total: int | None = None
    next_cursor: tuple[datetime, int] | None = None

    @property
    def home(self) -> str:
        return self.base_url.rstrip("/") + "/"


def feed_url(base_url: str, fmt: str, source_id: str | None = None, query: str = "") -> str:
    """``{base}/feed.{fmt}`` or ``{base}/sources/{id}/feed.{fmt}``, plus ``?query``."""
    base = base_url.rstrip("/")
    path = f"/sources/{source_id}" if source_id else ""
    return f"{base}{path}/{FEED_FILES[fmt]}" + (f"?{query}" if query else "")


def render_page(view: PageView) -> bytes:
    """The whole HTML document, UTF-8."""
    cfg = view.config
    base = view.base_url.rstrip("/")
    links = {s: _feed_links(view.base_url, s) for s in cfg.sources}
    parts = [
        "<!doctype html>",
        '<html lang="vi">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(_page_title(view))}</title>",
        f'<meta name="description" content="{escape(cfg.feed.description)}">',
        *_alternates(view),
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f'<h1><a href="{escape(view.home)}">{escape(cfg.feed.title)}</a></h1>',
        f'<p class="lead">{escape(cfg.feed.description)}</p>',
        f'<p class="feeds">Theo dõi toàn bộ tin: {_feed_links(view.base_url)}'
        f' · <a href="{escape(base + "/opml")}">OPML</a>'
        " (danh sách mọi nguồn cấp)</p>",
        "</header>",
        "<main>",
        _search_form(view),
        *_articles(view),
        *sources_table(cfg, view.health, links),
        "</main>",
        "<footer>",
        "<p>Giờ hiển thị theo giờ Việt Nam (GMT+7). Bài viết và ảnh thuộc về các trang nguồn;"
        " qkfeed chỉ tổng hợp tiêu đề, tóm tắt và đường dẫn.</p>",
        f'<p><a href="{escape(base + "/healthz")}">Tình trạng dịch vụ</a>'
        f' · <a href="{escape(base + "/metrics")}">Số liệu (Prometheus)</a></p>',
        "</footer>",
        "</body>",
        "</html>",
    ]
    return ("\n".join(parts) + "\n").encode("utf-8")


# -- pieces --------------------------------------------------------------------


def _page_title(view: PageView) -> str:
    if view.page.base.q:
        return f"Tìm “{view.page.base.q}” — {view.config.feed.title}"
    return view.config.feed.title


def _alternates(view: PageView) -> list[str]:
    """Feed auto-discovery: the filtered feed first (when a feed can follow it), then all."""
    links: list[str] = []
    title = view.config.feed.title
    if view.page.filtered and view.page.feedable:
        label = f"{title} — {_filter_label(view)}"
        query = view.page.feed_query(view.config)
        links += [
            _alternate(fmt, f"{label} ({FORMAT_LABELS[fmt]})", feed_url(view.base_url, fmt, query=query))
            for fmt in FORMATS
        ]
    links += [
        _alternate(fmt, f"{title} ({FORMAT_LABELS[fmt]})", feed_url(view.base_url, fmt))
        for fmt in FORMATS
    ]
    return links


def _alternate(fmt: str, title: str, href: str) -> str:
    mime = CONTENT_TYPES[fmt].split(";")[0]
    return f'<link rel="alternate" type="{mime}" title="{escape(title)}" href="{escape(href)}">'


def _feed_links(base_url: str, source_id: str | None = None, query: str = "") -> str:
    return " · ".join(
        f'<a href="{escape(feed_url(base_url, fmt, source_id, query))}"'
        f' type="{CONTENT_TYPES[fmt].split(";")[0]}">{FORMAT_LABELS[fmt]}</a>'
        for fmt in FORMATS
    )


def _options(pairs: Sequence[tuple[str, str]], chosen: Sequence[str], everything: str) -> str:
    out = [f'<option value="">{escape(everything)}</option>']
    for value, label in pairs:
        selected = " selected" if value in chosen else ""
        out.append(f'<option value="{escape(value)}"{selected}>{escape(label)}</option>')
    return "".join(out)


def _search_form(view: PageView) -> str:
    """The filter form.  Each field is a label with its control, so a narrow screen wraps the
    form between fields, never between a label and what it names.  No action attribute: the
    form submits to this page, wherever it is mounted; it starts again from the newest.
    The source checkboxes fold into one line (``<details>``, open when some are chosen):
    fourteen of them would fill a phone's first screen."""
    pq, cfg = view.page, view.config
    region_opts = _options([(r, r) for r in regions(cfg)], pq.regions, "Mọi vùng")
    topic_opts = _options([(t.id, t.label) for t in TOPICS], [pq.topic.id] if pq.topic else [],
                          "Mọi chủ đề")
    chosen = len(pq.base.sources)
    summary = f"Nguồn: đã chọn {chosen}" if chosen else "Nguồn: tất cả"
    boxes = "".join(
        f'<label><input type="checkbox" name="source" value="{escape(s.id)}"'
        f'{" checked" if s.id in pq.base.sources else ""}> {escape(s.name)}</label>'
        for s in cfg.sources.values()
    )
    return (
        '<form method="get" role="search">'
        '<span class="field grow"><label for="q">Tìm kiếm</label>'
        f'<input type="search" id="q" name="q" value="{escape(pq.base.q)}" maxlength="200"'
        ' placeholder="ví dụ: biên giới — gõ không dấu cũng được"></span>'
        '<span class="field"><label for="region">Vùng</label>'
        f'<select id="region" name="region">{region_opts}</select></span>'
        '<span class="field"><label for="topic">Chủ đề</label>'
        f'<select id="topic" name="topic">{topic_opts}</select></span>'
        '<span class="field"><label for="from">Từ ngày</label>'
        f'<input type="date" id="from" name="from" value="{_iso_day(pq.day_from)}"></span>'
        '<span class="field"><label for="to">Đến ngày</label>'
        f'<input type="date" id="to" name="to" value="{_iso_day(pq.day_to)}"></span>'
        f'<details class="sources"{" open" if chosen else ""}><summary>{escape(summary)}</summary>'
        f'<fieldset><legend>Chọn một hay nhiều nguồn (không chọn: tất cả)</legend>{boxes}</fieldset>'
        "</details>"
        '<span class="field submit"><button type="submit">Tìm</button></span>'
        "</form>"
    )


def _filter_label(view: PageView) -> str:
    pq, cfg = view.page, view.config
    bits = []
    if pq.base.q:
        bits.append(f"tìm “{pq.base.q}”")
    if pq.base.sources:
        bits.append("nguồn: " + ", ".join(source_name(cfg.sources, s) for s in pq.base.sources))
    if pq.regions:
        bits.append("vùng: " + ", ".join(pq.regions))
    if pq.topic:
        bits.append(f"chủ đề: {pq.topic.label}")
    if pq.day_from or pq.day_to:
        bits.append(f"ngày {_day(pq.day_from) or '…'} – {_day(pq.day_to) or '…'}")
    return "; ".join(bits)


def _iso_day(d: date | None) -> str:
    return d.isoformat() if d is not None else ""


def _day(d: date | None) -> str:
    return d.strftime("%d/%m/%Y") if d is not None else ""


def _articles(view: PageView) -> list[str]:
    pq = view.page
    heading = "Kết quả tìm kiếm" if pq.base.q else "Tin mới nhất"
    out = ['<section aria-labelledby="tin">', f'<h2 id="tin">{escape(heading)}</h2>']
    if view.total is not None:
        unit = "tin" if not pq.base.q else "bài khớp"
        out.append(f'<p class="note count">Tìm thấy <strong>{view.total}</strong> {unit}.</p>')
    if pq.filtered:
        follow = ""
        if pq.feedable:
            query = pq.feed_query(view.config)
            follow = f" · Theo dõi kết quả này: {_feed_links(view.base_url, query=query)}"
        out.append(
            f'<p class="note">Đang lọc theo {escape(_filter_label(view))}'
            f' · <a href="{escape(view.home)}">Bỏ lọc</a>{follow}</p>'
        )
    if not view.items:
        out.append(f'<p class="note">{_empty_text(view)}</p>')
    else:
        terms = frozenset(search_terms(pq.base.q)) if pq.base.q else frozenset()
        out.append('<ol class="articles">')
        out.extend(article_item(view.config.sources, item, terms, view.home) for item in view.items)
        out.append("</ol>")
    out.append(_pager(view))
    out.append("</section>")
    return out


def _empty_text(view: PageView) -> str:
    pq = view.page
    if pq.before is not None:
        return "Không còn bài viết cũ hơn."
    if pq.base.q:
        return f"Không tìm thấy bài viết nào khớp với “{escape(pq.base.q)}”."
    if pq.filtered:
        return "Không có bài viết nào khớp với bộ lọc."
    text = "Chưa có bài viết nào."
    failing = [h for h in view.health if h.consecutive_failures]
    if failing:
        text += (f' {len(failing)} nguồn đang lỗi: xem lý do và lần thử tiếp theo ở'
                 ' <a href="#nguon">bảng các nguồn</a>.')
    return text


def _pager(view: PageView) -> str:
    links = []
    if view.next_cursor is not None:
        href = view.home + "?" + view.page.query(before=view.next_cursor)
        links.append(f'<a rel="next" href="{escape(href)}">Xem tiếp</a>')
    if view.page.before is not None:
        first = view.page.query(page=False)
        href = view.home + (f"?{first}" if first else "")
        links.append(f'<a href="{escape(href)}">Về tin mới nhất</a>')
    return f'<nav class="pager" aria-label="Trang">{"".join(links)}</nav>' if links else ""
