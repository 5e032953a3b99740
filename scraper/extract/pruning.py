"""Pruning a generically found body: what a reader would not call the article.

``find_main_content`` picks the container; inside it there are still link lists, hinted
boxes (share, related, ads), hidden elements, gallery counters, lines like
"Advertisement" or "Comments" and the tail after a "Related stories" heading.  ``prune``
scores the body again (``scoring.BlockScores``) and drops those; caption and credit boxes
become ``<figcaption>``.  ``is_noise_block`` is the lighter test for bodies a site
profile found.
"""

from __future__ import annotations

import re

from scraper.extract.hints import NEGATIVE_HINT, POSITIVE_HINT, SKIP_TAGS, STRONG_NEGATIVE, label_of
from scraper.extract.scoring import BlockScores, mark_zones
from scraper.html import BLOCK_TAGS, HtmlElement, drop, leaf_blocks, link_density, text_of

__all__ = ["is_noise_block", "prune"]

# Short lines that are never article text, and headings that start the page's tail.
BOILERPLATE_LINE = re.compile(
    r"^\W*(?:advert(?:isement)?s?|ads?|sponsored(?: content)?|\d* ?comments?|leave a (?:comment|reply)|"
    r"share(?: this)?(?: article| story| post| on \w+)?|click here\b.*|tell us what you think\W*|"
    r"media playback is unsupported.*|this slideshow requires javascript\W*|"
    r"(?:sign up|subscribe)(?: now| today)?(?: for| to)? (?:our|the)? ?newsletter.*|iklan|"
    r"quảng cáo|chia sẻ(?: bài viết)?|bình luận|gửi bình luận|in bài(?: viết)?|tags?|từ khóa|từ khoá)\W*$",
    re.I,
)
RELATED_HEADING = re.compile(
    r"^\W*(?:you (?:may|might) (?:also )?like|related(?: articles| stories| posts| news| content| coverage)?|"
    r"read (?:more|next|also)|more (?:from|on|great|stories|news)\b.*|recommended(?: for you)?|"
    r"most (?:popular|read)|trending(?: now)?|"
    r"tin liên quan|bài liên quan|bài viết liên quan|tin cùng chuyên mục|tin khác|các tin khác|xem thêm)\W*$",
    re.I,
)
CREDIT_LINE = re.compile(
    r"^\W*(?:photo|image|picture|foto|ảnh)s?\s*(?::|(?:copyright|credit|courtesy|by)\b)|^\W*ảnh minh họa", re.I
)
# A date or "updated …" line (English and Vietnamese labels) in the first part of the text.
DATELINE = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.? \d{1,2},? \d{4}\b|"
    r"^\W*(?:updated|published|posted|last modified|cập nhật|đăng)\b[^.]*\d",
    re.I,
)
HEAD_SHARE = 0.2
_ALNUM = re.compile(r"[^\W_]")
MAX_BOILERPLATE_LINE = 80
TAIL_SHARE = 0.5  # a related-stories heading past this share of the text cuts everything after it


def prune(body: HtmlElement) -> None:
    """Drop what is not article text from a generically found body: hinted boxes, link lists,
    hidden elements, gallery counters; caption and credit boxes become ``<figcaption>``."""
    for el in list(body.iter(*SKIP_TAGS)):
        if el.tag not in ("iframe", "video", "audio"):
            drop(el)
    for a in [a for a in body.iter("a") if "tag" in (a.get("rel") or "").lower().split() and _in_tag_list(a)]:
        drop(a)  # the page's tags (rel=tag) listed apart, not linked words of its text
    page = BlockScores(body)
    zones = mark_zones(page)
    for el in page.skipped:
        if el is not body and el.tag not in ("iframe", "video", "audio"):
            drop(el)
    grand = max(page.content[0], 1.0) if page.order else 1.0
    order, parent, total, content, junk = page.order, page.parent, page.total, page.content, page.junk
    gone = [False] * len(order)
    for i in range(1, len(order)):
        if gone[parent[i]]:
            gone[i] = True
            continue
        el = order[i]
        tag = el.tag
        if zones[i] and content[i] < 0.3 * grand:
            gone[i] = True
        elif tag in BLOCK_TAGS and tag not in ("p", "td", "th", "tr", "tbody", "table"):
            t = total[i]
            if t and junk[i] > 0.6 * t and content[i] < 0.5 * t:
                gone[i] = True
        if (
            not gone[i] and 0 < page.own_n[i] <= 4 and tag not in ("td", "th")
            and (el.text or "").strip().isdigit() and not len(el)
        ):
            gone[i] = True  # a gallery counter, a slide number (a number in a table cell is data)
        if gone[i]:
            drop(el)
        elif page.caption[i] and not page.caption[parent[i]] and tag not in ("figure", "table", "img", "figcaption"):
            _as_caption(el)
    _drop_boilerplate_lines(body)


def _in_tag_list(a: HtmlElement) -> bool:
    """A tag link between separators (", ", a line break), not a word of a sentence."""
    prev = a.getprevious()
    before = prev.tail if prev is not None else (a.getparent().text if a.getparent() is not None else None)
    return not _ALNUM.search(before or "") and not _ALNUM.search(a.tail or "")


def _drop_boilerplate_lines(body: HtmlElement) -> None:
    """Lines no article is made of ('Advertisement', 'Comments', '___'); photo credits become
    captions; a 'Related stories' heading in the last part of the text ends the article."""
    blocks = [(b, text_of(b)) for b in leaf_blocks(body)]
    total = sum(len(t) for _, t in blocks) or 1
    seen = 0
    cut = False
    for block, text in blocks:
        seen += len(text)
        if cut:
            drop(block)
            continue
        if not text or len(text) > MAX_BOILERPLATE_LINE:
            continue
        if not _ALNUM.search(text) and block.find(".//img") is None:
            drop(block)
        elif BOILERPLATE_LINE.match(text):
            drop(block)
        elif RELATED_HEADING.match(text):
            drop(block)
            cut = seen > TAIL_SHARE * total
        elif CREDIT_LINE.match(text) and block.tag != "figcaption":
            block.tag = "figcaption"
        elif seen <= HEAD_SHARE * total and DATELINE.search(text):
            drop(block)  # "Updated 9:02 AM, November 19, 2019" above the text


def _as_caption(el: HtmlElement) -> None:
    """A caption or credit box becomes ``<figcaption>`` (its innermost blocks, if it has blocks)."""
    leaves = [d for d in el.iter(*BLOCK_TAGS) if d is not el and not any(c.tag in BLOCK_TAGS for c in d.iterdescendants())]
    if not any(d.tag in BLOCK_TAGS for d in el.iterdescendants()):
        el.tag = "figcaption"
    for leaf in leaves:
        leaf.tag = "figcaption"


def is_noise_block(node: HtmlElement) -> bool:
    """Related boxes, share bars, tag lists and the like inside a body."""
    label = label_of(node)
    if label and (STRONG_NEGATIVE.search(label) or NEGATIVE_HINT.search(label)) and not POSITIVE_HINT.search(
        label.replace("related", "")
    ):
        return True
    text = text_of(node)
    return bool(text) and len(text) > 40 and link_density(node) > 0.6 and len(node.findall(".//a")) >= 3
