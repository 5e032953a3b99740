"""Pages whose article text is not in their markup's visible part: where else it is stated.

``find_main_content`` scores the page as a browser shows it.  Some real articles have no text
there, and the extractor rejected them ("no article body found", "body too short"):

noscript  the page renders its text with JavaScript and keeps a copy for readers without it
          in ``<noscript>`` (a whole page in one; a blog's posts).  Scored as any page, with
          the ``<noscript>`` boxes read as plain boxes (``noscript_body``).
summary   the text comes from a script or sits behind a paywall script, and the HTML holds
          only the title, the publish date and a summary (``og:description``,
          ``<meta name=description>``, JSON-LD ``description``).  A short item -- title, date,
          summary, link, as a feed reader shows a feed's summary -- serves a user who added
          the site better than nothing, so the summary becomes the body, but only when the
          title and a publish date are sound (a home page or a listing states no publish
          date) and the summary says more than the title (``summary_text``).  It is marked:
          ``RawArticle.fallbacks`` gets ``"summary"``, so a reader of the record knows the
          body is the page's own summary, not its text.

Both run only on a page that would otherwise be rejected, so no page that has a body changes.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from scraper.html import HtmlElement, meta_content, text_of

__all__ = ["MIN_SUMMARY", "noscript_body", "summary_text"]

MIN_SUMMARY = 80  # characters: a summary shorter than this says no more than a title does
SUMMARY_META = ("og:description", "twitter:description", "description")


def noscript_body(root: HtmlElement, title_el: HtmlElement | None, found: HtmlElement | None,
                  min_chars: int, enough: int) -> HtmlElement | None:
    """The main content with the page's ``<noscript>`` boxes read as boxes, when they hold text
    (``min_chars`` of it at least) and the body ``found`` without them holds less than ``enough``
    (the page would be rejected: a short article beside a big ``<noscript>`` keeps its body);
    None otherwise.  Renames them in ``root`` (the page has no other text, and the renamed boxes are
    what a reader without JavaScript sees)."""
    from scraper.extract.scoring import find_main_content  # (scoring imports nothing from here)

    boxes = [el for el in root.iter("noscript") if len(text_of(el)) >= min_chars]
    if not boxes or (found is not None and len(text_of(found)) >= enough):
        return None
    for el in boxes:
        el.tag = "div"
    return find_main_content(root, title_el)


def summary_text(root: HtmlElement, ld: dict[str, Any], title: str | None) -> str | None:
    """The page's own summary of its article (the longest stated), when it says more than the
    title; None without a title."""
    if not title:
        return None
    found = [ld.get("description"), meta_content(root, *SUMMARY_META)]
    texts = [" ".join(t.split()) for t in found if isinstance(t, str)]
    texts = [t for t in texts if len(t) >= MIN_SUMMARY and _fold(t) != _fold(title)]
    return max(texts, key=len) if texts else None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split())).casefold()
