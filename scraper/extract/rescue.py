"""Hints that would eat the article: zones loosened until the page keeps its text.

``scoring.mark_zones`` makes hinted boxes zones whose text is never content, and keeps a box
that alone holds most of the prose (a wrapper's hint).  An article split over many hinted
boxes slips through that test: every paragraph in a ``p.tag-style_…`` (a CSS-in-JS class
that reads as "tag"), every section in a ``share-wrapper`` or an ``elementor-widget-wrap``, a
body in a ``sidebar-grid__content``, Tailwind's ``print:…`` classes, an ``article
node--promoted``, a text whose tab also holds the comment form.  Each box is small, so each
is a zone, and the page is left with next to no prose: the extractor found no body, or one
of a few words, and rejected a real article.

When the zones leave less than ``RESCUE_SHARE`` of the page's prose and under
``RESCUE_BELOW`` characters of it, they are loosened: only strong hints stay zones (comments,
cookie boxes, ads, paywall boxes) if that gives the page back at least ``KEEP_SHARE`` of its
prose (all but its furniture's), else only furniture stays (``FURNITURE``: cookie and consent
dialogs, modals, ads, comments, related stories, page headers, footers, menus, sidebar
widgets), which never holds an article.  ``mark_zones`` asks this both on the whole page
(which container is the article) and inside the chosen body (``pruning``).  A page whose
zones leave it its text (nearly all pages) is never touched: one comparison.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from scraper.extract.explaining import explain_rescue
from scraper.extract.hints import label_of
from scraper.extract.trace import current

if TYPE_CHECKING:
    from scraper.extract.scoring import BlockScores

__all__ = ["FURNITURE", "RESCUE_BELOW", "RESCUE_SHARE", "keep_the_text"]

RESCUE_SHARE = 0.1  # zones that leave less than this share of the page's prose ate the article
RESCUE_BELOW = 400  # ... and less than this many characters of it (a short article's own text)
RESCUE_MIN = 300  # the page's prose without zones: less is no article to rescue
FURNITURE_TAGS = frozenset({"footer", "nav", "aside"})
KEEP_SHARE = 0.5  # a looser step is kept when it gives back this share of the prose
# Boxes that never hold the article, however much prose they have (a cookie dialog's policy,
# readers' comments or related stories under a short article, a footer's "About us", a blog's
# "follow by e-mail" widget): zones in every step.  Not <header>:
# an article's own header holds its kicker and standfirst, and libxml2, which knows no HTML5
# tags, may nest a forum post inside its <header class=message-attribution>.
FURNITURE = re.compile(
    r"cookie|consent|gdpr|modal|popup|\bads?\b|advert|outbrain|taboola|quang-?cao|sponsor|"
    r"comment|binh-?luan|disqus|footer|\bheader|masthead|\bnav|menu|breadcrumb|"
    r"related|lien-?quan|tin-?khac|recommend|popular|trending|most-|xem-?nhieu|doc-?nhieu|"
    r"(?:^|\s)widget(?:\s|_|$)"  # a blog's sidebar widget ("widget widget_text"), not "elementor-widget-wrap"
)


def keep_the_text(page: BlockScores, zones: list[bool], strong: int) -> list[bool]:
    """``zones``, or looser ones when they leave the page without its prose (``page`` is left
    scored with the zones returned).  ``strong``: the flag bit of a strong hint."""
    left = page.content[0] if page.order else 0.0
    if left >= RESCUE_BELOW or not any(zones):
        return zones
    page.score()
    grand = page.content[0]
    if grand < RESCUE_MIN or left >= RESCUE_SHARE * grand:
        page.score(zones)
        return zones
    flags, order = page.flags, page.order
    furniture = [z and (order[i].tag in FURNITURE_TAGS or bool(FURNITURE.search(label_of(order[i]))))
                 for i, z in enumerate(zones)]
    page.score(furniture)
    prose = page.content[0]  # the page's prose but its furniture's: what a looser step must give back
    strong_only = [f or (z and bool(flags[i] & strong)) for i, (z, f) in enumerate(zip(zones, furniture, strict=True))]
    page.score(strong_only)
    if page.content[0] >= KEEP_SHARE * prose:
        _explain("strong hints (comments, cookie boxes, ads, paywall boxes) and furniture")
        return strong_only
    page.score(furniture)
    _explain("furniture (cookie dialogs, comments, related stories, headers, footers, menus)")
    return furniture


def _explain(kept: str) -> None:
    if (t := current()) is not None:  # --explain: the body's rule says the zones were loosened
        explain_rescue(t, kept)
