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
           never counting as content (unless the hinted element holds the
           title or nearly all the prose: then the hint is a wrapper's,
           ``Page-ad-margins``).  Inside it, ``prune`` drops what a reader
           would not call the article: link lists, hinted boxes, hidden
           elements, lines like "Advertisement" or "Comments", and the tail
           after a "Related stories" heading; caption and credit boxes
           become ``<figcaption>``.  A page that renders its text with
           JavaScript still states it in JSON-LD ``articleBody``.
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
from functools import lru_cache
from typing import Any

from lxml import etree

from scraper.html import (
    BLOCK_TAGS,
    HtmlElement,
    class_id,
    drop,
    leaf_blocks,
    link_density,
    meta_content,
    text_of,
)
from scraper.normalize.dates import parse_datetime, parse_iso

__all__ = [
    "find_date_line", "find_lead", "find_main_content", "find_title", "is_noise_block",
    "json_ld_article", "json_ld_authors", "json_ld_image", "looks_like_error_page",
    "metadata_dates", "prune", "strip_site_suffix",
]  # fmt: skip

# Class/id hints, matched against lower-cased labels (see _label; no re.I: several times faster).
# Boxes that are never the article, whatever they hold.
STRONG_NEGATIVE = re.compile(
    r"comment|binh-?luan|disqus|respond|reply|trackback|cookie|consent|gdpr|newsletter|"
    r"subscri|signup|sign-up|modal|popup|outbrain|taboola|recirc|"
    r"\bads?\b|advert|quang-?cao|sponsor",
)
# Boxes that are usually not the article (unless they hold most of the page's text).
NEGATIVE_HINT = re.compile(
    r"sidebar|side-bar|related|lien-?quan|tin-?khac|\bother|cung-?chuyen-?muc|more-?(?:news|stories)|"
    r"menu|\bnav|footer|masthead|\bheader|banner|\bshare|sharing|social|\btags?\b|tag-?list|breadcrumb|"
    r"popular|trending|most-|xem-?nhieu|doc-?nhieu|widget|login|search|simplebox|print|rating|"
    r"toolbar|promo|author-?(?:bio|info|box)|byline|pagination|pager|skip-?link|jump-?link|"
    r"read-?more|readmore|recommend|teaser|carousel|slider|gallery-?thumb|next-?prev|prev-?next|"
    r"\bprev(?:ious)?\b|\bnext\b",
)
POSITIVE_HINT = re.compile(
    r"article|content|detail|body|entry|post|news|story|text|noi-?dung|chi-?tiet|main|prose"
)
LEAD_HINT = re.compile(
    r"sapo|summary|\blead\b|brief|description|chapeau|tom-?tat|title-content|standfirst|dek|"
    r"subtitle|sub-title|excerpt|intro",
)
# Image captions and credits: text, but not prose that decides where the article is.
CAPTION_HINT = re.compile(r"caption|credit|legend|photo-?info|image-?desc|img-?desc")
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
# Elements whose class/id hints are read (inline ones are left alone: fewer regex runs, same boxes).
HINTED_TAGS = BLOCK_TAGS | {"span"}
# Never the main container.
NOT_CONTAINERS = frozenset({"html", "a", "p", "span", "li", "h1", "h2", "h3", "h4", "h5", "h6"})
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
HIDDEN_CLASSES = frozenset({"hidden", "d-none", "sr-only", "visually-hidden", "screen-reader-text", "hide", "invisible"})

# Short lines that are never article text, and headings that start the page's tail.
BOILERPLATE_LINE = re.compile(
    r"^\W*(?:advert(?:isement)?s?|ads?|sponsored(?: content)?|\d* ?comments?|leave a (?:comment|reply)|"
    r"share(?: this)?(?: article| story| post| on \w+)?|click here\b.*|tell us what you think\W*|"
    r"media playback is unsupported.*|this slideshow requires javascript\W*|"
    r"(?:sign up|subscribe)(?: now| today)?(?: for| to)? (?:our|the)? ?newsletter.*|iklan|"
    r"quảng cáo|chia sẻ(?: bài viết)?|bình luận|gửi bình luận|in bài(?: viết)?)\W*$",
    re.I,
)
RELATED_HEADING = re.compile(
    r"^\W*(?:you (?:may|might) (?:also )?like|related(?: articles| stories| posts| news| content| coverage)?|"
    r"read (?:more|next|also)|more (?:from|on|great|stories|news)\b.*|recommended(?: for you)?|"
    r"most (?:popular|read)|trending(?: now)?|"
    r"tin liên quan|bài liên quan|bài viết liên quan|tin cùng chuyên mục|tin khác|các tin khác|xem thêm)\W*$",
    re.I,
)
CREDIT_LINE = re.compile(
    r"^\W*(?:photo|image|picture|foto|ảnh)s?\s*(?::|(?:copyright|credit|courtesy|by)\b)|^\W*ảnh minh họa", re.I
)
# A date or "updated …" line (English and Vietnamese labels) in the first part of the text.
DATELINE = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.? \d{1,2},? \d{4}\b|"
    r"^\W*(?:updated|published|posted|last modified|cập nhật|đăng)\b[^.]*\d",
    re.I,
)
HEAD_SHARE = 0.2
_ALNUM = re.compile(r"[^\W_]")
MAX_BOILERPLATE_LINE = 80
TAIL_SHARE = 0.5  # a related-stories heading past this share of the text cuts everything after it

# Content scoring (see find_main_content).
BOILERPLATE_WEIGHT = 1.5  # a character of link text costs this many characters of prose
ZONE_MAX_SHARE = 0.5  # a hinted box holding this share of the page's prose is not a box
STRONG_ZONE_MAX_SHARE = 0.8  # the same for strong hints (comments, cookie boxes, ads)
MIN_PROSE = 25  # shorter blocks are neither content nor boilerplate (headings, datelines)
MAX_DATE_LINE = 160  # a date line is short
DATE_LINES_BEFORE = 12  # text nodes before the title searched for a date line
DATE_TEXT_AFTER = 1200  # characters of text after the title searched for a date line


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _label(el: HtmlElement) -> str:
    """Class and id, lower case, camelCase split: 'PageBuilder-pageRow' -> 'page-builder-page-row'."""
    label = class_id(el)
    return _CAMEL.sub("-", label).lower() if label else ""


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


def json_ld_body(obj: dict[str, Any]) -> str | None:
    """The ``articleBody`` text of a JSON-LD article, if it states one."""
    body = obj.get("articleBody")
    return body.strip() if isinstance(body, str) and body.strip() else None


def json_ld_image(obj: dict[str, Any]) -> str | None:
    img = obj.get("image")
    if isinstance(img, list) and img:
        img = img[0]
    if isinstance(img, dict):
        img = img.get("url")
    return img if isinstance(img, str) and img.strip() else None


# compiled once, evaluated in C (``iterfind`` runs lxml's ElementPath in Python over every element)
_DATE_PUBLISHED = etree.XPath(".//*[@itemprop='datePublished']")


def metadata_dates(root: HtmlElement, ld: dict[str, Any], tz: Any) -> tuple[datetime | None, datetime | None]:
    """(published, modified) from JSON-LD and ``article:*`` / itemprop metadata."""
    published = parse_iso(str(ld.get("datePublished") or ""), tz=tz) if ld else None
    modified = parse_iso(str(ld.get("dateModified") or ""), tz=tz) if ld else None
    if published is None:
        value = meta_content(root, "article:published_time", "datePublished", "pubdate", "og:published_time", "dc.date.issued")
        published = parse_iso(value, tz=tz) if value else None
    if published is None:
        for el in _DATE_PUBLISHED(root):
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


_PAGE_HEADER = re.compile(r"(?:^|[\s_-])(?:site-?)?header(?:$|[\s_-])|top-?bar|topbar|\bclock\b")


def _in_chrome(el: HtmlElement) -> bool:
    """Inside the page header/footer/nav, a link, or a list of links."""
    for anc in el.iterancestors():
        tag = anc.tag
        if tag in ("header", "footer", "nav", "a"):
            return True
        if tag == "li" and anc.find(".//a") is not None:
            return True
        label = _label(anc)
        if label and _PAGE_HEADER.search(label):
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
    begin = counted = chars = 0
    for el in scope.iter(etree.Element):
        if el is title_el:
            title_at = len(texts)
            begin = counted = title_at + sum(1 for _ in _text_pieces(title_el))
        if el.tag not in SKIP_TAGS and el.text and el.text.strip():
            texts.append((el.text, el))
        if el.tail and el.tail.strip() and el is not scope:
            texts.append((el.tail, el.getparent()))
        if title_at is not None:
            while counted < len(texts):
                chars += len(texts[counted][0].strip())
                counted += 1
            if chars > DATE_TEXT_AFTER:
                break  # far enough past the title
    if title_el is None:
        before, after = [], list(range(len(texts)))
    elif title_at is None:
        return None, None
    else:
        before = list(range(title_at - 1, max(-1, title_at - 1 - DATE_LINES_BEFORE), -1))
        after = list(range(begin, len(texts)))
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


_STRONG, _WEAK, _CAPTION, _MAIN, _CHROME = 1, 2, 4, 8, 16
MAIN_HINT = re.compile(r"article-?body|post-?body|entry-?content|story-?body")


@lru_cache(maxsize=4096)
def _hint_flags(label: str) -> int:
    """What a class/id string says about its box (cached: pages repeat their class strings)."""
    norm = _CAMEL.sub("-", label).lower()
    flags = 0
    if STRONG_NEGATIVE.search(norm):
        flags |= _STRONG
    if NEGATIVE_HINT.search(norm):
        flags |= _WEAK
    if CAPTION_HINT.search(norm):
        flags |= _CAPTION
    if MAIN_HINT.search(norm):
        flags |= _MAIN
    return flags


class _Page:
    """One pass over a page: own text, link text and commas of every block, and the hints of every
    element; ``score`` sums them up the tree.  Elements are numbered in document order."""

    __slots__ = ("scope", "order", "index", "parent", "own_n", "own_link", "own_commas", "flags",
                 "caption", "skipped", "total", "content", "junk")  # fmt: skip

    def __init__(self, scope: HtmlElement) -> None:
        self.scope = scope
        order: list[HtmlElement] = []
        parent: list[int] = []
        own_n: list[int] = []
        own_link: list[int] = []
        own_commas: list[int] = []
        flags: list[int] = []
        caption: list[bool] = []
        self.skipped: list[HtmlElement] = []
        path: list[int] = []  # indices of the open elements (-1: a skipped one)
        blocks: list[int] = []  # indices of the open block elements
        link_depth = 0
        walker = etree.iterwalk(scope, events=("start", "end"))
        for event, el in walker:
            if event == "start":
                tag = el.tag
                cls = el.get("class")
                if (
                    tag.__class__ is not str
                    or tag in SKIP_TAGS
                    or el.get("hidden") is not None
                    or (cls and not HIDDEN_CLASSES.isdisjoint(cls.split()))
                    or ((style := el.get("style")) and HIDDEN_STYLE.search(style))
                ):
                    self.skipped.append(el)
                    walker.skip_subtree()
                    path.append(-1)
                    continue
                i = len(order)
                p = path[-1] if path else -1
                order.append(el)
                parent.append(p)
                path.append(i)
                own_n.append(0)
                own_link.append(0)
                own_commas.append(0)
                eid = el.get("id")
                f = _hint_flags(f"{cls or ''} {eid or ''}") if (cls or eid) and tag in HINTED_TAGS else 0
                if tag in CHROME_TAGS:
                    f |= _CHROME
                if el.get("itemprop") == "articleBody":
                    f |= _MAIN
                flags.append(f)
                caption.append((p >= 0 and caption[p]) or tag == "figcaption" or bool(f & _CAPTION))
                if tag in BLOCK_TAGS or not blocks:
                    blocks.append(i)
                if tag == "a":
                    link_depth += 1
                text = el.text
                if text and not text.isspace():
                    b = blocks[-1]
                    n = len(text.strip())
                    own_n[b] += n
                    if link_depth:
                        own_link[b] += n
                    own_commas[b] += text.count(",") + text.count("，") + text.count("、")
            else:
                i = path.pop()
                if i >= 0:
                    if el.tag == "a":
                        link_depth -= 1
                    if blocks and blocks[-1] == i:
                        blocks.pop()
                tail = el.tail
                if tail and el is not scope and blocks and not tail.isspace():
                    b = blocks[-1]
                    n = len(tail.strip())
                    own_n[b] += n
                    if link_depth:
                        own_link[b] += n
                    own_commas[b] += tail.count(",") + tail.count("，") + tail.count("、")
        self.order, self.parent, self.flags, self.caption = order, parent, flags, caption
        self.own_n, self.own_link, self.own_commas = own_n, own_link, own_commas
        self.index = {el: i for i, el in enumerate(order)}
        self.total: list[int] = []
        self.content: list[float] = []
        self.junk: list[float] = []

    def score(self, zones: list[bool] | None = None) -> None:
        """Text, content and boilerplate characters of every element (``zones`` hold no content)."""
        n = len(self.order)
        parent, own_n, own_link, own_commas, caption = self.parent, self.own_n, self.own_link, self.own_commas, self.caption
        inside = list(zones) if zones is not None else [False] * n
        for i in range(n):  # parents come first
            p = parent[i]
            if p >= 0 and inside[p]:
                inside[i] = True
        total = [0] * n
        content = [0.0] * n
        junk = [0.0] * n
        order = self.order
        for i in range(n - 1, 0, -1) if n else ():  # children before their parents; 0 is the scope
            k = own_n[i]
            if k:
                linked = own_link[i]
                total[i] += k
                if inside[i] or linked * 2 > k:
                    junk[i] += k
                elif not caption[i]:  # captions are no prose
                    junk[i] += linked
                    prose = k - linked
                    if prose >= MIN_PROSE and (prose >= 80 or own_commas[i] or order[i].tag == "p"):
                        content[i] += prose
            p = parent[i]
            total[p] += total[i]
            content[p] += content[i]
            junk[p] += junk[i]
        if n:
            # loose text right in the scope (<body>) is not an article
            k = own_n[0]
            total[0] += k
            junk[0] += own_link[0]
        self.total, self.content, self.junk = total, content, junk


def _zones(page: _Page, title_el: HtmlElement | None = None) -> list[bool]:
    """Boxes whose text is never content: hinted boxes (comments, cookie and newsletter boxes, ads;
    sidebars, related, share, tags …) and header/footer/nav/aside.

    A hint on a wrapper does not count (``Page-ad-margins``, ``has-sidebar``, an ``<article>``
    with a ``tag-…`` class): an element holding the title, or most of the page's prose, is no box.
    Strong hints are decided first, so a big cookie dialog cannot outweigh the article.
    Leaves ``page`` scored with the zones.
    """
    n = len(page.order)
    protected = [False] * n
    if n:
        protected[0] = True
    if title_el is not None:
        for el in (title_el, *title_el.iterancestors()):
            i = page.index.get(el)
            if i is not None:
                protected[i] = True
    flags = page.flags
    page.score()
    grand = page.content[0] if n else 0.0
    limit = STRONG_ZONE_MAX_SHARE * grand
    zones = [False] * n
    for i in range(n):
        f = flags[i]
        if f & _STRONG and not f & _MAIN and not protected[i] and not (page.content[i] >= limit > 0):
            zones[i] = True
    if any(zones):
        page.score(zones)
        grand = page.content[0]
    # with the title known, only a box holding nearly all prose is a wrapper
    limit = (STRONG_ZONE_MAX_SHARE if title_el is not None else ZONE_MAX_SHARE) * grand
    content = page.content
    for i in range(n):
        f = flags[i]
        if f & (_WEAK | _CHROME) and not zones[i] and not protected[i] and not f & _MAIN and not (content[i] >= limit > 0):
            zones[i] = True
    page.score(zones)
    return zones


def find_main_content(root: HtmlElement, title_el: HtmlElement | None = None) -> HtmlElement | None:
    """The element with the most prose minus boilerplate inside it (see the module docstring)."""
    body = root.find("body")
    scope = body if body is not None else root
    page = _Page(scope)
    _zones(page, title_el)
    best: HtmlElement | None = None
    best_score = 0.0
    fallback: HtmlElement | None = None
    fallback_score = 0.0
    content, junk, flags = page.content, page.junk, page.flags
    for i in range(len(page.order) - 1, -1, -1):
        c = content[i]
        if not c:
            continue
        el = page.order[i]
        if el.tag in NOT_CONTAINERS:
            continue
        score = c - BOILERPLATE_WEIGHT * junk[i]
        if flags[i] & _MAIN:
            score *= 1.2
        if score > best_score:
            best, best_score = el, score
        # boilerplate outweighs prose everywhere (a list of linked headlines with a line each,
        # paragraphs next to a big related box): the innermost element with the most prose
        if c > fallback_score:
            fallback, fallback_score = el, c
    return best if best is not None else fallback


def prune(body: HtmlElement) -> None:
    """Drop what is not article text from a generically found body: hinted boxes, link lists,
    hidden elements, gallery counters; caption and credit boxes become ``<figcaption>``."""
    for el in list(body.iter(*SKIP_TAGS)):
        if el.tag not in ("iframe", "video", "audio"):
            drop(el)
    page = _Page(body)
    zones = _zones(page)
    for el in page.skipped:
        if el is not body and el.tag not in ("iframe", "video", "audio"):
            drop(el)
    grand = max(page.content[0], 1.0) if page.order else 1.0
    order, parent, total, content, junk = page.order, page.parent, page.total, page.content, page.junk
    gone = [False] * len(order)
    for i in range(1, len(order)):
        if gone[parent[i]]:
            gone[i] = True
            continue
        el = order[i]
        tag = el.tag
        if zones[i] and content[i] < 0.3 * grand:
            gone[i] = True
        elif tag in BLOCK_TAGS and tag not in ("p", "td", "th", "tr", "tbody", "table"):
            t = total[i]
            if t and junk[i] > 0.6 * t and content[i] < 0.5 * t:
                gone[i] = True
        if not gone[i] and 0 < page.own_n[i] <= 4 and (el.text or "").strip().isdigit() and not len(el):
            gone[i] = True  # a gallery counter, a slide number
        if gone[i]:
            drop(el)
        elif page.caption[i] and not page.caption[parent[i]] and tag not in ("figure", "table", "img", "figcaption"):
            _as_caption(el)
    _drop_boilerplate_lines(body)


def _drop_boilerplate_lines(body: HtmlElement) -> None:
    """Lines no article is made of ('Advertisement', 'Comments', '___'); photo credits become
    captions; a 'Related stories' heading in the last part of the text ends the article."""
    blocks = [(b, text_of(b)) for b in leaf_blocks(body)]
    total = sum(len(t) for _, t in blocks) or 1
    seen = 0
    cut = False
    for block, text in blocks:
        seen += len(text)
        if cut:
            drop(block)
            continue
        if not text or len(text) > MAX_BOILERPLATE_LINE:
            continue
        if not _ALNUM.search(text) and block.find(".//img") is None:
            drop(block)
        elif BOILERPLATE_LINE.match(text):
            drop(block)
        elif RELATED_HEADING.match(text):
            drop(block)
            cut = seen > TAIL_SHARE * total
        elif CREDIT_LINE.match(text) and block.tag != "figcaption":
            block.tag = "figcaption"
        elif seen <= HEAD_SHARE * total and DATELINE.search(text):
            drop(block)  # "Updated 9:02 AM, November 19, 2019" above the text


def _as_caption(el: HtmlElement) -> None:
    """A caption or credit box becomes ``<figcaption>`` (its innermost blocks, if it has blocks)."""
    leaves = [d for d in el.iter(*BLOCK_TAGS) if d is not el and not any(c.tag in BLOCK_TAGS for c in d.iterdescendants())]
    if not any(d.tag in BLOCK_TAGS for d in el.iterdescendants()):
        el.tag = "figcaption"
    for leaf in leaves:
        leaf.tag = "figcaption"


def is_noise_block(node: HtmlElement) -> bool:
    """Related boxes, share bars, tag lists and the like inside a body."""
    label = _label(node)
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
        if not LEAD_HINT.search(_label(el)) or any(a.tag in CHROME_TAGS for a in el.iterancestors()):
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
