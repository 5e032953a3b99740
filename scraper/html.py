"""Small BeautifulSoup helpers shared by the listing and article extractors."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString

from .text import clean_text

BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "aside", "header", "footer", "nav", "ul", "ol",
     "li", "table", "thead", "tbody", "tr", "td", "th", "figure", "figcaption", "blockquote",
     "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dl", "dt", "dd", "center", "caption", "form"}
)  # fmt: skip


def parse_html(text: str) -> BeautifulSoup:
    """Parse with lxml (fast, forgiving of broken markup)."""
    return BeautifulSoup(text or "", "lxml")


def text_of(node: Tag | NavigableString | None) -> str:
    """Visible text of a node; text nodes joined with spaces so glued words stay apart."""
    if node is None:
        return ""
    if isinstance(node, NavigableString):
        return clean_text(str(node))
    return clean_text(node.get_text(" ", strip=True))


def select_one(root: Tag, selector: str | None) -> Tag | None:
    """``root.select_one`` that treats a bad selector as 'no match' instead of raising."""
    if not selector:
        return None
    try:
        return root.select_one(selector)
    except Exception:  # soupsieve raises several types for invalid CSS
        return None


def select_all(root: Tag, selector: str | None) -> list[Tag]:
    if not selector:
        return []
    try:
        return list(root.select(selector))
    except Exception:
        return []


def leaf_blocks(node: Tag) -> Iterator[Tag]:
    """Block elements under ``node`` that contain no other block element, in document order."""
    for el in node.find_all(True):
        if el.name in BLOCK_TAGS and not any(
            isinstance(d, Tag) and d.name in BLOCK_TAGS for d in el.descendants
        ):
            yield el


def link_density(node: Tag) -> float:
    """Share of the node's text that sits inside links (menus and related boxes score high)."""
    total = len(node.get_text(" ", strip=True))
    if not total:
        return 0.0
    linked = sum(len(a.get_text(" ", strip=True)) for a in node.find_all("a"))
    return min(1.0, linked / total)


def class_id(node: Tag) -> str:
    classes = node.get("class") or []
    if isinstance(classes, str):
        classes = [classes]
    return " ".join([*classes, str(node.get("id") or "")])


def meta_content(soup: BeautifulSoup, *names: str) -> str | None:
    """First non-empty <meta property|name|itemprop=...> content among ``names``."""
    for name in names:
        for attr in ("property", "name", "itemprop"):
            el = soup.find("meta", attrs={attr: re.compile(rf"^{re.escape(name)}$", re.I)})
            if isinstance(el, Tag):
                value = el.get("content")
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return None
