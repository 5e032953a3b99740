"""Listing page -> article URLs and the next listing page.

A profile's ``links`` selector wins; otherwise the generic rule keeps links on
the same host whose path ends in a numeric id (``/slug-4048``,
``/slug-post123.html``, ``/123.html``) or matches the source's
``article_pattern``.  Order of first appearance is kept (newest first on every
site we follow) and duplicates are dropped by canonical URL.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from lxml import etree

from scraper.config import SourceConfig
from scraper.html import HtmlElement, parse_html, select_all, select_one, text_of
from scraper.urls import absolute_url, same_site, url_identity

# Last path segment ending in a numeric id: slug-4048, slug-post123.html, 123.html, slug-123.htm
GENERIC_ARTICLE_PATH = re.compile(r"(?:[-_/]|post)\d{3,}(?:\.html?|\.aspx)?/?$", re.I)
# Paths that end in digits but are not articles.
NOT_ARTICLE_PATH = re.compile(
    r"/(?:tag|tags|tim-kiem|search|video-clip|rss|page|p|trang|author|tac-gia)/|/p/\d+/?$|\.(?:jpe?g|png|gif|pdf|rss|xml)$",
    re.I,
)
# compiled once and evaluated in C (``iterfind`` walks every element in Python)
_ANCHORS = etree.XPath(".//a[@href]")
NEXT_PAGE_TEXT = re.compile(r"^(?:trang sau|sau|tiếp|tiếp theo|xem tiếp|next|›|»|>|>>)$", re.I)


def is_article_url(url: str, source: SourceConfig) -> bool:
    """True when ``url``'s path looks like one of this source's article pages."""
    path = urlsplit(url).path
    if source.article_pattern:
        return re.search(source.article_pattern, path) is not None
    return bool(GENERIC_ARTICLE_PATH.search(path)) and not NOT_ARTICLE_PATH.search(path)


def extract_links(html: str, page_url: str, source: SourceConfig) -> list[str]:
    """Article URLs on a listing page, absolute, in page order, without duplicates."""
    return _links(parse_html(html), page_url, source)


def next_page_url(html: str, page_url: str, source: SourceConfig, page_no: int) -> str | None:
    """URL of listing page ``page_no + 1``: profile selector, rel=next, a 'next' link, or page_url."""
    return _next_page(parse_html(html), page_url, source)


def read_listing(html: str, page_url: str, source: SourceConfig, page_no: int) -> tuple[list[str], str | None]:
    """``extract_links`` and ``next_page_url`` of one listing page, parsed once."""
    root = parse_html(html)
    return _links(root, page_url, source), _next_page(root, page_url, source)


def _links(root: HtmlElement, page_url: str, source: SourceConfig) -> list[str]:
    if source.profile.links:
        anchors = []
        for el in select_all(root, source.profile.links):
            anchors.extend([el] if el.tag == "a" else _ANCHORS(el))
    else:
        anchors = _ANCHORS(root)
    seen: set[str] = set()
    urls: list[str] = []
    page_key = url_identity(page_url)
    for a in anchors:
        url = absolute_url(page_url, a.get("href"))
        if not url or not same_site(url, page_url):
            continue
        if not source.profile.links and not is_article_url(url, source):
            continue
        key = url_identity(url)
        if key in seen or key == page_key:
            continue
        seen.add(key)
        urls.append(url)
    return urls


def _next_page(root: HtmlElement, page_url: str, source: SourceConfig) -> str | None:
    candidate: HtmlElement | None = select_one(root, source.profile.next_page)
    if candidate is not None and candidate.tag != "a":
        candidate = candidate.find(".//a[@href]")
    if candidate is None:
        candidate = next((el for el in root.iter("a", "link") if el.get("href") and "next" in (el.get("rel") or "").lower().split()), None)
    if candidate is None:
        for a in _ANCHORS(root):
            if NEXT_PAGE_TEXT.match(text_of(a)) or (a.get("title") and NEXT_PAGE_TEXT.match(a.get("title", ""))):
                candidate = a
                break
    if candidate is not None:
        url = absolute_url(page_url, candidate.get("href"))
        if url and same_site(url, page_url) and url_identity(url) != url_identity(page_url):
            return url
    return None


def numbered_page_url(start_url: str, source: SourceConfig, page_no: int) -> str | None:
    """Listing page ``page_no`` (0 = the start URL itself) from the source's page_url template."""
    if page_no == 0:
        return start_url
    if not source.page_url:
        return None
    n = source.first_page + page_no
    return source.page_url.format(url=start_url.rstrip("/"), n=n)
