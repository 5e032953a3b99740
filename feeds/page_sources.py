"""The page's sources table: per source its articles, last success, failures, and why.

A failing source shows its last error (one line, cut at ``ERROR_CHARS``, every
character escaped; credentials in URLs are dropped) and about when it is tried
again (``scraper.schedule.next_attempt``: the scheduler's backoff applied to
the stored last run and failure count).  Below 40rem the table becomes one
card per source: each cell carries its column name (``data-label``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from scraper.config import Config, SourceConfig
from scraper.models import SourceHealth
from scraper.schedule import next_attempt
from scraper.text import clean_text

from .opml import site_home
from .page_time import format_vn_time, iso

__all__ = ["ERROR_CHARS", "short_error", "sources_table", "status"]

ERROR_CHARS = 160
NUMERIC = (1, 3)  # the columns that hold counts
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
COLUMNS = ("Nguồn", "Bài viết", "Lấy tin thành công gần nhất", "Lỗi liên tiếp", "Tình trạng",
           "Lần lấy tin tiếp theo", "Nguồn cấp")


def short_error(message: str | None) -> str:
    """The last error as the page shows it: one line, no credentials, at most ERROR_CHARS."""
    text = _USERINFO.sub(r"\1", clean_text(message))
    if len(text) > ERROR_CHARS:
        text = text[: ERROR_CHARS - 1].rstrip() + "…"
    return text


def status(source: SourceConfig, h: SourceHealth | None) -> tuple[str, str]:
    """(css class, Vietnamese status text) of one source."""
    if not source.enabled:
        return "note", "Đã tắt"
    if h is None or h.last_run is None:
        return "note", "Chưa chạy lần nào"
    if h.consecutive_failures:
        return "bad", f"Lỗi {h.consecutive_failures} lần liên tiếp"
    if h.warning:
        return "warn", f"Hoạt động nhưng suy giảm: {h.warning}"
    return "ok", "Bình thường"


def _next_run(source: SourceConfig, h: SourceHealth | None) -> str:
    """HTML: about when the source runs next."""
    if not source.enabled:
        return "—"
    if h is None or h.last_run is None:
        return "khi dịch vụ chạy"
    when: datetime | None = next_attempt(h.last_run, source.interval, h.consecutive_failures)
    return f"khoảng {_time(when)}"


def _time(when: datetime | None) -> str:
    """A ``<time>`` element (kept on one line by the stylesheet), or the no-time dash."""
    if when is None:
        return escape(format_vn_time(None))
    return f'<time datetime="{iso(when)}">{escape(format_vn_time(when))}</time>'


def sources_table(config: Config, health: Sequence[SourceHealth], feed_links: Mapping[str, str]) -> list[str]:
    """The section's HTML lines; ``feed_links`` maps a source id to its feed links (HTML)."""
    by_id = {h.source_id: h for h in health}
    num = ' class="num"'
    head = "".join(
        f"<th{num if i in NUMERIC else ''}>{escape(c)}</th>" for i, c in enumerate(COLUMNS)
    )
    out = [
        '<section aria-labelledby="nguon">',
        '<h2 id="nguon">Các nguồn tin</h2>',
        "<table>",
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
    ]
    for source in config.sources.values():
        h = by_id.get(source.id)
        css, text = status(source, h)
        region = f'<br><span class="note">{escape(source.region)}</span>' if source.region else ""
        why = ""
        if h is not None and h.consecutive_failures and h.last_error:
            why = f'<span class="why">Lỗi gần nhất: {escape(short_error(h.last_error))}</span>'
        cells = (
            f'<a href="{escape(site_home(source))}">{escape(source.name)}</a>{region}',
            str(h.articles if h else 0),
            _time(h.last_success if h else None),
            str(h.consecutive_failures if h else 0),
            f'<span class="{css}">{escape(text)}</span>{why}',
            _next_run(source, h),
            feed_links[source.id],
        )
        row = []
        for i, (label, cell) in enumerate(zip(COLUMNS, cells, strict=True)):
            css_num = ' class="num"' if i in NUMERIC else ""
            attr = f' data-label="{escape(label)}"' if i else ""
            row.append(f"<td{css_num}{attr}>{cell}</td>")
        out.append("<tr>" + "".join(row) + "</tr>")
    out += ["</tbody>", "</table>", "</section>"]
    return out
