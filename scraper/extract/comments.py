"""Reader-comment boxes, known by what they say rather than by their class.

Old ASP.NET pages and many CMSs give a comment box no class the hints know
(``hints.STRONG_NEGATIVE``: ``comment``, ``binh-luan`` …); such a box still says what it is —
its heading ("Ý kiến bạn đọc", "Bình luận", "Comments"), its form (a ``<textarea>``) or an id in
Vietnamese (``ucYKienBanDoc``).  ``scoring.BlockScores`` notes the headings while it walks the
page (``may_name_comments``) and ``scoring.mark_zones`` asks ``mark_comment_boxes`` to make
their boxes zones (text that is never the article's).  Kept apart from ``scoring`` so that
module stays the fast per-element pass.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from scraper.html import HtmlElement

if TYPE_CHECKING:
    from scraper.extract.scoring import BlockScores

__all__ = ["COMMENT_HEADING", "COMMENT_HINT", "HEADING_TAGS", "MAX_HEADING", "mark_comment_boxes", "may_name_comments"]

# Reader-comment boxes named in Vietnamese or generically, beyond ``hints.STRONG_NEGATIVE``
# (old ASP.NET pages: ``ucYKienBanDoc``, ``pnlGuiYKien``).
COMMENT_HINT = re.compile(r"y-?kien-?(?:ban-?doc|doc-?gia)|gui-?y-?kien|feedback|thao-?luan")
# The heading of a reader-comment box or form: its box is a zone whatever its class says.
COMMENT_HEADING = re.compile(
    r"^\W*(?:\d+\s+)?(?:ý kiến (?:bạn đọc|của bạn|độc giả)|gửi ý kiến(?: của bạn| bạn đọc)?|bình luận(?: của bạn| bài viết)?"
    r"|viết bình luận|gửi bình luận|comments?|reader comments|leave a (?:comment|reply)|join the discussion"
    r"|add (?:a|your) comment|post a comment)\W*(?:\(\d+\))?\W*$",
    re.I,
)
HEADING_TAGS = frozenset({"h2", "h3", "h4", "h5", "h6", "strong", "b", "span", "div", "p", "td", "th", "legend", "label"})
MAX_HEADING = 40  # characters: a comment box's heading, not a sentence about comments


def may_name_comments(text: str) -> bool:
    """``COMMENT_HEADING``, with a quick look for its key words first (this runs on every short text)."""
    low = text.lower()
    return ("kiến" in low or "luận" in low or "comment" in low or "reply" in low or "discussion" in low) and bool(
        COMMENT_HEADING.match(text)
    )


def mark_comment_boxes(page: BlockScores, zones: list[bool], protected: list[bool], limit: float) -> None:
    """Reader-comment boxes known by their heading ("Ý kiến bạn đọc", "Bình luận", "Comments") or
    by their form (a ``<textarea>``), whatever their class: the smallest box around the heading
    or form that holds more than it; when that box is the article's own (it holds the title or
    most of the prose), what follows the heading in it."""
    index, parent, total, content = page.index, page.parent, page.total, page.content
    marks = [i for i in page.headings if not len(page.order[i]) and not _in_control(page.order[i])]
    forms: set[int] = set()
    for el in page.skipped:
        if el.tag == "textarea":
            p = el.getparent()
            if p is not None and p in index:
                marks.append(index[p])
                forms.add(index[p])
    for i in marks:
        own = total[i]
        child, box = i, parent[i]
        while box > 0 and total[box] <= own + MAX_HEADING and not protected[box]:
            child, box = box, parent[box]
        if box < 0 or zones[box]:
            continue
        # a comment box starts with its heading (or holds its form); a heading further down
        # is inside another box, the article's own perhaps
        leads = i in forms or _starts_with(page.order[box], page.order[i])
        if leads and not protected[box] and not content[box] >= limit > 0:
            zones[box] = True
            continue
        if page.order[child].tag not in ("h2", "h3", "h4", "h5", "h6"):
            continue  # only a heading of its own ends an article's container
        # the heading sits in the article's own container: what follows it there
        after = False
        for j in range(child + 1, len(page.order)):
            if parent[j] == box:
                after = True
                zones[j] = True
            elif not _inside(parent, j, box):
                break
        if not after:
            zones[child] = True


def _starts_with(box: HtmlElement, heading: HtmlElement) -> bool:
    """Whether ``heading`` holds the first text of ``box``."""
    for text in box.itertext():
        if text.strip():
            return text.strip() == (heading.text or "").strip()
    return False


def _in_control(el: HtmlElement) -> bool:
    """Inside a link or a button (a "Comments" button that opens them, not their box)."""
    for _, anc in zip(range(4), el.iterancestors(), strict=False):
        if anc.tag in ("a", "button"):
            return True
    return False


def _inside(parent: list[int], j: int, box: int) -> bool:
    while j > box:
        j = parent[j]
    return j == box
