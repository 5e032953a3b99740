"""Small lxml helpers shared by the listing and article extractors.

lxml rather than BeautifulSoup: parsing and walking a 100 KB news page is an
order of magnitude faster, and extraction runs on every fetched page.  CSS
selectors (site profiles) are compiled once with cssselect; an invalid
selector matches nothing instead of raising.

Two ways to read text:

``text_of``        every text node joined with a space — for titles, date lines,
                   bylines and link texts, where a site may glue words apart
                   only by markup (``<span>Đồn</span><span>Biên</span>``)
``rendered_text``  text as a browser lays it out: inline markup joins as written
                   (``<b>W</b>ord`` is one word), block boundaries and ``<br>``
                   separate — for body paragraphs
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TypeAlias

import lxml.html
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

from scraper.text import clean_text, strip_xml_illegal

__all__ = [
    "BLOCK_TAGS", "HtmlElement", "class_id", "drop", "following", "inner_html", "iter_elements", "leaf_blocks",
    "link_density", "meta_content", "new_element", "parse_fragment", "parse_html", "rendered_text",
    "select_all", "select_one", "text_of",
]  # fmt: skip

BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "aside", "header", "footer", "nav", "ul", "ol",
     "li", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "figure", "figcaption", "blockquote",
     "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dl", "dt", "dd", "center", "caption", "form",
     "address", "details", "summary", "hr", "fieldset", "hgroup", "menu", "body", "html"}
)  # fmt: skip
# A plain ``etree.HTMLParser``, not ``lxml.html.HTMLParser``: the same parse, but without lxml.html's
# element-class lookup, which runs a Python call for every element proxy made and made every walk
# of the tree ~2.5x dearer.  Nothing here uses ``lxml.html.HtmlElement``'s extra methods
# (``text_content``, ``iterlinks``, ``.classes`` ...); lxml.html's module functions (``tostring``,
# ``document_fromstring``, ``fragments_fromstring``) work on any element and are still used.
_PARSER = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)
# The element type of these trees (lxml documents ``etree._Element`` as its element class); the
# old name is kept so the extractors' annotations read as before.
HtmlElement: TypeAlias = etree._Element
# The same parse into ``lxml.html.HtmlElement`` s, for a library that takes only those (htmldate).
_HTML_PARSER = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.I)
_WS = re.compile(r"\s+")
_C0_CONTROLS = bytes(c for c in range(32) if c not in (9, 10, 13))
_NO_TEXT = frozenset({"script", "style", "template", "noscript"})


def parse_html(text: str | bytes, *, html_elements: bool = False) -> HtmlElement:
    """The ``<html>`` element of a page (lxml: fast, forgiving of broken markup); never raises.
    ``html_elements``: a tree of ``lxml.html.HtmlElement`` (what htmldate accepts as a tree)."""
    parser = _HTML_PARSER if html_elements else _PARSER
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    data = _xml_safe_utf8(_XML_DECL.sub("", text or ""))
    try:
        root = lxml.html.document_fromstring(data, parser=parser) if data.strip() else None
    except (etree.ParserError, ValueError):
        root = None
    if root is None:
        root = lxml.html.document_fromstring(b"<html><body></body></html>", parser=parser)
    return root


def _xml_safe_utf8(text: str) -> bytes:
    """UTF-8 without the characters XML forbids (they would make every later edit of the tree
    raise): C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF.  Byte operations: a
    regular expression over a 100 KB page costs more than parsing it."""
    data = text.encode("utf-8", "ignore").translate(None, _C0_CONTROLS)  # "ignore" drops surrogates
    # (looked for in the text: a one-character search there is several times faster than a
    # three-byte one in the bytes, and those bytes are exactly these characters' encoding)
    if "\ufffe" in text or "\uffff" in text:
        data = data.replace(b"\xef\xbf\xbe", b"").replace(b"\xef\xbf\xbf", b"")
    return data


def parse_fragment(html: str) -> HtmlElement:
    """A ``<div>`` holding the parsed fragment."""
    data = _xml_safe_utf8(html) if html else b""
    # what lxml.html.fragment_fromstring(create_parent="div") does, with the parent made by this
    # parser (lxml.html.Element would be an HtmlElement heading a plain tree)
    elements = lxml.html.fragments_fromstring(data, parser=_PARSER)
    root = _PARSER.makeelement("div")
    if elements and isinstance(elements[0], str):
        root.text = elements.pop(0)
    root.extend(elements)
    return root


def following(el: HtmlElement) -> Iterator[HtmlElement]:
    """Elements after ``el`` in document order (not its descendants)."""
    node: HtmlElement | None = el
    while node is not None:
        for sib in node.itersiblings():
            yield from sib.iter(etree.Element)
        node = node.getparent()


def iter_elements(node: HtmlElement) -> Iterator[HtmlElement]:
    """Every element under ``node`` (itself included), without comments or processing instructions."""
    return node.iter(etree.Element)  # type: ignore[no-any-return]


def text_of(node: HtmlElement | str | None) -> str:
    """Visible text of a node; text nodes joined with spaces so glued words stay apart."""
    if node is None:
        return ""
    if isinstance(node, str):
        return clean_text(node)
    return clean_text(" ".join(node.itertext()))


def rendered_text(node: HtmlElement) -> str:
    """Text as laid out: inline markup joined as written, one paragraph per block (blank line
    between), ``<br>`` a line break inside a paragraph."""
    parts: list[str] = []
    for event, el in etree.iterwalk(node, events=("start", "end")):
        tag = el.tag
        if event == "start":
            if tag in BLOCK_TAGS:
                parts.append("\x00")
            elif tag == "br":
                parts.append("\x01")
            if tag not in _NO_TEXT and (text := el.text):
                parts.append(text)
        else:
            if tag in BLOCK_TAGS:
                parts.append("\x00")
            if el is not node and (tail := el.tail):
                parts.append(tail)
    paragraphs = []
    for chunk in "".join(parts).split("\x00"):
        lines = [clean_text(line) for line in chunk.split("\x01")]
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def selector_problem(selector: str) -> str | None:
    """Why ``selector`` is not a CSS selector lxml can run (None when it is): for the config's
    validation, so a typo is an error at load naming its key, not a field that never matches."""
    try:
        CSSSelector(selector, translator="html")
    except (SelectorError, SyntaxError, ValueError, etree.XPathError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


@lru_cache(maxsize=512)
def _compiled(selector: str) -> CSSSelector | None:
    try:
        return CSSSelector(selector, translator="html")
    except (SelectorError, SyntaxError, ValueError, etree.XPathError):
        return None


def select_all(root: HtmlElement, selector: str | None) -> list[HtmlElement]:
    """Elements under ``root`` (not ``root`` itself) matching a CSS selector; [] if it is invalid."""
    if not selector:
        return []
    compiled = _compiled(selector)
    if compiled is None:
        return []
    try:
        return [el for el in compiled(root) if el is not root]
    except etree.XPathError:
        return []


def select_one(root: HtmlElement, selector: str | None) -> HtmlElement | None:
    found = select_all(root, selector)
    return found[0] if found else None


def leaf_blocks(node: HtmlElement) -> list[HtmlElement]:
    """Block elements under ``node`` that contain no other block element, in document order."""
    elements = [el for el in node.iter(etree.Element) if el is not node]
    has_block: set[HtmlElement] = set()
    for el in reversed(elements):
        if el.tag in BLOCK_TAGS or el in has_block:
            parent = el.getparent()
            if parent is not None:
                has_block.add(parent)
    return [el for el in elements if el.tag in BLOCK_TAGS and el not in has_block]


def link_density(node: HtmlElement) -> float:
    """Share of the node's text that sits inside links (menus and related boxes score high)."""
    total = len(_WS.sub("", "".join(node.itertext())))
    if not total:
        return 0.0
    linked = sum(len(_WS.sub("", "".join(a.itertext()))) for a in node.iter("a") if a is not node)
    if node.tag == "a":
        linked = total
    return min(1.0, linked / total)


def class_id(node: HtmlElement) -> str:
    """The class and id attributes of a node, space-joined (for hint matching)."""
    return f"{node.get('class') or ''} {node.get('id') or ''}".strip()


def meta_content(root: HtmlElement, *names: str) -> str | None:
    """First non-empty ``<meta property|name|itemprop=...>`` content among ``names`` (case-insensitive)."""
    found: dict[str, str] = {}
    for meta in root.iter("meta"):
        value = meta.get("content")
        if not value or not value.strip():
            continue
        for attr in ("property", "name", "itemprop"):
            key = meta.get(attr)
            if key:
                found.setdefault(key.strip().lower(), value.strip())
    for name in names:
        if name.lower() in found:
            return found[name.lower()]
    return None


def drop(el: HtmlElement) -> None:
    """Remove ``el`` and everything in it, keeping the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    tail, prev = el.tail, el.getprevious()
    parent.remove(el)
    if tail:
        # a character reference (&#1;) may have put XML-illegal text in the tree: lxml refuses it back
        if prev is not None:
            prev.tail = strip_xml_illegal((prev.tail or "") + tail)
        else:
            parent.text = strip_xml_illegal((parent.text or "") + tail)


def inner_html(el: HtmlElement) -> str:
    """The markup inside ``el``."""
    parts = [_escape(el.text)] if el.text else []
    parts.extend(lxml.html.tostring(child, encoding="unicode") for child in el)
    return "".join(parts)


def new_element(tag: str, children: Iterable[HtmlElement] = (), text: str | None = None) -> HtmlElement:
    el = _PARSER.makeelement(tag)
    if text:
        el.text = text
    for child in children:
        el.append(child)
    return el


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
