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
           (``Chiều 05/01``) never counts.  A full timestamp of the same day beats
           a date-only one, and htmldate fills a missing date (``published.py``)
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
           become ``<figcaption>``.  Reader-comment boxes are known by their
           class, their heading ("Ý kiến bạn đọc") or their form; a linked
           headline with a cut-off excerpt is a teaser; beside other posts'
           ``<article>`` s, the title's own is the body; a photo story told
           in captions takes its captions as text.  A page that renders its
           text with JavaScript still states it in JSON-LD ``articleBody``.
byline     at the end of the body, past a photo credit or a note
           (``byline.py``); else marked as such above the text, or a lone
           bold name right after it (``authormark.py``)

Hand-written because the generic extractors (trafilatura, newspaper) get
these Vietnamese specifics wrong: they take header clocks or yearless lead
dates for the publish date, and captions or promo lines for authors (see
``bench/extraction.py`` for the side-by-side numbers).

The rules live in one module per concept; this module gathers them (the names
``article.py`` uses) and holds the small ones:

``metadata``  JSON-LD, ``<meta>`` dates, the title
``dateline``  the visible date line near the title
``published`` which date signal is the publish time (and the htmldate fallback)
``authors``   authors from metadata (JSON-LD, ``<meta>``, ``itemprop``/``rel=author``)
``scoring``   main-content scoring (the container of the article)
``comments``  reader-comment boxes known by their heading, form or id
``rescue``    hints that would eat the whole article, loosened (``scoring`` asks it)
``pruning``   what inside that container is not the article
``thin``      text only in ``<noscript>``; the page's summary as a marked short body
``hints``     what class/id names and tags say about a box
"""

from __future__ import annotations

import re

from scraper.extract.dateline import date_lines, find_date_line
from scraper.extract.hints import CHROME_TAGS, LEAD_HINT, label_of
from scraper.extract.metadata import (
    find_title,
    json_ld_article,
    json_ld_authors,
    json_ld_body,
    json_ld_image,
    metadata_dates,
    strip_site_suffix,
)
from scraper.extract.pruning import is_noise_block, prune
from scraper.extract.scoring import find_main_content
from scraper.html import HtmlElement, following, link_density, text_of

__all__ = [
    "date_lines", "find_date_line", "find_lead", "find_main_content", "find_title", "is_noise_block",
    "json_ld_article", "json_ld_authors", "json_ld_body", "json_ld_image", "looks_like_error_page",
    "metadata_dates", "prune", "strip_site_suffix",
]  # fmt: skip


ERROR_PAGE = re.compile(
    r"\b(?:404|403|500|not found|không tìm thấy|page not found|access denied|captcha|"
    r"forbidden|service unavailable|đang bảo trì|lỗi truy cập|trang không tồn tại)\b",
    re.I,
)


def find_lead(root: HtmlElement, title_el: HtmlElement | None, body: HtmlElement | None) -> HtmlElement | None:
    """A summary/sapo element between the title and the body, found by its class."""
    if title_el is None:
        return None
    body_ancestors = set(body.iterancestors()) if body is not None else set()
    seen = 0
    for el in following(title_el):
        seen += 1
        if seen > 400:
            break
        if body is not None and (el is body or el in body_ancestors):
            break  # reached the body: a lead sits before it
        if body is not None and _is_inside(el, body):
            break
        if not LEAD_HINT.search(label_of(el)) or any(a.tag in CHROME_TAGS for a in el.iterancestors()):
            continue
        if len(text_of(el)) >= 40 and link_density(el) < 0.3:
            return el
    return None


def _is_inside(el: HtmlElement, container: HtmlElement) -> bool:
    return any(a is container for a in el.iterancestors())


def looks_like_error_page(title: str | None, body_text: str) -> bool:
    """Error, maintenance or captcha pages served with status 200."""
    return bool(title and ERROR_PAGE.search(title)) and len(body_text) < 500
