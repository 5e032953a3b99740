"""A byline set apart by its markup, above or at the top of the body.

Many CMSs print the author between the headline and the text, marked by a class, an
``itemprop``, a ``rel`` or a ``data-role`` that says so::

    <a class="author">Nguyên Minh</a> <span class="post-time">- 07/03/2026 08:47</span>
    <div class="author-info"><p class="name" data-role="author">Minh Chiến</p></div>
    <span itemprop="author">…</span>  ·  <a rel="author">…</a>

``marked_byline`` finds the innermost such element whose text is a credit line (the
``looks_like_byline`` test, which says no to sentences and to a name glued to a date), after
the title and no later than the start of the body's text — the author boxes further down a
page (bios, "more from this author", a sidebar of columnists) are not the byline.  The
generic extractor asks it only when the body's last lines and the metadata name no person.
"""

from __future__ import annotations

import re

from lxml import etree

from scraper.html import HtmlElement, text_of
from scraper.normalize.bylines import looks_like_byline

__all__ = ["marked_byline"]

# Class/id tokens, itemprop, rel and data-role values that mark the author.
AUTHOR_MARK = re.compile(r"author|byline|tac-?gia|writer|reporter|phong-?vien|nguoi-?viet", re.I)
# Author boxes that are not the byline: bios, avatars, follow buttons, lists of columnists.
NOT_BYLINE = re.compile(r"bio\b|avatar|follow|social|list|more|other|related|popular|photo|image|img", re.I)
CHROME = frozenset({"nav", "footer", "aside"})
MAX_CHARS = 80  # a credit line; longer text is a bio or a paragraph
MAX_STEPS = 3000  # elements walked at most (a page's head and the top of its text are enough)


def _marked(el: HtmlElement) -> bool:
    for attr in ("class", "id", "itemprop", "rel", "data-role"):
        value = el.get(attr)
        if value and AUTHOR_MARK.search(value) and not NOT_BYLINE.search(value):
            return True
    return False


def marked_byline(root: HtmlElement, title_el: HtmlElement | None, body: HtmlElement | None) -> HtmlElement | None:
    """The element holding the byline above the article's text, or None (module docstring)."""
    started = title_el is None
    first_text = _first_text_block(body)
    steps = 0
    for el in root.iter(etree.Element):
        steps += 1
        if steps > MAX_STEPS:
            break
        if el is title_el:
            started = True
            continue
        if el is first_text:
            break  # past the top of the text
        if not started or not _marked(el) or any(a.tag in CHROME for a in el.iterancestors()):
            continue
        found = _innermost_byline(el)
        if found is not None:
            return found
    return None


def _innermost_byline(el: HtmlElement) -> HtmlElement | None:
    """``el`` or the deepest element in it whose whole text is a credit line."""
    text = text_of(el)
    if not text or len(text) > 4 * MAX_CHARS:
        return None
    for inner in reversed(list(el.iter(etree.Element))):  # the deepest first
        inner_text = text_of(inner)
        if inner_text and len(inner_text) <= MAX_CHARS and looks_like_byline(inner_text):
            if inner is el or inner_text == text or _marked(inner) or inner.tag in ("a", "strong", "b", "span", "p"):
                return inner
    return None


def _first_text_block(body: HtmlElement | None) -> HtmlElement | None:
    """The body's first paragraph of prose (the byline is above it or in its line)."""
    if body is None:
        return None
    for el in body.iter("p", "div", "td", "li"):
        if len(text_of(el)) >= 80 and not any(c.tag in ("p", "div") for c in el):
            return el
    return None
