"""Generic extraction rules for pages without (or beyond) a site profile.

Tuned for Vietnamese news CMS output, and kept general enough for any news
page:

title      the page's ``<h1>`` closest to ``og:title``/``<title>``, never the
           ``<title>`` with its site-name suffix when an ``<h1>`` exists
date       metadata first (JSON-LD, ``article:published_time``, itemprop);
           else the short line holding a full date *nearest the title* — a
           few lines before it (``div.post-head``, a breadcrumb) or after it,
           never in the page header (a site clock), inside a link or a list
           of links (related articles), or deep in the text; a yearless date
           (``Chiều 05/01``) never counts
main text  one pass over the page measures every block's own text, link text
           and punctuation; a block of prose is *content*, link text and
           link lists are *boilerplate*.  The main container is the element
           with the most content minus boilerplate inside it (so an article
           split over several ``<div>`` s is taken whole, and a page's
           sidebar, menus and related boxes are left out), with comment
           sections and other hinted boxes (share, related, newsletter …)
           never counting as content.  Inside it, ``prune`` drops what a
           reader would not call the article: link lists, hinted boxes,
           hidden elements.
byline     at the end of the body (``extract.py``)

Hand-written because the generic extractors (trafilatura, newspaper) get
these Vietnamese specifics wrong: they take header clocks or yearless lead
dates for the publish date, and captions or promo lines for authors (see
``bench/extraction.py`` for the side-by-side numbers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from lxml import etree

from .dates import parse_datetime, parse_iso
from .html import BLOCK_TAGS, HtmlElement, class_id, drop, link_density, meta_content, text_of

__all__ = [
    "find_date_line", "find_lead", "find_main_content", "find_title", "is_noise_block",
    "json_ld_article", "json_ld_authors", "json_ld_image", "looks_like_error_page",
    "metadata_dates", "prune", "strip_site_suffix",
]  # fmt: skip

# Boxes that are never the article, whatever they hold.
STRONG_NEGATIVE = re.compile(
    r"comment|binh-?luan|disqus|respond|reply|trackback|cookie|consent|gdpr|newsletter|"
    r"subscri|signup|sign-up|paywall|modal|popup|outbrain|taboola|recirc|"
    r"\bads?\b|advert|quang-?cao|sponsor",
    re.I,
)
# Boxes that are usually not the article (unless they hold most of the page's text).
NEGATIVE_HINT = re.compile(
    r"sidebar|side-bar|\bside\b|related|lien-?quan|tin-?khac|\bother|cung-?chuyen-?muc|more-?(?:news|stories)|"
    r"menu|\bnav|footer|masthead|\bheader|banner|\bshare|sharing|social|\btags?\b|tag-?list|breadcrumb|"
    r"popular|trending|most-|xem-?nhieu|doc-?nhieu|widget|login|search|simplebox|print|rating|"
    r"toolbar|promo|author-?(?:bio|info|box)|byline|pagination|pager|skip|hidden|jump|"
    r"read-?more|readmore|recommend|teaser|carousel|slider|gallery-?thumb|caption-credit",
    re.I,
)
POSITIVE_HINT = re.compile(
    r"article|content|detail|body|entry|post|news|story|text|noi-?dung|chi-?tiet|main|prose", re.I
)
LEAD_HINT = re.compile(
    r"sapo|summary|\blead\b|brief|description|chapeau|tom-?tat|title-content|standfirst|dek|"
    r"subtitle|sub-title|excerpt|intro",
    re.I,
)
TITLE_SUFFIX = re.compile(r"\s+(?:[-|–—:»]|::)\s+")
ERROR_PAGE = re.compile(
    r"\b(?:404|403|500|not found|không tìm thấy|page not found|access denied|captcha|"
    r"forbidden|service unavailable|đang bảo trì|lỗi truy cập|trang không tồn tại)\b",
    re.I,
)
# Elements whose text is never page text.
SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "canvas", "iframe", "object", "embed",
     "select", "option", "textarea", "button", "input", "head", "title", "meta", "link", "audio",
     "video", "map", "dialog"}
)  # fmt: skip
CHROME_TAGS = frozenset({"header", "footer", "nav", "aside"})
# Never the main container.
NOT_CONTAINERS = frozenset({"html", "a", "p", "span", "li", "h1", "h2", "h3", "h4", "h5", "h6"})
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
HIDDEN_CLASSES = frozenset({"hidden", "d-none", "sr-only", "visually-hidden", "screen-reader-text", "hide", "invisible"})

# Content scoring (see find_main_content).
BOILERPLATE_WEIGHT = 1.5  # a character of link text costs this many characters of prose
MIN_PROSE = 25  # shorter blocks are neither content nor boilerplate (headings, datelines)
MAX_DATE_LINE = 160  # a date line is short
DATE_LINES_BEFORE = 12  # text nodes before the title searched for a date line
DATE_TEXT_AFTER = 1200  # characters of text after the title searched for a date line


# --- metadata ---------------------------------------------------------------------------


def json_ld_objects(root: HtmlElement) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``<script type=application/ld+json>`` blocks (graphs flattened)."""
    for script in root.iter("script"):
        if "ld+json" not in (script.get("type") or "").lower():
            continue
        try:
            data = json.loads(script.text or "")
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


def json_ld_article(root: HtmlElement) -> dict[str, Any]:
    """The first JSON-LD object typed as an article, or {}."""
    for obj in json_ld_objects(root):
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


def metadata_dates(root: HtmlElement, ld: dict[str, Any], tz: Any) -> tuple[datetime | None, datetime | None]:
    """(published, modified) from JSON-LD and ``article:*`` / itemprop metadata."""
    published = parse_iso(str(ld.get("datePublished") or ""), tz=tz) if ld else None
    modified = parse_iso(str(ld.get("dateModified") or ""), tz=tz) if ld else None
    if published is None:
        value = meta_content(root, "article:published_time", "datePublished", "pubdate", "og:published_time", "dc.date.issued")
        published = parse_iso(value, tz=tz) if value else None
    if published is None:
        for el in root.iterfind(".//*[@itemprop='datePublished']"):
            value = el.get("content") or el.get("datetime") or text_of(el)
            published = parse_iso(str(value), tz=tz) or parse_datetime(str(value), tz=tz)
            break
    if modified is None:
        value = meta_content(root, "article:modified_time", "dateModified", "og:updated_time")
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


def find_title(root: HtmlElement) -> tuple[str | None, HtmlElement | None]:
    """(title text, its element) — the h1 closest to og:title/<title>, else those metadata."""
    title_el = root.find(".//title")
    hint = meta_content(root, "og:title", "twitter:title") or text_of(title_el)
    h1s = [(h, text_of(h)) for h in root.iter("h1")]
    h1s = [(h, t) for h, t in h1s if len(t) >= 8]
    if h1s:
        best, text = max(h1s, key=lambda ht: (_similar(ht[1], hint) if hint else 0, len(ht[1])))
        if not hint or _similar(text, hint) > 0 or len(h1s) == 1:
            return text, best
    if hint:
        for h in root.iter("h2"):
            if _similar(text_of(h), hint) > 0.6:
                return text_of(h), h
        return strip_site_suffix(hint), None
    return None, None


# --- date line --------------------------------------------------------------------------


def _in_chrome(el: HtmlElement) -> bool:
    """Inside the page header/footer/nav, a link, or a list of links."""
    for anc in el.iterancestors():
        tag = anc.tag
        if tag in ("header", "footer", "nav", "a"):
            return True
        if tag == "li" and anc.find(".//a") is not None:
            return True
        label = class_id(anc)
        if label and re.search(r"(?:^|[\s_-])(?:site-?)?header(?:$|[\s_-])|top-?bar|topbar|\bclock\b", label, re.I):
            return True
    return False


def find_date_line(
    root: HtmlElement, title_el: HtmlElement | None, tz: Any, month_first: bool = False
) -> tuple[str | None, HtmlElement | None]:
    """The short line holding a full date nearest the title (a few lines before it, or after it).

    Without a title element, the first such line in the page body outside its header.
    """
    body = root.find("body")
    scope = body if body is not None else root
    texts: list[tuple[str, HtmlElement]] = []
    title_at: int | None = None
    for el in scope.iter(etree.Element):
        if el.tag in SKIP_TAGS:
            continue
        if el is title_el:
            title_at = len(texts)
        if el.text and el.text.strip():
            texts.append((el.text, el))
        if el.tail and el.tail.strip() and el.getparent() is not None:
            texts.append((el.tail, el.getparent()))
    if title_el is None:
        before, after = [], list(range(len(texts)))
    else:
        if title_at is None:
            return None, None
        start = title_at + sum(1 for _ in _text_pieces(title_el))
        before = list(range(title_at - 1, max(-1, title_at - 1 - DATE_LINES_BEFORE), -1))
        after = []
        chars = 0
        for i in range(start, len(texts)):
            after.append(i)
            chars += len(texts[i][0].strip())
            if chars > DATE_TEXT_AFTER:
                break
    # interleave: after-title lines first at equal distance (the common layout)
    order: list[int] = []
    for k in range(max(len(before), len(after))):
        if k < len(after):
            order.append(after[k])
        if k < len(before):
            order.append(before[k])
    for i in order:
        text, parent = texts[i]
        if parent.tag in SKIP_TAGS or len(text.strip()) > MAX_DATE_LINE:
            continue
        whole = text_of(parent)
        line = whole if len(whole) <= MAX_DATE_LINE else text.strip()
        if parse_datetime(line, tz=tz, month_first=month_first) is None:
            continue
        if parent.tag == "a" or _in_chrome(parent):
            continue
        return line, parent
    return None, None


def _text_pieces(el: HtmlElement) -> Iterator[str]:
    if el.text and el.text.strip():
        yield el.text
    for child in el.iter(etree.Element):
        if child is el:
            continue
        if child.text and child.text.strip():
            yield child.text
        if child.tail and child.tail.strip():
            yield child.tail


# --- main content -----------------------------------------------------------------------


def _hidden(el: HtmlElement) -> bool:
    if el.get("hidden") is not None:
        return True
    style = el.get("style")
    if style and HIDDEN_STYLE.search(style):
        return True
    cls = el.get("class")
    return bool(cls) and not HIDDEN_CLASSES.isdisjoint(cls.split())


class _Page:
    """One pass over a page: text, link text and commas of every block, summed up the tree."""

    __slots__ = ("scope", "order", "own", "total", "content", "junk", "skipped")

    def __init__(self, scope: HtmlElement) -> None:
        self.scope = scope
        self.order: list[HtmlElement] = []
        self.own: dict[HtmlElement, list[int]] = {}  # block -> [chars, link chars, commas]
        self.skipped: set[HtmlElement] = set()
        blocks: list[HtmlElement] = []
        link_depth = 0
        walker = etree.iterwalk(scope, events=("start", "end"))
        own = self.own
        for event, el in walker:
            tag = el.tag
            if event == "start":
                if not isinstance(tag, str) or tag in SKIP_TAGS or _hidden(el):
                    self.skipped.add(el)
                    walker.skip_subtree()
                    continue
                self.order.append(el)
                if tag in BLOCK_TAGS or not blocks:
                    blocks.append(el)
                    own[el] = [0, 0, 0]
                if tag == "a":
                    link_depth += 1
                text = el.text
                if text and not text.isspace():
                    n = len(text.strip())
                    counts = own[blocks[-1]]
                    counts[0] += n
                    if link_depth:
                        counts[1] += n
                    counts[2] += text.count(",") + text.count("，") + text.count("、")
            else:
                if el not in self.skipped:
                    if tag == "a":
                        link_depth -= 1
                    if blocks and blocks[-1] is el:
                        blocks.pop()
                tail = el.tail
                if tail and el is not scope and blocks and not tail.isspace():
                    n = len(tail.strip())
                    counts = own[blocks[-1]]
                    counts[0] += n
                    if link_depth:
                        counts[1] += n
                    counts[2] += tail.count(",") + tail.count("，") + tail.count("、")
        self.total: dict[HtmlElement, int] = {}
        self.content: dict[HtmlElement, float] = {}
        self.junk: dict[HtmlElement, float] = {}

    def score(self, zones: set[HtmlElement]) -> None:
        """Text, content and boilerplate characters of every element (``zones`` hold no content)."""
        total: dict[HtmlElement, int] = {}
        content: dict[HtmlElement, float] = {}
        junk: dict[HtmlElement, float] = {}
        inside: set[HtmlElement] = set()
        for el in self.order:  # parents come first in document order
            if el in zones or el.tag in CHROME_TAGS or el.getparent() in inside:
                inside.add(el)
        for el in reversed(self.order):  # children before their parents
            t, c, j = total.get(el, 0), content.get(el, 0.0), junk.get(el, 0.0)
            counts = self.own.get(el)
            if counts is not None and counts[0]:
                n, linked, commas = counts
                t += n
                prose = n - linked
                if el in inside or linked * 2 > n:
                    j += n
                elif el is self.scope:
                    pass  # loose text right in <body> is not an article
                else:
                    j += linked
                    if prose >= MIN_PROSE and (prose >= 80 or commas or el.tag == "p"):
                        c += prose
            total[el], content[el], junk[el] = t, c, j
            parent = el.getparent()
            if parent is not None:
                total[parent] = total.get(parent, 0) + t
                content[parent] = content.get(parent, 0.0) + c
                junk[parent] = junk.get(parent, 0.0) + j
        self.total, self.content, self.junk = total, content, junk


def _zones(page: _Page, grand_total: float) -> set[HtmlElement]:
    """Hinted boxes that hold no content: comment sections always, sidebars/related/share unless big."""
    zones: set[HtmlElement] = set()
    for el in page.order:
        label = class_id(el)
        if not label:
            if el.tag in CHROME_TAGS:
                zones.add(el)
            continue
        if STRONG_NEGATIVE.search(label) and not POSITIVE_HINT.search(re.sub(r"comment\w*|\bads?\b", "", label)):
            zones.add(el)
        elif el.tag in CHROME_TAGS or (NEGATIVE_HINT.search(label) and not _main_hint(el, label)):
            if page.content.get(el, 0.0) < 0.5 * grand_total:
                zones.add(el)
    return zones


def _main_hint(el: HtmlElement, label: str) -> bool:
    return el.get("itemprop") == "articleBody" or bool(re.search(r"article-?body|post-?body|entry-?content|story-?body", label, re.I))


def find_main_content(root: HtmlElement) -> HtmlElement | None:
    """The element with the most prose minus boilerplate inside it (see the module docstring)."""
    body = root.find("body")
    scope = body if body is not None else root
    page = _Page(scope)
    page.score(set())
    grand = page.content.get(scope, 0.0)
    zones = _zones(page, grand)
    page.score(zones)
    best: HtmlElement | None = None
    best_score = 0.0
    for el in reversed(page.order):
        if el.tag in NOT_CONTAINERS:
            continue
        score = page.content.get(el, 0.0) - BOILERPLATE_WEIGHT * page.junk.get(el, 0.0)
        if el.get("itemprop") == "articleBody":
            score *= 1.2
        if score > best_score:
            best, best_score = el, score
    return best


def prune(body: HtmlElement) -> None:
    """Drop what is not article text from a generically found body: hinted boxes, link lists, hidden."""
    page = _Page(body)
    page.score(set())
    grand = page.content.get(body, 0.0)
    zones = _zones(page, grand)
    for el in list(page.skipped):
        if el is not body and el.getparent() is not None and isinstance(el.tag, str) and el.tag not in ("iframe", "video", "audio"):
            drop(el)
    for el in page.order:
        if el is body or el.getparent() is None:
            continue
        if el in zones and page.content.get(el, 0.0) < 0.3 * max(grand, 1.0):
            drop(el)
            continue
        if el.tag in BLOCK_TAGS and el.tag not in ("p", "td", "th", "tr", "tbody", "table"):
            t = page.total.get(el, 0)
            if t and page.junk.get(el, 0.0) > 0.6 * t and page.content.get(el, 0.0) < 0.5 * t:
                drop(el)


def is_noise_block(node: HtmlElement) -> bool:
    """Related boxes, share bars, tag lists and the like inside a body."""
    label = class_id(node)
    if label and (STRONG_NEGATIVE.search(label) or NEGATIVE_HINT.search(label)) and not POSITIVE_HINT.search(
        label.replace("related", "")
    ):
        return True
    text = text_of(node)
    return bool(text) and len(text) > 40 and link_density(node) > 0.6 and len(node.findall(".//a")) >= 3


def find_lead(root: HtmlElement, title_el: HtmlElement | None, body: HtmlElement | None) -> HtmlElement | None:
    """A summary/sapo element between the title and the body, found by its class."""
    if title_el is None:
        return None
    body_ancestors = set(body.iterancestors()) if body is not None else set()
    seen = 0
    for el in _following(title_el):
        seen += 1
        if seen > 400:
            break
        if body is not None and (el is body or el in body_ancestors):
            break  # reached the body: a lead sits before it
        if body is not None and _is_inside(el, body):
            break
        if not LEAD_HINT.search(class_id(el)) or any(a.tag in CHROME_TAGS for a in el.iterancestors()):
            continue
        if len(text_of(el)) >= 40 and link_density(el) < 0.3:
            return el
    return None


def _following(el: HtmlElement) -> Iterator[HtmlElement]:
    """Elements after ``el`` in document order (not its descendants)."""
    node: HtmlElement | None = el
    while node is not None:
        for sib in node.itersiblings():
            yield from sib.iter(etree.Element)
        node = node.getparent()


def _is_inside(el: HtmlElement, container: HtmlElement) -> bool:
    return any(a is container for a in el.iterancestors())


def looks_like_error_page(title: str | None, body_text: str) -> bool:
    """Error, maintenance or captcha pages served with status 200."""
    return bool(title and ERROR_PAGE.search(title)) and len(body_text) < 500
