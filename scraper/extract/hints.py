"""Class/id hints and tag sets: what an element's markup says about the box it is.

Shared by the generic rules (``scoring``, ``pruning``, ``dateline``, ``generic``): a
class like ``comment-list`` or ``tin-lien-quan`` marks a box that is no article text,
``sapo`` a lead, ``caption`` an image caption.  One place, so the rules that score a page
and those that clean a body agree on what a hint means.
"""

from __future__ import annotations

import re

from scraper.html import BLOCK_TAGS, HtmlElement, class_id

__all__ = [
    "CAMEL_BOUNDARY", "CAPTION_HINT", "CHROME_TAGS", "HIDDEN_CLASSES", "HIDDEN_STYLE", "HINTED_TAGS", "LEAD_HINT",
    "NEGATIVE_HINT", "POSITIVE_HINT", "SKIP_TAGS", "STRONG_NEGATIVE", "label_of",
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

# Elements whose text is never page text.
SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "canvas", "iframe", "object", "embed",
     "select", "option", "textarea", "button", "input", "head", "title", "meta", "link", "audio",
     "video", "map", "dialog"}
)  # fmt: skip
CHROME_TAGS = frozenset({"header", "footer", "nav", "aside"})
# Elements whose class/id hints are read (inline ones are left alone: fewer regex runs, same boxes).
HINTED_TAGS = BLOCK_TAGS | {"span"}
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
HIDDEN_CLASSES = frozenset({"hidden", "d-none", "sr-only", "visually-hidden", "screen-reader-text", "hide", "invisible"})


CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def label_of(el: HtmlElement) -> str:
    """Class and id, lower case, camelCase split: 'PageBuilder-pageRow' -> 'page-builder-page-row'."""
    label = class_id(el)
    return CAMEL_BOUNDARY.sub("-", label).lower() if label else ""
