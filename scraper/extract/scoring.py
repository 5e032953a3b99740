"""Main-content scoring: which element holds the article.

One pass over the page (``BlockScores``) measures every block's own text, link text and
commas, and reads every element's class/id hints; ``score`` sums them up the tree.  A
block of prose is *content*, link text and link lists are *boilerplate*; hinted boxes
(comments, share, related …, header/footer/nav/aside) are zones whose text never counts
as content (``mark_zones``), unless the box holds the title or nearly all the prose (a
wrapper's hint: ``Page-ad-margins``).  The main container is the element with the most
content minus boilerplate inside it, so an article split over several ``<div>`` s is
taken whole.  Kept apart from ``pruning`` (which reuses the scores inside the found
body) because this is the part tuned for speed: it runs over every element of every page.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree

from scraper.extract.comments import (
    COMMENT_HINT,
    HEADING_TAGS,
    MAX_HEADING,
    mark_comment_boxes,
    may_name_comments,
)
from scraper.extract.explaining import explain_body
from scraper.extract.hints import (
    CAMEL_BOUNDARY,
    CAPTION_HINT,
    CHROME_TAGS,
    HIDDEN_CLASSES,
    HIDDEN_STYLE,
    HINTED_TAGS,
    NEGATIVE_HINT,
    SKIP_TAGS,
    STRONG_NEGATIVE,
)
from scraper.extract.rescue import keep_the_text
from scraper.extract.trace import current
from scraper.html import BLOCK_TAGS, HtmlElement

__all__ = ["BlockScores", "container_score", "find_main_content", "mark_zones"]

# Never the main container.
NOT_CONTAINERS = frozenset({"html", "a", "p", "span", "li", "h1", "h2", "h3", "h4", "h5", "h6"})

# Content scoring (see find_main_content).
BOILERPLATE_WEIGHT = 1.5  # a character of link text costs this many characters of prose
MAIN_BONUS = 1.2  # the score of a box hinted as the article's body (``article-body``, itemprop)
ZONE_MAX_SHARE = 0.5  # a hinted box holding this share of the page's prose is not a box
STRONG_ZONE_MAX_SHARE = 0.8  # the same for strong hints (comments, cookie boxes, ads)
HOVER_CARDS = etree.XPath(".//p//span[.//img][count(.//a) >= 3][not(.//span[.//img][count(.//a) >= 3])]")
ELLIPSES = ("...", "…", "[…]", "[...]")
MIN_PROSE = 25  # shorter blocks are neither content nor boilerplate (headings, datelines)
# A photo story: caption prose this long, and this many times the prose of the best container.
PHOTO_STORY_MIN = 400
PHOTO_STORY_RATIO = 2.0
MIN_OWN_ARTICLE = 200  # prose in the title's <article> for it to be the body (see _own_article)


_STRONG, _WEAK, _CAPTION, _MAIN, _CHROME = 1, 2, 4, 8, 16
MAIN_HINT = re.compile(r"article-?body|post-?body|entry-?content|story-?body")
# Posts embedded in the text by the networks' own markup (tweets, Instagram, TikTok, Bluesky, Threads).
EMBEDDED_POST = re.compile(r"twitter-tweet|instagram-media|tiktok-embed|bluesky-embed|text-post-media")
EMBED_WRAPPERS = 2  # wrappers around an embedded post that its protection reaches



@lru_cache(maxsize=16384)  # class names recur across a site's pages (ids seldom do)
def _hint_flags(label: str) -> int:
    """What a class/id string says about its box (cached: pages repeat their class strings)."""
    norm = label if label.islower() else CAMEL_BOUNDARY.sub("-", label).lower()  # no capital: no boundary
    flags = 0
    if STRONG_NEGATIVE.search(norm) or (("kien" in norm or "feedback" in norm or "thao" in norm) and COMMENT_HINT.search(norm)):
        flags |= _STRONG
    if NEGATIVE_HINT.search(norm):
        flags |= _WEAK
    # (a substring look first: these two patterns need one of these words, and most labels have none)
    if ("capt" in norm or "credit" in norm or "legend" in norm or "info" in norm or "desc" in norm) and CAPTION_HINT.search(norm):
        flags |= _CAPTION
    if ("body" in norm or "content" in norm) and MAIN_HINT.search(norm):
        flags |= _MAIN
    return flags


class BlockScores:
    """One pass over a page: own text, link text and commas of every block, and the hints of every
    element; ``score`` sums them up the tree.  Elements are numbered in document order."""

    __slots__ = ("scope", "order", "index", "parent", "own_n", "own_link", "own_commas", "flags",
                 "caption", "skipped", "total", "content", "junk", "captioned", "teaser", "headings", "embeds",
                 "texted")  # fmt: skip

    def __init__(self, scope: HtmlElement) -> None:
        self.scope = scope
        if self._walk(scope, set()):
            # an image in an inline box of a paragraph: maybe a hover card (a name that pops up a photo
            # and links to their stories), an inline box of links a reader does not see in the text
            cards = set(HOVER_CARDS(scope))
            if cards:
                self._walk(scope, cards)

    def _walk(self, scope: HtmlElement, cards: set[HtmlElement]) -> bool:
        """The pass itself, leaving ``cards`` out; True if an image sits in a ``<span>`` in a ``<p>``."""
        suspect = False
        order: list[HtmlElement] = []
        parent: list[int] = []
        own_n: list[int] = []
        own_link: list[int] = []
        own_commas: list[int] = []
        cut: list[bool] = []  # the block's text ends in an ellipsis (a teaser's cut-off excerpt)
        led: list[bool] = []  # the block's text starts with a link (a teaser's headline)
        flags: list[int] = []
        caption: list[bool] = []
        self.skipped: list[HtmlElement] = []
        self.headings: list[int] = []  # elements whose text is a comment box's heading
        self.embeds: list[int] = []  # posts embedded in the text (tweets …)
        path: list[int] = []  # indices of the open elements (-1: a skipped one)
        blocks: list[int] = []  # indices of the open block elements
        link_depth = 0
        walker = etree.iterwalk(scope, events=("start", "end"))
        # hand-bound methods: this loop runs over every element of every page
        skip_subtree, order_append, parent_append, path_append, path_pop = (
            walker.skip_subtree, order.append, parent.append, path.append, path.pop,
        )
        for event, el in walker:
            if event == "start":
                tag = el.tag
                keys = el.keys()
                cls = eid = None
                f = 0
                if keys:
                    cls = el.get("class")
                    if (
                        "hidden" in keys
                        or (cls and not HIDDEN_CLASSES.isdisjoint(cls.split()))
                        or ("style" in keys and HIDDEN_STYLE.search(el.get("style")))
                    ):
                        self.skipped.append(el)
                        skip_subtree()
                        path_append(-1)
                        continue
                    eid = el.get("id")
                    if (cls or eid) and tag in HINTED_TAGS:
                        # class and id apart: classes repeat across a page (cached), ids seldom
                        f = (_hint_flags(cls) if cls else 0) | (_hint_flags(eid) if eid else 0)
                    if "itemprop" in keys and el.get("itemprop") == "articleBody":
                        f |= _MAIN
                if tag.__class__ is not str or tag in SKIP_TAGS or (cards and el in cards):
                    self.skipped.append(el)
                    skip_subtree()
                    path_append(-1)
                    continue
                i = len(order)
                p = path[-1] if path else -1
                order_append(el)
                parent_append(p)
                path_append(i)
                own_n.append(0)
                own_link.append(0)
                own_commas.append(0)
                cut.append(False)
                led.append(False)
                if tag in CHROME_TAGS:
                    f |= _CHROME
                flags.append(f)
                if cls and tag == "blockquote" and EMBEDDED_POST.search(cls):
                    self.embeds.append(i)
                caption.append((p >= 0 and caption[p]) or tag == "figcaption" or bool(f & _CAPTION))
                if tag in BLOCK_TAGS or not blocks:
                    blocks.append(i)
                if tag == "a":
                    link_depth += 1
                elif tag == "img" and not suspect:
                    suspect = _in_inline_box(order, path)
                text = el.text
                if text and not text.isspace():
                    b = blocks[-1]
                    stripped = text.strip()
                    n = len(stripped)
                    if not own_n[b]:
                        led[b] = link_depth > 0
                    own_n[b] += n
                    if link_depth:
                        own_link[b] += n
                    if "," in text or "，" in text or "、" in text:
                        own_commas[b] += text.count(",") + text.count("，") + text.count("、")
                    cut[b] = stripped.endswith(ELLIPSES)
                    if n <= MAX_HEADING and tag in HEADING_TAGS and may_name_comments(stripped):
                        self.headings.append(i)
            else:
                i = path_pop()
                if i >= 0:
                    if i == blocks[-1] if blocks else False:
                        blocks.pop()
                    if el.tag == "a":
                        link_depth -= 1
                tail = el.tail
                if tail and blocks and el is not scope and not tail.isspace():
                    b = blocks[-1]
                    stripped = tail.strip()
                    n = len(stripped)
                    if not own_n[b]:
                        led[b] = link_depth > 0
                    own_n[b] += n
                    if link_depth:
                        own_link[b] += n
                    if "," in tail or "，" in tail or "、" in tail:
                        own_commas[b] += tail.count(",") + tail.count("，") + tail.count("、")
                    cut[b] = stripped.endswith(ELLIPSES)
        self.order, self.parent, self.flags, self.caption = order, parent, flags, caption
        self.own_n, self.own_link, self.own_commas = own_n, own_link, own_commas
        self.teaser = [c and led[i] and order[i].tag != "p" for i, c in enumerate(cut)]
        self.index = {el: i for i, el in enumerate(order)}
        # the elements with text in them, children first: the only ones ``score`` has to add up
        # (found once here; ``score`` runs several times a page)
        has_text = [False] * len(order)
        texted: list[int] = []
        for i in range(len(order) - 1, 0, -1):
            if own_n[i] or has_text[i]:
                texted.append(i)
                has_text[parent[i]] = True
        self.texted = texted
        self.total: list[int] = []
        self.content: list[float] = []
        self.junk: list[float] = []
        self.captioned: list[float] = []
        return suspect

    def score(self, zones: list[bool] | None = None) -> None:
        """Text, content and boilerplate characters of every element (``zones`` hold no content)."""
        n = len(self.order)
        parent, own_n, own_link, own_commas, caption = self.parent, self.own_n, self.own_link, self.own_commas, self.caption
        teaser = self.teaser
        inside = list(zones) if zones is not None else [False] * n
        for i in range(n) if zones is not None else ():  # parents come first
            p = parent[i]
            if p >= 0 and inside[p]:
                inside[i] = True
        total = [0] * n
        content = [0.0] * n
        junk = [0.0] * n
        captioned = [0.0] * n  # prose in captions (a photo story's text)
        order = self.order
        for i in self.texted:  # children before their parents; 0 (the scope) is not among them
            k = own_n[i]
            if k:
                linked = own_link[i]
                total[i] += k
                if inside[i] or linked * 2 > k or teaser[i]:
                    junk[i] += k  # a zone, a link list, a linked headline with its cut-off excerpt
                elif not caption[i]:  # captions are no prose
                    junk[i] += linked
                    prose = k - linked
                    if prose >= MIN_PROSE and (prose >= 80 or own_commas[i] or order[i].tag == "p"):
                        content[i] += prose
                else:
                    prose = k - linked
                    if prose >= MIN_PROSE and (prose >= 80 or own_commas[i]):
                        captioned[i] += prose
            t = total[i]
            if t:  # (an element without text has nothing else either)
                p = parent[i]
                total[p] += t
                if c := content[i]:
                    content[p] += c
                if j := junk[i]:
                    junk[p] += j
                if c := captioned[i]:
                    captioned[p] += c
        if n:
            # loose text right in the scope (<body>) is not an article
            k = own_n[0]
            total[0] += k
            junk[0] += own_link[0]
        self.total, self.content, self.junk, self.captioned = total, content, junk, captioned


def _in_inline_box(order: list[HtmlElement], path: list[int]) -> bool:
    """Whether the open elements end in a ``<span>`` inside a ``<p>`` (an image's place)."""
    span = False
    for i in reversed(path):
        if i < 0:
            return False
        tag = order[i].tag
        if tag == "span":
            span = True
        elif tag == "p":
            return span
        elif tag in BLOCK_TAGS:
            return False
    return False


def mark_zones(page: BlockScores, title_el: HtmlElement | None = None) -> list[bool]:
    """Boxes whose text is never content: hinted boxes (comments, cookie and newsletter boxes, ads;
    sidebars, related, share, tags …) and header/footer/nav/aside.

    A hint on a wrapper does not count (``Page-ad-margins``, ``has-sidebar``, an ``<article>``
    with a ``tag-…`` class): an element holding the title, or most of the page's prose, is no box.
    Strong hints are decided first, so a big cookie dialog cannot outweigh the article.
    Leaves ``page`` scored with the zones.
    """
    n = len(page.order)
    protected = [False] * n
    if n:
        protected[0] = True
    if title_el is not None:
        for el in (title_el, *title_el.iterancestors()):
            i = page.index.get(el)
            if i is not None:
                protected[i] = True
    for i in page.embeds:
        # a post quoted in the text (a tweet) is text, whatever its wrapper's class ("social-embed")
        j = i
        for _ in range(EMBED_WRAPPERS + 1):
            if j < 0:
                break
            protected[j] = True
            j = page.parent[j]
    flags = page.flags
    page.score()
    grand = page.content[0] if n else 0.0
    limit = STRONG_ZONE_MAX_SHARE * grand
    zones = [False] * n
    for i in range(n):
        f = flags[i]
        if f & _STRONG and not f & _MAIN and not protected[i] and not (page.content[i] >= limit > 0):
            zones[i] = True
    mark_comment_boxes(page, zones, protected, limit)
    if any(zones):
        page.score(zones)
        grand = page.content[0]
    # with the title known, only a box holding nearly all prose is a wrapper
    limit = (STRONG_ZONE_MAX_SHARE if title_el is not None else ZONE_MAX_SHARE) * grand
    content = page.content
    added = False
    for i in range(n):
        f = flags[i]
        if f & (_WEAK | _CHROME) and not zones[i] and not protected[i] and not f & _MAIN and not (content[i] >= limit > 0):
            zones[i] = added = True
    if added:  # else the scores of the zones so far stand
        page.score(zones)
    return keep_the_text(page, zones, _STRONG)  # unless they ate the article (rescue.py)


def _inside(parent: list[int], j: int, box: int) -> bool:
    while j > box:
        j = parent[j]
    return j == box


def find_main_content(root: HtmlElement, title_el: HtmlElement | None = None) -> HtmlElement | None:
    """The element with the most prose minus boilerplate inside it (see the module docstring)."""
    body = root.find("body")
    scope = body if body is not None else root
    page = BlockScores(scope)
    mark_zones(page, title_el)
    best, best_i = _best(page, with_captions=False)
    # a photo story tells its text in image captions: then caption prose counts as prose
    captioned = page.captioned[0] if page.order else 0.0
    prose = page.content[best_i] if best is not None else 0.0
    photo_story = captioned >= PHOTO_STORY_MIN and captioned >= PHOTO_STORY_RATIO * prose
    if photo_story:
        best, best_i = _best(page, with_captions=True)
    found = _own_article(page, best, best_i, title_el)
    if (t := current()) is not None:
        explain_body(t, page, found, best, photo_story)
    return found


def _own_article(page: BlockScores, best: HtmlElement | None, best_i: int, title_el: HtmlElement | None) -> HtmlElement | None:
    """The title's own ``<article>`` when the best container holds it and other ``<article>`` s
    too (teasers of other posts, the next article of an endless page): those are not this page's
    article.  Only when the title's ``<article>`` holds text, not just the headline."""
    if best is None or title_el is None or best_i < 0:
        return best
    own = next((a for a in title_el.iterancestors("article")), None)
    if own is None or own is best:
        return best
    i = page.index.get(own)
    if i is None or not _inside(page.parent, i, best_i) or page.content[i] < MIN_OWN_ARTICLE:
        return best
    others = [a for a in best.iter("article") if a is not own and own not in a.iterancestors() and a not in own.iterancestors()]
    if not others:
        return best
    # the page's prose is in the <article>s (else the title's <article> may hold just the header)
    outer = {id(a) for a in others}
    in_others = sum(page.content[j] for a in others if (j := page.index.get(a)) is not None
                    and not any(id(b) in outer for b in a.iterancestors()))
    outside = page.content[best_i] - page.content[i] - in_others
    return own if outside < page.content[i] else best


def container_score(page: BlockScores, i: int, *, with_captions: bool = False) -> float | None:
    """The score ``_best`` ranks element ``i`` by (None: never a container); ``_best`` inlines it."""
    c = page.content[i] + page.captioned[i] if with_captions else page.content[i]
    if not c or page.order[i].tag in NOT_CONTAINERS:
        return None
    score = c - BOILERPLATE_WEIGHT * page.junk[i]
    return score * MAIN_BONUS if page.flags[i] & _MAIN else score


def _best(page: BlockScores, *, with_captions: bool) -> tuple[HtmlElement | None, int]:
    """The best container and its index (-1: none)."""
    best: HtmlElement | None = None
    best_i = -1
    best_score = 0.0
    fallback: HtmlElement | None = None
    fallback_i = -1
    fallback_score = 0.0
    content, junk, flags, captioned = page.content, page.junk, page.flags, page.captioned
    for i in range(len(page.order) - 1, -1, -1):
        c = content[i] + captioned[i] if with_captions else content[i]
        if not c:
            continue
        el = page.order[i]
        if el.tag in NOT_CONTAINERS:
            continue
        score = c - BOILERPLATE_WEIGHT * junk[i]
        if flags[i] & _MAIN:
            score *= MAIN_BONUS
        if score > best_score:
            best, best_i, best_score = el, i, score
        # boilerplate outweighs prose everywhere (a list of linked headlines with a line each,
        # paragraphs next to a big related box): the innermost element with the most prose
        if c > fallback_score:
            fallback, fallback_i, fallback_score = el, i, c
    return (best, best_i) if best is not None else (fallback, fallback_i)
