"""A found body's markup made regular: absolute links, figures, paragraphs.

Sites set the same things in many ways — an image in a one-cell table (qdnd), a
``<p><img></p>`` followed by a bold caption (haiquan), lazy-loaded ``data-src``
images, loose text between ``<div>`` s.  Feed readers get one shape: absolute
``href``/``src``, ``<figure>`` + ``<figcaption>``, and every run of loose text in a
``<p>`` so no two paragraphs glue together.
"""

from __future__ import annotations

import copy

from lxml import etree

from scraper.html import BLOCK_TAGS, HtmlElement, drop, new_element, text_of
from scraper.text import strip_xml_illegal
from scraper.urls import absolute_url

__all__ = ["absolutize", "flatten", "normalize_figures"]

MAX_CAPTION_CHARS = 300
# Containers without meaning of their own: loose text in them becomes a paragraph.
PLAIN_CONTAINERS = frozenset(
    {"div", "section", "article", "main", "header", "footer", "aside", "nav", "center", "form",
     "address", "details", "summary", "fieldset", "hgroup", "menu", "body", "html"}
)  # fmt: skip


def absolutize(body: HtmlElement, base: str) -> None:
    """Links and images absolute; lazy-loaded image sources promoted to src."""
    for img in list(body.iter("img")):
        src = None
        for attr in ("data-src", "data-original", "data-lazy-src", "src"):
            value = img.get(attr)
            if value and value.strip() and not value.startswith("data:"):
                src = value
                break
        url = absolute_url(base, src)
        if url:
            img.set("src", strip_xml_illegal(url))
        else:
            drop(img)
    for a in body.iter("a"):
        url = absolute_url(base, a.get("href"))
        if url:
            a.set("href", strip_xml_illegal(url))
        elif "href" in a.attrib:
            del a.attrib["href"]


def _figure(img: HtmlElement, caption: str) -> HtmlElement:
    picture = copy.deepcopy(img)
    picture.tail = None
    fig = new_element("figure", [picture])
    if caption:
        fig.append(new_element("figcaption", text=caption))
    return fig


def _replace(old: HtmlElement, new: HtmlElement) -> None:
    new.tail = strip_xml_illegal(old.tail) if old.tail else None
    parent = old.getparent()
    if parent is not None:
        parent.replace(old, new)


def _styled_text(el: HtmlElement) -> str | None:
    """The text of ``el`` when all of it is bold or italic (how captions are set), short."""
    text = text_of(el)
    if not 0 < len(text) <= MAX_CAPTION_CHARS:
        return None
    for styled in el.iter("strong", "b", "em", "i"):
        if text_of(styled) == text:
            return text
    return None


def _text_before(block: HtmlElement, target: HtmlElement) -> str:
    parts = []
    for event, el in etree.iterwalk(block, events=("start", "end")):
        if event == "start":
            if el is target:
                break
            if el.text:
                parts.append(el.text)
        elif el is not block and el.tail:
            parts.append(el.tail)
    return text_of(" ".join(parts))


def normalize_figures(body: HtmlElement) -> None:
    """Image tables (qdnd), ``<p><img></p>`` + bold caption (haiquan), img + styled caption, h2 captions -> <figure>."""
    for table in list(body.iter("table")):
        imgs = table.findall(".//img")
        if len(imgs) == 1 and len(text_of(table)) <= 400:
            _replace(table, _figure(imgs[0], text_of(table)))
    for p in list(body.iter("p")):
        imgs = p.findall(".//img")
        if len(imgs) != 1:
            continue
        caption = ""
        if text_of(p):
            # "<p><img><br><em>caption</em></p>": styled text after the image is its caption
            found = _styled_text(p)
            if found is None or _text_before(p, imgs[0]):
                continue
            caption = found
        else:
            nxt = p.getnext()
            if nxt is not None and nxt.tag in ("p", "h2", "h3", "div") and nxt.find(".//img") is None:
                found = _styled_text(nxt)
                if found:
                    caption = found
                    drop(nxt)
        _replace(p, _figure(imgs[0], caption))
    for h in list(body.iter("h2", "h3")):
        prev = h.getprevious()
        if prev is not None and prev.tag == "figure" and prev.find("figcaption") is None:
            text = text_of(h)
            if 0 < len(text) <= MAX_CAPTION_CHARS:
                prev.append(new_element("figcaption", text=text))
                drop(h)


def flatten(body: HtmlElement) -> None:
    """Put every run of loose text and inline markup in a ``<p>`` so paragraphs never glue."""
    for el in reversed(list(body.iter(etree.Element))):  # the deepest first
        if el.tag not in PLAIN_CONTAINERS:
            continue
        if el is body or any(c.tag in BLOCK_TAGS for c in el):
            _wrap_runs(el)
        elif text_of(el) or el.find(".//img") is not None:
            el.tag = "p"


def _wrap_runs(el: HtmlElement) -> None:
    """Loose text and inline children of ``el`` into paragraphs; block children stay."""
    children: list[HtmlElement] = []
    run: HtmlElement | None = None

    def add_text(text: str | None) -> None:
        nonlocal run
        if not text or not text.strip():
            return
        text = strip_xml_illegal(text)
        if run is None:
            run = new_element("p")
            children.append(run)
        if len(run):
            run[-1].tail = (run[-1].tail or "") + text
        else:
            run.text = (run.text or "") + text

    add_text(el.text)
    el.text = None
    for child in list(el):
        tail, child.tail = child.tail, None
        if child.tag in BLOCK_TAGS:
            run = None
            children.append(child)
        elif child.tag != "br" or run is not None:
            if run is None:
                run = new_element("p")
                children.append(run)
            run.append(child)
        add_text(tail)
    el[:] = children
