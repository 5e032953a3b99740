"""A byline set apart by its markup, above or at the top of the body.

Many CMSs print the author between the headline and the text, marked by a class, an
``itemprop``, a ``rel`` or a ``data-role`` that says so::

    <a class="author">Nguyên Minh</a> <span class="post-time">- 07/03/2026 08:47</span>
    <div class="author-info"><p class="name" data-role="author">Minh Chiến</p></div>
    <span itemprop="author">…</span>  ·  <a rel="author">…</a>

``marked_byline`` finds the innermost such element whose text is a credit line (the
``looks_like_byline`` test, which says no to sentences and to a name glued to a date), after
the title and no later than the body's first paragraph — the author boxes further down a
page (bios, "more from this author", a sidebar of columnists) are not the byline.  The
generic extractor asks it only when the body's last lines and the metadata name no person
(``take_byline_around``, which then also tries a lone bold name right after the body).
"""

from __future__ import annotations

import re

from lxml import etree

from scraper.extract.pruning import BOILERPLATE_LINE, RELATED_HEADING
from scraper.extract.trace import current, element_path
from scraper.html import HtmlElement, drop, following, text_of
from scraper.normalize.bylines import looks_like_byline

__all__ = ["marked_byline", "take_byline_around", "trailing_byline"]

# Class/id tokens, itemprop, rel and data-role values that mark the author.
AUTHOR_MARK = re.compile(r"author|byline|tac-?gia|writer|reporter|phong-?vien|nguoi-?viet", re.I)
# Author boxes that are not the byline: bios, avatars, follow buttons, lists of columnists.
NOT_BYLINE = re.compile(r"bio\b|avatar|follow|social|list|more|other|related|popular|photo|image|img", re.I)
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
MARK_ATTRS = frozenset({"class", "id", "itemprop", "rel", "data-role"})
CHROME = frozenset({"nav", "footer", "aside"})
INLINE_HOLDERS = frozenset({"a", "strong", "b", "span", "p", "em", "i"})  # tags a name is set in
MAX_CHARS = 80  # a credit line; longer text is a bio or a paragraph
MAX_STEPS = 300  # elements walked at most from the title (the byline sits between it and the text)


def _marked(el: HtmlElement) -> bool:
    for attr in el.keys():  # noqa: SIM118 (an element is no dict: keys() is lxml's attribute list)
        if attr in MARK_ATTRS:
            value = el.get(attr)
            if value and AUTHOR_MARK.search(value) and not NOT_BYLINE.search(value):
                return True
    return False


def marked_byline(root: HtmlElement, title_el: HtmlElement | None, body: HtmlElement | None) -> HtmlElement | None:
    """The element holding the byline above the article's text, or None (module docstring)."""
    in_body = False
    tried: set[HtmlElement] = set()
    verdicts: dict[str, bool] = {}  # text -> looks like a byline (nested boxes repeat their texts)
    for steps, el in enumerate(following(title_el) if title_el is not None else root.iter(etree.Element)):
        if steps > MAX_STEPS:
            break
        if el is body:
            in_body = True
        elif in_body and el.tag == "p":
            break  # past the top of the text
        if not _marked(el) or any(a.tag in CHROME or a in tried for a in el.iterancestors()):
            continue  # (a marked box inside one tried already was looked at with it)
        text = _short_text(el, 4 * MAX_CHARS)
        if not text:
            continue
        tried.add(el)
        found = _innermost_byline(el, text, verdicts)
        if found is not None:
            return found
    return None


def take_byline_around(
    root: HtmlElement, title_el: HtmlElement | None, page_body: HtmlElement | None, body: HtmlElement
) -> str | None:
    """The byline marked above the text, else a lone bold name right after it (``trailing_byline``);
    its copy is taken out of ``body`` (the cleaned copy of ``page_body``)."""
    found = marked_byline(root, title_el, page_body)
    rule = "byline marked above the text"
    if found is None and page_body is not None:
        found = trailing_byline(page_body)
        rule = "bold name right after the text"
    if found is None:
        return None
    if (t := current()) is not None:
        t.notes["authors.around"] = (rule, element_path(found), text_of(found))
    text = text_of(found)
    for twin in list(body.iter(found.tag)):
        if twin is not body and text_of(twin) == text:
            drop(twin)
    return text


def trailing_byline(page_body: HtmlElement) -> HtmlElement | None:
    """The first text after the body when it is a name set in bold on its own, and nothing else
    (``<p><strong>Hoàng Anh</strong></p>`` just past the article's container)."""
    for steps, el in enumerate(following(page_body)):
        if steps > MAX_STEPS or el.tag in CHROME:
            return None
        own = (el.text or "").strip()
        if not own:
            continue
        block = el if el.tag not in INLINE_HOLDERS or el.getparent() is None else el.getparent()
        text = text_of(block)
        if (
            len(text) > MAX_CHARS or block.tag in HEADINGS or block.tag == "a" or block.find(".//a") is not None
            or RELATED_HEADING.match(text) or BOILERPLATE_LINE.match(text)
        ):
            return None  # a section heading, a link, "Related stories"
        bold = el.tag in ("strong", "b") or any(text_of(b) == text for b in block.iter("strong", "b"))
        return block if bold and text_of(el) == text and looks_like_byline(text) else None
    return None


def _short_text(el: HtmlElement, limit: int) -> str | None:
    """The text of ``el`` if it is at most ``limit`` characters (None: longer; stops reading there)."""
    parts = []
    n = 0
    for part in el.itertext():
        n += len(part.strip())
        if n > limit:
            return None
        parts.append(part)
    return text_of(" ".join(parts))


def _innermost_byline(el: HtmlElement, text: str, verdicts: dict[str, bool]) -> HtmlElement | None:
    """``el`` (whose text is ``text``) or the deepest element in it whose whole text is a credit line."""
    for inner in reversed(list(el.iter(etree.Element))):  # the deepest first
        if not (inner is el or inner.tag in INLINE_HOLDERS or _marked(inner)):
            continue
        inner_text = text if inner is el else text_of(inner)
        if not inner_text or len(inner_text) > MAX_CHARS:
            continue
        if inner_text not in verdicts:
            verdicts[inner_text] = looks_like_byline(inner_text)
        if verdicts[inner_text]:
            return inner
    return None
