"""Page metadata and title: JSON-LD, ``<meta>`` dates, and the title among the ``<h1>`` s.

Metadata is what a CMS states about the article (``datePublished``, ``author``,
``articleBody``, ``og:title``); read before the visible page because, when it is there, it
is exact.  The title is the ``<h1>`` closest to ``og:title``/``<title>`` (those carry the
site name: "Article title - Báo Quân khu 7").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from lxml import etree

from scraper.extract.trace import Trace, current, element_path
from scraper.html import HtmlElement, meta_content, text_of
from scraper.normalize.dates import parse_datetime, parse_iso
from scraper.text import clean_text

__all__ = [
    "find_title", "heading_text", "json_ld_article", "json_ld_authors", "json_ld_body", "json_ld_image",
    "json_ld_objects", "metadata_dates", "strip_site_suffix",
]  # fmt: skip

# <meta> names CMSs state the publish time in (Open Graph, Dublin Core, Parse.ly, Sailthru,
# the colon-spelled ``article:published:time`` variant), first the common ones.
PUBLISHED_META = (
    "article:published_time", "datePublished", "pubdate", "og:published_time", "dc.date.issued",
    "article:published:time", "og:article:published_time", "article.published", "publish-date", "publishdate",
    "publish_date", "published_time", "publication_date", "parsely-pub-date", "sailthru.date", "dcterms.created",
    "dcterms.issued", "dc.date.created", "date.created", "created-date",
)  # fmt: skip
MODIFIED_META = ("article:modified_time", "dateModified", "og:updated_time", "article:modified:time", "dcterms.modified")
TITLE_SUFFIX = re.compile(r"\s+(?:[-|–—:»]|::)\s+")


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
    rule = "JSON-LD datePublished"
    if published is None:
        value = meta_content(root, *PUBLISHED_META)
        published = parse_iso(value, tz=tz) if value else None
        rule = "<meta>"
    if published is None:
        for el in _DATE_PUBLISHED(root):
            value = el.get("content") or el.get("datetime") or text_of(el)
            published = parse_iso(str(value), tz=tz) or parse_datetime(str(value), tz=tz)
            rule = "itemprop=datePublished"
            break
    if (t := current()) is not None and published is not None:
        key = next((k for k in PUBLISHED_META if meta_content(root, k)), "") if rule == "<meta>" else ""
        t.notes["date.metadata"] = f"metadata <meta {key}>" if key else f"metadata {rule}"
    if modified is None:
        value = meta_content(root, *MODIFIED_META)
        modified = parse_iso(value, tz=tz) if value else None
    return published, modified


def _similar(a: str, b: str) -> float:
    wa, wb = set(a.lower().split()), set(b.lower().split())
    return len(wa & wb) / max(1, len(wa | wb))


def strip_site_suffix(title: str) -> str:
    """'Article title - Báo Quân khu 7' -> 'Article title' (the longest part wins)."""
    parts = TITLE_SUFFIX.split(title)
    return max(parts, key=len).strip() if len(parts) > 1 else title.strip()


def heading_text(el: HtmlElement) -> str:
    """A heading's text with its inline pieces joined as written: a space between two pieces
    only where both sides are letters or digits ("Kicker</span><span>: Title" stays "Kicker:
    Title", not "Kicker : Title"; "<span>Kicker</span><span>Title</span>" is "Kicker Title")."""
    out = ""
    for piece in el.itertext():
        if out and piece and out[-1].isalnum() and piece[0].isalnum():
            out += " "
        out += piece
    return clean_text(out)


def find_title(root: HtmlElement) -> tuple[str | None, HtmlElement | None]:
    """(title text, its element) — the h1 closest to og:title/<title>, else those metadata."""
    title_el = root.find(".//title")
    hint = meta_content(root, "og:title", "twitter:title") or text_of(title_el)
    h1s = [(h, heading_text(h)) for h in root.iter("h1")]
    h1s = [(h, t) for h, t in h1s if len(t) >= 8]
    if h1s:
        best, text = max(h1s, key=lambda ht: (_similar(ht[1], hint) if hint else 0, len(ht[1])))
        if not hint or _similar(text, hint) > 0 or len(h1s) == 1:
            if (t := current()) is not None:
                _explain_title(t, root, hint, best, text)
            return text, best
    if hint:
        for h in root.iter("h2"):
            if _similar(text_of(h), hint) > 0.6:
                if (t := current()) is not None:
                    _explain_title(t, root, hint, h, text_of(h))
                return text_of(h), h
        if (t := current()) is not None:
            _explain_title(t, root, hint, None, strip_site_suffix(hint))
        return strip_site_suffix(hint), None
    return None, None


def _explain_title(t: Trace, root: HtmlElement, hint: str | None, chosen: HtmlElement | None, text: str) -> None:
    """``find_title``'s decision into the trace: the chosen heading (or metadata) and the rest."""
    label = next((f"<meta {k}>" for k in ("og:title", "twitter:title") if meta_content(root, k)), "<title>")
    sim = _similar(text, hint) if hint else 0.0
    if chosen is None:
        t.won("title", f"{label}, site name cut", text, why="no <h1> or <h2> shares its words")
    elif chosen.tag == "h1":
        why = f"shares {sim:.2f} of its words with {label}" if hint else "no og:title or <title> to compare with"
        t.won("title", "<h1> closest to og:title/<title>", text, selector=element_path(chosen), why=why)
    else:
        t.won("title", f"<{chosen.tag}> like {label}", text, selector=element_path(chosen),
              why=f"no <h1> shares words with it; this one shares {sim:.2f}")
    for h in root.iter("h1"):
        if h is chosen:
            continue
        h_text = heading_text(h)
        if len(h_text) < 8:
            why = "shorter than 8 characters"
        elif hint:
            why = f"shares {_similar(h_text, hint):.2f} of its words with {label}"
        else:
            why = "shorter than the chosen <h1>"
        t.lost("title", "<h1>", h_text, why, selector=element_path(h))
    if hint and chosen is not None:
        t.lost("title", label, hint, "the page's own heading comes first (metadata titles carry the site name)")
