"""The article view, ``/articles/{id}`` (issue 12): the current text, a badge ("đã sửa N lần",
"đã bị gỡ"), every version seen and the word-level diff between consecutive ones.

A page of its own (``feeds.page`` is the list): the same rules as the list
page, server-rendered HTML with no script, every stored string escaped except
the article body, which is sanitized HTML already (``scraper.normalize.sanitize``);
the Content-Security-Policy allows only the one inline stylesheet, by hash.
Rendered once per store version (the server's render cache).
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from scraper.models import StoredArticle
from scraper.versions import ArticleHistory, Version
from storage.offloop import StoreTimeout

from .cache import Rendered
from .conditional import conditional_response
from .diff import FIELD_NAMES, changed_fields, diff_html

__all__ = ["CONTENT_TYPE", "ArticleView", "list_marks", "render_article"]

CONTENT_TYPE = "text/html; charset=utf-8"
VN_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TIME_FORMAT = "%d/%m/%Y %H:%M"
STYLE = (
    "body{font:16px/1.55 system-ui,sans-serif;max-width:46rem;margin:1.5rem auto;padding:0 1rem;color:#1b1b1b}"
    "h1{font-size:1.5rem;line-height:1.3}.meta{color:#555;font-size:.9rem}"
    ".badge{display:inline-block;padding:.1rem .5rem;border-radius:.6rem;font-size:.85rem;margin-right:.4rem}"
    ".edited{background:#fff3c4;color:#5c4400}.removed{background:#fde0e0;color:#7a1010}"
    "ins{background:#d7f5dd;text-decoration:none}del{background:#fbd9d9}"
    "table{border-collapse:collapse;font-size:.9rem}td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left}"
    ".diff{border-left:3px solid #ccc;padding-left:.8rem;margin:1rem 0}img{max-width:100%;height:auto}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
SECURITY_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; img-src https: http: data:; style-src 'sha256-{_STYLE_HASH}'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def _esc(value: str) -> str:
    return html.escape(value, quote=True)


def _time(when: datetime | None) -> str:
    return when.astimezone(VN_TIMEZONE).strftime(TIME_FORMAT) if when else "—"


def badges(history: ArticleHistory) -> str:
    """The "đã sửa N lần" / "đã bị gỡ" badges (also what the list page could show)."""
    out = []
    if history.edits:
        out.append(f'<span class="badge edited">đã sửa {history.edits} lần</span>')
    if history.status == "removed":
        out.append(f'<span class="badge removed">đã bị gỡ {_esc(_time(history.removed_at))}</span>')
    return "".join(out)


def list_marks(item: StoredArticle) -> list[str]:
    """The list page's marks of an edited or removed article, each linking its article view
    (relative, so a base URL with a path prefix works too)."""
    marks = []
    if item.edits:
        marks.append(f'<a class="edited" href="articles/{item.id}">đã sửa {item.edits} lần</a>')
    if item.status == "removed":
        marks.append(f'<a class="removed" href="articles/{item.id}">đã bị gỡ</a>')
    return marks


def render_article(history: ArticleHistory, source_name: str, base: str) -> bytes:
    """The whole page, UTF-8."""
    current = history.versions[-1]
    rows = "".join(
        f"<tr><td>{n}</td><td>{_esc(_time(v.seen_from))}</td><td>{_esc(_time(v.seen_until)) if v.seen_until else 'hiện tại'}</td>"
        f"<td>{_esc(v.title)}</td></tr>"
        for n, v in enumerate(history.versions, start=1)
    )
    diffs = "".join(
        _diff_section(n, old, new) for n, (old, new) in
        enumerate(zip(history.versions, history.versions[1:], strict=False), start=2)
    )
    authors = ", ".join(current.authors)
    page = f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_esc(current.title)} — lịch sử bài viết</title><style>{STYLE}</style></head>
<body><p><a href="{_esc(base.rstrip('/'))}/">← Tin mới</a></p>
<article id="article" data-status="{_esc(history.status)}" data-edits="{history.edits}">
<h1>{_esc(current.title)}</h1>
<p class="meta">{badges(history)}{_esc(source_name)} · đăng {_esc(_time(current.published))}{' · ' + _esc(authors) if authors else ''}
 · <a href="{_esc(history.link)}" rel="noreferrer">bài gốc</a></p>
<div class="body">{current.body_html}</div>
</article>
<section id="versions"><h2>Các phiên bản ({len(history.versions)})</h2>
<table><thead><tr><th>#</th><th>Thấy từ</th><th>Đến</th><th>Tiêu đề</th></tr></thead><tbody>{rows}</tbody></table></section>
<section id="diffs"><h2>Những thay đổi</h2>{diffs or '<p>Chưa có thay đổi nào.</p>'}</section>
</body></html>
"""
    return page.encode("utf-8")


def _diff_section(n: int, old: Version, new: Version) -> str:
    fields = [FIELD_NAMES[f] for f in changed_fields(old, new)] or ["định dạng"]
    parts = [f'<section class="diff" id="diff-{n}"><h3>Phiên bản {n} ({_esc(_time(new.seen_from))}): '
             f"sửa {_esc(', '.join(fields))}</h3>"]
    if old.title != new.title:
        parts.append(f'<p class="title">{diff_html(old.title, new.title)}</p>')
    if old.summary != new.summary:
        parts.append(f'<p class="lead">{diff_html(old.summary, new.summary)}</p>')
    if old.body_text != new.body_text:
        parts.append(f'<p class="text">{diff_html(old.body_text, new.body_text)}</p>')
    return "".join(parts) + "</section>"


class ArticleView:
    """``/articles/{id}`` on the feed server (``feeds.app``): 404 for an unknown id."""

    def __init__(self, server: Any) -> None:
        self.server = server

    async def page(self, request: Request) -> Response:
        article_id = int(request.path_params["article_id"])
        base = self.server.base(request)
        version = await self.server._version()  # noqa: SLF001 - the feed server's own helper
        key = ("article", article_id, base)
        if not self.server.probe.up and self.server.cache.get(key, version) is None:
            raise StoreTimeout(f"{request.url.path}: not rendered yet and the store is down")
        doc = await self.server.cached(key, version,
                                       partial(self._render, article_id, base))
        return conditional_response(request, doc, extra_headers=SECURITY_HEADERS)

    def _render(self, article_id: int, base: str) -> Rendered:
        history = self.server.store.article_history(str(article_id))
        if history is None:
            raise HTTPException(404, detail=f"No such article: {article_id}\n")
        source = self.server.config.sources.get(history.source_id)
        body = render_article(history, source.name if source else history.source_id, base)
        return Rendered.of(body, CONTENT_TYPE, history.versions[-1].seen_from)
