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
# (Words sharing a first letter are grouped, and the \b ones come last: Python's re tries every
# branch of an alternation at every position, and a branch led by a letter is rejected at once —
# the same matches, 1.5x (here) and 2.8x (below) faster; these run on every class and id.)
STRONG_NEGATIVE = re.compile(
    r"c(?:omment|ookie|onsent)|binh-?luan|disqus|re(?:spond|ply|circ)|trackback|gdpr|newsletter|"
    r"s(?:ubscri|ign-?up|ponsor)|modal|popup|outbrain|taboola|advert|quang-?cao|\bads?\b",
)
# Boxes that are usually not the article (unless they hold most of the page's text).
NEGATIVE_HINT = re.compile(
    r"s(?:ide-?bar|haring|ocial|earch|implebox|kip-?link|lider)|r(?:elated|ating|ead-?more|ecommend)|"
    r"l(?:ien-?quan|ogin)|t(?:in-?khac|ag-?list|rending|oolbar|easer)|c(?:ung-?chuyen-?muc|arousel)|"
    r"m(?:ore-?(?:news|stories)|enu|asthead|ost-)|footer|b(?:anner|readcrumb|yline)|"
    r"p(?:opular|rint|romo|agination|ager|rev-?next)|xem-?nhieu|doc-?nhieu|widget|author-?(?:bio|info|box)|"
    r"jump-?link|gallery-?thumb|next-?prev|\b(?:other|nav|header|share|tags?\b|prev(?:ious)?\b|next\b)",
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
    if not label:
        return ""
    # a label without capitals has no camel boundary: the regex pass is skipped (most labels)
    return label if label.islower() else CAMEL_BOUNDARY.sub("-", label).lower()
