"""The HTML home page: latest articles, search, source filter, source health, feed links.

Public surface::

    PageView                  everything one page shows
    render_page(view) -> bytes
    feed_url(base, fmt, source_id=None, query="")
    format_vn_time(dt)        "05/01/2024 17:37" in Asia/Ho_Chi_Minh
    CONTENT_TYPE, SECURITY_HEADERS

Every value from the store or the config is escaped with ``html.escape``
(quotes included, attributes are always double-quoted); an article is linked
only when its URL is http(s).  The page needs no script and no image: the
Content-Security-Policy allows nothing but the one inline stylesheet, by hash.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from scraper.config import Config, SourceConfig
from scraper.models import SourceHealth, StoredArticle
from scraper.text import clean_text

from .articleview import list_marks
from .opml import site_home
from .render import CONTENT_TYPES, FEED_FILES, FORMATS

__all__ = [
    "CONTENT_TYPE",
    "SECURITY_HEADERS",
    "VN_TIMEZONE",
    "PageView",
    "feed_url",
    "format_vn_time",
    "render_page",
]

CONTENT_TYPE = "text/html; charset=utf-8"
VN_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TIME_FORMAT = "%d/%m/%Y %H:%M"
SUMMARY_CHARS = 320
NO_TIME = "—"
FORMAT_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
LINK_SCHEMES = frozenset({"http", "https"})

CSS = """
:root{color-scheme:light dark;--fg:#1d2327;--muted:#5f6b73;--bg:#fbfaf7;--card:#fff;
--line:#e2e0da;--accent:#1f5f3a;--warn:#9a5b00;--bad:#a4262c}
@media (prefers-color-scheme:dark){:root{--fg:#e7e5df;--muted:#a3aaa5;--bg:#17191a;
--card:#202324;--line:#34393a;--accent:#7fcf9b;--warn:#e5b55c;--bad:#ff8a8a}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);line-height:1.5;
font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif}
a{color:var(--accent)}
header,main,footer{max-width:62rem;margin:0 auto;padding:0 1rem}
header{padding-top:1.5rem}
h1{margin:0 0 .25rem;font-size:1.6rem}h1 a{color:inherit;text-decoration:none}
h2{font-size:1.2rem;margin:1.75rem 0 .75rem}
h3{font-size:1.05rem;margin:0 0 .25rem}
.lead,.meta,.note,footer{color:var(--muted)}
.meta{font-size:.875rem;margin:0 0 .35rem}
.feeds{font-size:.9rem}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:1.25rem 0;padding:.75rem;
background:var(--card);border:1px solid var(--line);border-radius:.5rem}
input[type=search]{flex:1 1 16rem;padding:.45rem .6rem;font:inherit}
select,button{padding:.4rem .6rem;font:inherit}
.articles{list-style:none;margin:0;padding:0}
.articles li{background:var(--card);border:1px solid var(--line);border-radius:.5rem;
padding:.8rem 1rem;margin:0 0 .6rem}
.summary{margin:.25rem 0 0}
table{border-collapse:collapse;width:100%;font-size:.9rem;background:var(--card)}
th,td{border:1px solid var(--line);padding:.4rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right}
.ok{color:var(--accent)}.warn{color:var(--warn)}.bad{color:var(--bad)}
footer{font-size:.85rem;padding:1.5rem 1rem 2rem}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class PageView:
    """What one rendering of the page shows.  ``query`` is the canonical filter query string."""

    config: Config
    base_url: str
    items: Sequence[StoredArticle]
    health: Sequence[SourceHealth]
    sources: tuple[str, ...] = ()  # the source filter; () = every source
    q: str = ""
    query: str = ""


def feed_url(base_url: str, fmt: str, source_id: str | None = None, query: str = "") -> str:
    """``{base}/feed.{fmt}`` or ``{base}/sources/{id}/feed.{fmt}``, plus ``?query``."""
    base = base_url.rstrip("/")
    path = f"/sources/{source_id}" if source_id else ""
    return f"{base}{path}/{FEED_FILES[fmt]}" + (f"?{query}" if query else "")


def format_vn_time(dt: datetime | None) -> str:
    """``dt`` in Vietnam time as ``05/01/2024 17:37``; a naive datetime is taken as UTC."""
    if dt is None:
        return NO_TIME
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(VN_TIMEZONE).strftime(TIME_FORMAT)


def render_page(view: PageView) -> bytes:
    """The whole HTML document, UTF-8."""
    cfg = view.config
    title = cfg.feed.title
    filtered = bool(view.sources or view.q)
    parts = [
        "<!doctype html>",
        '<html lang="vi">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(_page_title(view))}</title>",
        f'<meta name="description" content="{_e(cfg.feed.description)}">',
        *_alternates(view, filtered),
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f'<h1><a href="{_e(view.base_url.rstrip("/") + "/")}">{_e(title)}</a></h1>',
        f'<p class="lead">{_e(cfg.feed.description)}</p>',
        f'<p class="feeds">Theo dõi toàn bộ tin: {_feed_links(view.base_url)}'
        f' · <a href="{_e(view.base_url.rstrip("/") + "/opml")}">OPML</a>'
        " (danh sách mọi nguồn cấp)</p>",
        "</header>",
        "<main>",
        _search_form(view),
        *_articles(view, filtered),
        *_sources_table(view),
        "</main>",
        "<footer>",
        "<p>Giờ hiển thị theo giờ Việt Nam (GMT+7). Bài viết thuộc về các trang nguồn;"
        " qkfeed chỉ tổng hợp tiêu đề, tóm tắt và đường dẫn.</p>",
        f'<p><a href="{_e(view.base_url.rstrip("/") + "/healthz")}">Tình trạng dịch vụ</a>'
        f' · <a href="{_e(view.base_url.rstrip("/") + "/metrics")}">Số liệu (Prometheus)</a></p>',
        "</footer>",
        "</body>",
        "</html>",
    ]
    return ("\n".join(parts) + "\n").encode("utf-8")


# -- pieces --------------------------------------------------------------------


def _page_title(view: PageView) -> str:
    if view.q:
        return f"Tìm “{view.q}” — {view.config.feed.title}"
    return view.config.feed.title


def _alternates(view: PageView, filtered: bool) -> list[str]:
    """Feed auto-discovery: the filtered feed first (when filtering), then the combined one."""
    links: list[str] = []
    if filtered:
        label = _filter_label(view)
        links += [
            _alternate(
                fmt,
                f"{label} ({FORMAT_LABELS[fmt]})",
                feed_url(view.base_url, fmt, query=view.query),
            )
            for fmt in FORMATS
        ]
    title = view.config.feed.title
    links += [
        _alternate(fmt, f"{title} ({FORMAT_LABELS[fmt]})", feed_url(view.base_url, fmt))
        for fmt in FORMATS
    ]
    return links


def _alternate(fmt: str, title: str, href: str) -> str:
    mime = CONTENT_TYPES[fmt].split(";")[0]
    return f'<link rel="alternate" type="{mime}" title="{_e(title)}" href="{_e(href)}">'


def _feed_links(base_url: str, source_id: str | None = None, query: str = "") -> str:
    return " · ".join(
        f'<a href="{_e(feed_url(base_url, fmt, source_id, query))}" type="{CONTENT_TYPES[fmt].split(";")[0]}">'
        f"{FORMAT_LABELS[fmt]}</a>"
        for fmt in FORMATS
    )


def _search_form(view: PageView) -> str:
    only = view.sources[0] if len(view.sources) == 1 else ""
    options = ['<option value="">Tất cả các nguồn</option>']
    for source in view.config.sources.values():
        selected = " selected" if source.id == only else ""
        options.append(f'<option value="{_e(source.id)}"{selected}>{_e(source.name)}</option>')
    # No action attribute: the form submits to this page, wherever it is mounted.
    return (
        '<form method="get" role="search">'
        '<label for="q">Tìm kiếm</label>'
        f'<input type="search" id="q" name="q" value="{_e(view.q)}" maxlength="200"'
        ' placeholder="ví dụ: biên giới — gõ không dấu cũng được">'
        '<label for="source">Nguồn</label>'
        f'<select id="source" name="source">{"".join(options)}</select>'
        '<button type="submit">Tìm</button>'
        "</form>"
    )


def _filter_label(view: PageView) -> str:
    names = [_source_name(view.config.sources, sid) for sid in view.sources]
    bits = []
    if view.q:
        bits.append(f"tìm “{view.q}”")
    if names:
        bits.append("nguồn: " + ", ".join(names))
    return f"{view.config.feed.title} — " + "; ".join(bits)


def _articles(view: PageView, filtered: bool) -> list[str]:
    heading = "Kết quả tìm kiếm" if view.q else "Tin mới nhất"
    out = ['<section aria-labelledby="tin">', f'<h2 id="tin">{_e(heading)}</h2>']
    if filtered:
        bits = []
        if view.q:
            bits.append(f"từ khóa “<strong>{_e(view.q)}</strong>”")
        if view.sources:
            names = ", ".join(_source_name(view.config.sources, s) for s in view.sources)
            bits.append(f"nguồn <strong>{_e(names)}</strong>")
        home = _e(view.base_url.rstrip("/") + "/")
        out.append(
            f'<p class="note">Đang lọc theo {" và ".join(bits)} · <a href="{home}">Bỏ lọc</a>'
            f" · Theo dõi kết quả này: {_feed_links(view.base_url, query=view.query)}</p>"
        )
    if not view.items:
        empty = (
            f"Không tìm thấy bài viết nào khớp với “{_e(view.q)}”."
            if view.q
            else "Chưa có bài viết nào."
        )
        out.append(f'<p class="note">{empty}</p>')
    else:
        out.append('<ol class="articles">')
        out.extend(_article(view.config.sources, item) for item in view.items)
        out.append("</ol>")
    out.append("</section>")
    return out


def _article(sources: Mapping[str, SourceConfig], item: StoredArticle) -> str:
    art = item.article
    url = art.original_url or art.url  # the URL as fetched, like the feeds' entry links
    title = clean_text(art.title) or url
    if _linkable(url):
        heading = f'<a href="{_e(url)}">{_e(title)}</a>'
    else:
        heading = _e(title)
    when = item.published_or_seen
    meta = [
        f'<span class="source">{_e(_source_name(sources, art.source_id))}</span>',
        f'<time datetime="{_e(_iso(when))}">{_e(format_vn_time(when))}</time>',
    ]
    names = [clean_text(a) for a in (art.authors or art.agencies) if clean_text(a)]
    if names:
        meta.append(f'<span class="authors">{_e(", ".join(dict.fromkeys(names)))}</span>')
    meta.extend(list_marks(item))  # "đã sửa N lần" / "đã bị gỡ", linking the article view (issue 12)
    summary = _excerpt(clean_text(art.summary) or clean_text(art.body_text), SUMMARY_CHARS)
    body = f'<p class="summary">{_e(summary)}</p>' if summary else ""
    copies = [
        f'<a href="{_e(sib.link)}">{_e(_source_name(sources, sib.source_id))}</a>'
        for sib in item.siblings
        if _linkable(sib.link)
    ]
    if copies:
        body += f'<p class="also">Cũng đăng trên: {", ".join(copies)}</p>'
    return (
        f"<li><article><h3>{heading}</h3>"
        f'<p class="meta">{" · ".join(meta)}</p>{body}</article></li>'
    )


def _sources_table(view: PageView) -> list[str]:
    health = {h.source_id: h for h in view.health}
    out = [
        '<section aria-labelledby="nguon">',
        '<h2 id="nguon">Các nguồn tin</h2>',
        "<table>",
        "<thead><tr><th>Nguồn</th><th>Bài viết</th><th>Lấy tin thành công gần nhất</th>"
        "<th>Lỗi liên tiếp</th><th>Tình trạng</th><th>Nguồn cấp</th></tr></thead>",
        "<tbody>",
    ]
    for source in view.config.sources.values():
        h = health.get(source.id)
        css, status = _status(source, h)
        region = f'<br><span class="note">{_e(source.region)}</span>' if source.region else ""
        out.append(
            "<tr>"
            f'<td><a href="{_e(site_home(source))}">{_e(source.name)}</a>{region}</td>'
            f'<td class="num">{h.articles if h else 0}</td>'
            f"<td>{_e(format_vn_time(h.last_success if h else None))}</td>"
            f'<td class="num">{h.consecutive_failures if h else 0}</td>'
            f'<td class="{css}">{_e(status)}</td>'
            f"<td>{_feed_links(view.base_url, source.id)}</td>"
            "</tr>"
        )
    out += ["</tbody>", "</table>", "</section>"]
    return out


def _status(source: SourceConfig, h: SourceHealth | None) -> tuple[str, str]:
    """(css class, Vietnamese status text) of one source."""
    if not source.enabled:
        return "note", "Đã tắt"
    if h is None or h.last_run is None:
        return "note", "Chưa chạy lần nào"
    if h.consecutive_failures:
        return "bad", f"Lỗi {h.consecutive_failures} lần liên tiếp"
    if h.degraded:
        return "warn", f"Hoạt động nhưng suy giảm: {h.degraded}"
    return "ok", "Bình thường"


# -- helpers -------------------------------------------------------------------


def _e(value: str) -> str:
    return escape(value, quote=True)


def _linkable(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in LINK_SCHEMES and bool(parts.netloc)


def _source_name(sources: Mapping[str, SourceConfig], source_id: str) -> str:
    source = sources.get(source_id)
    return source.name if source else source_id


def _iso(dt: datetime) -> str:
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _excerpt(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:.-") + "…"
