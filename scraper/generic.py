"""Generic extraction rules for pages without (or beyond) a site profile.

Tuned for Vietnamese news CMS output: the title is the page's ``<h1>`` (not the
``<title>`` with its site-name suffix), the publish date comes from metadata
first and then from a date line *after* the title (so a header clock is never
read), the main text is the container with the most paragraph text and the
fewest links, and bylines sit at the end of the body.

Hand-written because the generic extractors (trafilatura, newspaper) get
these Vietnamese specifics wrong: they take header clocks or yearless lead
dates for the publish date, and captions or promo lines for authors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bs4 import BeautifulSoup, Tag

from .dates import parse_datetime, parse_iso
from .html import class_id, leaf_blocks, link_density, meta_content, text_of

NEGATIVE_HINT = re.compile(
    r"comment|binh-?luan|sidebar|related|lien-?quan|tin-?khac|other|cung-?chuyen-?muc|menu|"
    r"\bnav|footer|header|banner|\bads?\b|advert|quang-?cao|share|social|\btags?\b|breadcrumb|"
    r"popular|most|xem-?nhieu|doc-?nhieu|widget|login|search|simplebox|print|rating|toolbar",
    re.I,
)
POSITIVE_HINT = re.compile(
    r"article|content|detail|body|entry|post|news|story|text|noi-?dung|chi-?tiet|main", re.I
)
LEAD_HINT = re.compile(r"sapo|summary|lead|brief|description|chapeau|tom-?tat|title-content", re.I)
TITLE_SUFFIX = re.compile(r"\s+(?:[-|–—:»]|::)\s+")
ERROR_PAGE = re.compile(
    r"\b(?:404|403|500|not found|không tìm thấy|page not found|access denied|captcha|"
    r"forbidden|service unavailable|đang bảo trì|lỗi truy cập|trang không tồn tại)\b",
    re.I,
)


# --- metadata ---------------------------------------------------------------------------


def json_ld_objects(soup: BeautifulSoup) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``<script type=application/ld+json>`` blocks (graphs flattened)."""
    for script in soup.find_all("script", type=re.compile(r"ld\+json", re.I)):
        try:
            data = json.loads(script.string or script.get_text() or "")
        except (ValueError, TypeError):
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, dict):
                yield item
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(graph)
            elif isinstance(item, list):
                stack.extend(item)


def json_ld_article(soup: BeautifulSoup) -> dict[str, Any]:
    """The first JSON-LD object typed as an article, or {}."""
    for obj in json_ld_objects(soup):
        kind = obj.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(isinstance(k, str) and k.endswith(("Article", "NewsArticle", "BlogPosting", "Report")) for k in kinds):
            return obj
    return {}


def json_ld_authors(obj: dict[str, Any]) -> list[str]:
    """Person names from a JSON-LD ``author`` (organizations are not authors)."""
    raw = obj.get("author")
    items = raw if isinstance(raw, list) else [raw]
    names = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and item.get("@type", "Person") == "Person":
            name = item.get("name")
            if isinstance(name, str):
                names.append(name)
    return [n for n in names if n.strip()]


def json_ld_image(obj: dict[str, Any]) -> str | None:
    img = obj.get("image")
    if isinstance(img, list) and img:
        img = img[0]
    if isinstance(img, dict):
        img = img.get("url")
    return img if isinstance(img, str) and img.strip() else None


def metadata_dates(soup: BeautifulSoup, ld: dict[str, Any], tz: Any) -> tuple[datetime | None, datetime | None]:
    """(published, modified) from JSON-LD and ``article:*`` / itemprop metadata."""
    published = parse_iso(str(ld.get("datePublished") or ""), tz=tz) if ld else None
    modified = parse_iso(str(ld.get("dateModified") or ""), tz=tz) if ld else None
    if published is None:
        value = meta_content(soup, "article:published_time", "datePublished", "pubdate", "og:published_time", "dc.date.issued")
        published = parse_iso(value, tz=tz) if value else None
    if published is None:
        el = soup.find(attrs={"itemprop": "datePublished"})
        if isinstance(el, Tag):
            value = el.get("content") or el.get("datetime") or text_of(el)
            published = parse_iso(str(value), tz=tz) or parse_datetime(str(value), tz=tz)
    if modified is None:
        value = meta_content(soup, "article:modified_time", "dateModified", "og:updated_time")
        modified = parse_iso(value, tz=tz) if value else None
    return published, modified


# --- title ------------------------------------------------------------------------------


def _similar(a: str, b: str) -> float:
    wa, wb = set(a.lower().split()), set(b.lower().split())
    return len(wa & wb) / max(1, len(wa | wb))


def strip_site_suffix(title: str) -> str:
    """'Article title - Báo Quân khu 7' -> 'Article title' (the longest part wins)."""
    parts = TITLE_SUFFIX.split(title)
    return max(parts, key=len).strip() if len(parts) > 1 else title.strip()


def find_title(soup: BeautifulSoup) -> tuple[str | None, Tag | None]:
    """(title text, its element) — the h1 closest to og:title/<title>, else those metadata."""
    hint = meta_content(soup, "og:title", "twitter:title") or text_of(soup.title)
    h1s = [h for h in soup.find_all("h1") if len(text_of(h)) >= 8]
    if h1s:
        best = max(h1s, key=lambda h: (_similar(text_of(h), hint) if hint else 0, len(text_of(h))))
        return text_of(best), best
    for tag in ("h2",):
        for h in soup.find_all(tag):
            if hint and _similar(text_of(h), hint) > 0.6:
                return text_of(h), h
    if hint:
        return strip_site_suffix(hint), None
    return None, None


# --- date line --------------------------------------------------------------------------


def find_date_line(soup: BeautifulSoup, title_el: Tag | None, tz: Any, month_first: bool = False) -> tuple[str | None, Tag | None]:
    """The first short text after the title that holds a full date (never before it: clocks)."""
    start: Any = title_el if title_el is not None else soup.body or soup
    # <time> elements right after the title are reliable
    strings = start.find_all_next(string=True, limit=80) if title_el is not None else start.find_all(string=True, limit=400)
    for s in strings:
        parent = s.parent
        if parent is None or parent.name in ("script", "style", "noscript", "title", "a"):
            continue
        text = str(s).strip()
        if not text or len(text) > 160:
            continue
        line = text_of(parent) if len(text_of(parent)) <= 160 else text
        when = parse_datetime(line, tz=tz, month_first=month_first)
        if when is not None:
            return line, parent
    return None, None


# --- main content -----------------------------------------------------------------------


def _hint_weight(node: Tag) -> float:
    label = class_id(node)
    weight = 0.0
    if NEGATIVE_HINT.search(label):
        weight -= 25
    if POSITIVE_HINT.search(label):
        weight += 25
    if node.get("itemprop") == "articleBody":
        weight += 50
    return weight


def find_main_content(soup: BeautifulSoup) -> Tag | None:
    """The container with the most paragraph text, weighted by class hints and link density."""
    scores: dict[int, float] = {}
    nodes: dict[int, Tag] = {}
    for block in soup.find_all(["p", "td", "pre", "blockquote", "div", "li"]):
        if block.name in ("div", "li", "td") and any(
            isinstance(c, Tag) and c.name in ("p", "div", "table", "ul", "ol") for c in block.children
        ):
            continue  # only leaf-ish text blocks carry score
        text = text_of(block)
        if len(text) < 25:
            continue
        if block.find_parent(["header", "footer", "nav", "aside"]) is not None:
            continue
        score = 1 + text.count(",") + min(len(text) / 100, 3)
        parent = block.parent
        for share in (1.0, 0.5, 0.25):
            if not isinstance(parent, Tag) or parent.name in ("html", "[document]"):
                break
            key = id(parent)
            if key not in nodes:
                nodes[key] = parent
                scores[key] = _hint_weight(parent)
            scores[key] += score * share
            parent = parent.parent
    if not scores:
        return None
    best = max(scores, key=lambda k: scores[k] * (1 - link_density(nodes[k])))
    return nodes[best]


def is_noise_block(node: Tag) -> bool:
    """Related boxes, share bars, tag lists and the like inside a body."""
    label = class_id(node)
    if label and NEGATIVE_HINT.search(label) and not POSITIVE_HINT.search(label.replace("related", "")):
        return True
    text = text_of(node)
    return bool(text) and len(text) > 40 and link_density(node) > 0.6 and len(node.find_all("a")) >= 3


def find_lead(soup: BeautifulSoup, title_el: Tag | None, body: Tag | None) -> Tag | None:
    """A summary/sapo element between the title and the body, found by its class."""
    if title_el is None:
        return None
    for el in title_el.find_all_next(True, limit=400):
        if body is not None and (el is body or el in body.parents or body in el.parents):
            break  # reached the body: a lead sits before it
        if not LEAD_HINT.search(class_id(el)) or el.find_parent(["header", "footer", "nav", "aside"]):
            continue
        if len(text_of(el)) >= 40 and link_density(el) < 0.3:
            return el
    return None


def looks_like_error_page(title: str | None, body_text: str) -> bool:
    """Error, maintenance or captcha pages served with status 200."""
    return bool(title and ERROR_PAGE.search(title)) and len(body_text) < 500


def body_blocks(body: Tag) -> list[Tag]:
    return list(leaf_blocks(body)) or [body]
