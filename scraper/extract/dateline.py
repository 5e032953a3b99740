"""The visible date line: the short line holding a full date nearest the title.

Used when metadata states no date (and to keep the line out of the body).  Nearest the
title because a page has other dates: a site clock in the header, related articles' dates
in link lists, dates in the text; a yearless date (``Chiều 05/01``) never counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from scraper.extract.hints import SKIP_TAGS, label_of
from scraper.html import HtmlElement, text_of
from scraper.normalize.dates import parse_datetime

__all__ = ["date_lines", "find_date_line"]

MAX_DATE_LINE = 160  # a date line is short
DATE_LINES_BEFORE = 12  # text nodes before the title searched for a date line
DATE_TEXT_AFTER = 1200  # characters of text after the title searched for a date line


_PAGE_HEADER = re.compile(r"(?:^|[\s_-])(?:site-?)?header(?:$|[\s_-])|top-?bar|topbar|\bclock\b")


def _in_chrome(el: HtmlElement) -> bool:
    """Inside the page header/footer/nav, a link, or a list of links."""
    for anc in el.iterancestors():
        tag = anc.tag
        if tag in ("header", "footer", "nav", "a"):
            return True
        if tag == "li" and anc.find(".//a") is not None:
            return True
        label = label_of(anc)
        if label and _PAGE_HEADER.search(label):
            return True
    return False


def find_date_line(
    root: HtmlElement, title_el: HtmlElement | None, tz: Any, month_first: bool = False
) -> tuple[str | None, HtmlElement | None]:
    """The short line holding a full date nearest the title (a few lines before it, or after it).

    Without a title element, the first such line in the page body outside its header.
    """
    return next(date_lines(root, title_el, tz, month_first), (None, None))


def date_lines(
    root: HtmlElement, title_el: HtmlElement | None, tz: Any, month_first: bool = False
) -> Iterator[tuple[str, HtmlElement]]:
    """Every date line in the order ``find_date_line`` ranks them, nearest the title first.

    The ones after the first are where a page states the time of a date-only first line
    (``published.py``); the page is scanned once, lazily, when the first one is asked for.
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
        # (each read of .text/.tail/.tag makes a new string: read once)
        text, tail = el.text, el.tail
        if text and text.strip() and el.tag not in SKIP_TAGS:
            texts.append((text, el))
        if tail and tail.strip() and el is not scope:
            texts.append((tail, el.getparent()))
        if title_at is not None:
            while counted < len(texts):
                chars += len(texts[counted][0].strip())
                counted += 1
            if chars > DATE_TEXT_AFTER:
                break  # far enough past the title
    if title_el is None:
        before, after = [], list(range(len(texts)))
    elif title_at is None:
        return
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
        yield line, parent


def _text_pieces(el: HtmlElement) -> Iterator[str]:
    if (text := el.text) and text.strip():
        yield text
    for child in el.iter(etree.Element):
        if child is el:
            continue
        if (text := child.text) and text.strip():
            yield text
        if (tail := child.tail) and tail.strip():
            yield tail
