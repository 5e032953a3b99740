"""Article page + site profile -> RawArticle.

Each field is taken from the profile's selector when it has one.  When a
selector is set but matches nothing (layout drift), the field falls back to
the generic rules in ``generic.py`` and the miss is recorded in
``RawArticle.failed_selectors`` so the pipeline can mark the source degraded
and name the selector — never a silent empty article.  A source without a
profile goes through the generic rules field by field.

The body, wherever it came from, is then cleaned the same way: removals,
twins of the title/date/lead, noise boxes, promo lines and end marks at the
end, the byline paragraph (kept apart as the author), image tables and
``<p><img></p>`` + caption pairs turned into ``<figure>``, and every run of
loose text put in a paragraph so no two paragraphs glue together.
"""

from __future__ import annotations

import copy
import re

from lxml import etree

from scraper.config import Profile, SourceConfig
from scraper.errors import ExtractError
from scraper.extract import generic
from scraper.html import (
    BLOCK_TAGS,
    HtmlElement,
    drop,
    inner_html,
    leaf_blocks,
    meta_content,
    new_element,
    parse_html,
    select_all,
    select_one,
    text_of,
)
from scraper.models import RawArticle
from scraper.normalize.bylines import looks_like_byline
from scraper.normalize.dates import find_publish_date
from scraper.text import strip_xml_illegal
from scraper.urls import absolute_url

__all__ = ["extract_article"]

# Lines at the end of a body that are neither text nor byline.
TRAILER = re.compile(
    r"^(?:\*?\s*mời (?:bạn|quý) (?:đọc|vị)|xem thêm|xem tiếp|tin liên quan|bài liên quan|"
    r"\./\.|\.\s*/\s*\.|\(?\s*\d[\d.,]*\s+lượt xem\s*\)?|chia sẻ|in bài)",
    re.I,
)
END_MARK = re.compile(r"\s*\.\s*/\s*\.\s*$")
PHOTO_CREDIT = re.compile(r"^\(?\s*ảnh\s*:", re.I)
MIN_BODY_CHARS = 80
LD_BODY_RATIO = 2.0  # JSON-LD articleBody this many times longer than the found body replaces it
MAX_CAPTION_CHARS = 300
MAX_LINE_EXTRA = 40  # a date line may carry this much besides the date (a view counter)
ALWAYS_REMOVE = ("script", "style", "noscript", "iframe", "form", "button", "input", "select", "textarea",
                 "ins", "object", "embed", "template", "svg", "h1")  # fmt: skip
NOISE_CANDIDATES = frozenset({"div", "section", "aside", "ul", "nav"})
# Containers without meaning of their own: loose text in them becomes a paragraph.
PLAIN_CONTAINERS = frozenset(
    {"div", "section", "article", "main", "header", "footer", "aside", "nav", "center", "form",
     "address", "details", "summary", "fieldset", "hgroup", "menu", "body", "html"}
)  # fmt: skip


def _profile_pick(root: HtmlElement, profile: Profile, field: str, raw: RawArticle) -> HtmlElement | None:
    selector = getattr(profile, field)
    if not selector:
        return None
    el = select_one(root, selector)
    if el is None or (field != "image" and not text_of(el) and el.find(".//img") is None):
        raw.failed_selectors[field] = selector
        return None
    return el


def _absolutize(body: HtmlElement, base: str) -> None:
    """Links and images absolute; lazy-loaded image sources promoted to src."""
    for img in list(body.iter("img")):
        src = None
        for attr in ("data-src", "data-original", "data-lazy-src", "src"):
            value = img.get(attr)
            if value and value.strip() and not value.startswith("data:"):
                src = value
                break
        url = absolute_url(base, src)
        if url:
            img.set("src", strip_xml_illegal(url))
        else:
            drop(img)
    for a in body.iter("a"):
        url = absolute_url(base, a.get("href"))
        if url:
            a.set("href", strip_xml_illegal(url))
        elif "href" in a.attrib:
            del a.attrib["href"]


def _figure(img: HtmlElement, caption: str) -> HtmlElement:
    picture = copy.deepcopy(img)
    picture.tail = None
    fig = new_element("figure", [picture])
    if caption:
        fig.append(new_element("figcaption", text=caption))
    return fig


def _replace(old: HtmlElement, new: HtmlElement) -> None:
    new.tail = strip_xml_illegal(old.tail) if old.tail else None
    parent = old.getparent()
    if parent is not None:
        parent.replace(old, new)


def _styled_text(el: HtmlElement) -> str | None:
    """The text of ``el`` when all of it is bold or italic (how captions are set), short."""
    text = text_of(el)
    if not 0 < len(text) <= MAX_CAPTION_CHARS:
        return None
    for styled in el.iter("strong", "b", "em", "i"):
        if text_of(styled) == text:
            return text
    return None


def _text_before(block: HtmlElement, target: HtmlElement) -> str:
    parts = []
    for event, el in etree.iterwalk(block, events=("start", "end")):
        if event == "start":
            if el is target:
                break
            if el.text:
                parts.append(el.text)
        elif el is not block and el.tail:
            parts.append(el.tail)
    return text_of(" ".join(parts))


def _normalize_figures(body: HtmlElement) -> None:
    """Image tables (qdnd), ``<p><img></p>`` + bold caption (haiquan), img + styled caption, h2 captions -> <figure>."""
    for table in list(body.iter("table")):
        imgs = table.findall(".//img")
        if len(imgs) == 1 and len(text_of(table)) <= 400:
            _replace(table, _figure(imgs[0], text_of(table)))
    for p in list(body.iter("p")):
        imgs = p.findall(".//img")
        if len(imgs) != 1:
            continue
        caption = ""
        if text_of(p):
            # "<p><img><br><em>caption</em></p>": styled text after the image is its caption
            found = _styled_text(p)
            if found is None or _text_before(p, imgs[0]):
                continue
            caption = found
        else:
            nxt = p.getnext()
            if nxt is not None and nxt.tag in ("p", "h2", "h3", "div") and nxt.find(".//img") is None:
                found = _styled_text(nxt)
                if found:
                    caption = found
                    drop(nxt)
        _replace(p, _figure(imgs[0], caption))
    for h in list(body.iter("h2", "h3")):
        prev = h.getprevious()
        if prev is not None and prev.tag == "figure" and prev.find("figcaption") is None:
            text = text_of(h)
            if 0 < len(text) <= MAX_CAPTION_CHARS:
                prev.append(new_element("figcaption", text=text))
                drop(h)


def _flatten(body: HtmlElement) -> None:
    """Put every run of loose text and inline markup in a ``<p>`` so paragraphs never glue."""
    for el in reversed(list(body.iter(etree.Element))):  # the deepest first
        if el.tag not in PLAIN_CONTAINERS:
            continue
        if el is body or any(c.tag in BLOCK_TAGS for c in el):
            _wrap_runs(el)
        elif text_of(el) or el.find(".//img") is not None:
            el.tag = "p"


def _wrap_runs(el: HtmlElement) -> None:
    """Loose text and inline children of ``el`` into paragraphs; block children stay."""
    children: list[HtmlElement] = []
    run: HtmlElement | None = None

    def add_text(text: str | None) -> None:
        nonlocal run
        if not text or not text.strip():
            return
        text = strip_xml_illegal(text)
        if run is None:
            run = new_element("p")
            children.append(run)
        if len(run):
            run[-1].tail = (run[-1].tail or "") + text
        else:
            run.text = (run.text or "") + text

    add_text(el.text)
    el.text = None
    for child in list(el):
        tail, child.tail = child.tail, None
        if child.tag in BLOCK_TAGS:
            run = None
            children.append(child)
        elif child.tag != "br" or run is not None:
            if run is None:
                run = new_element("p")
                children.append(run)
            run.append(child)
        add_text(tail)
    el[:] = children


def _strip_trailers(body: HtmlElement) -> list[HtmlElement]:
    """Drop promo lines, counters and end marks at the end; return the remaining leaf blocks."""
    blocks = leaf_blocks(body) or [body]
    while blocks:
        last = blocks[-1]
        if last is body:
            break
        text = text_of(last)
        has_img = last.find(".//img") is not None or last.tag == "img"
        if has_img and text:
            break
        if (not text and not has_img) or TRAILER.match(text) or text in ("./.", "."):
            blocks.pop()
            drop(last)
        else:
            break
    # an end mark glued to the last paragraphs: "...nhiệm vụ./."
    for block in blocks[-3:]:
        for el in block.iter():
            if el.text and END_MARK.search(el.text):
                el.text = strip_xml_illegal(END_MARK.sub(".", el.text))
            if el is not block and el.tail and END_MARK.search(el.tail):
                el.tail = strip_xml_illegal(END_MARK.sub(".", el.tail))
    return blocks


def _lines(block: HtmlElement) -> list[list[object]]:
    """The ``<br>``-separated lines of a block, each a list of its text and elements."""
    lines: list[list[object]] = [[]]
    if block.text:
        lines[-1].append(block.text)
    for child in block:
        if child.tag == "br":
            lines.append([])
            if child.tail:
                lines[-1].append(child.tail)
            continue
        lines[-1].append(child)
        if child.tail:
            lines[-1].append(child.tail)
    return [line for line in lines if _line_text(line)]


def _line_text(line: list[object]) -> str:
    return text_of(" ".join(x if isinstance(x, str) else " ".join(x.itertext()) for x in line))  # type: ignore[union-attr]


def _drop_last_line(block: HtmlElement) -> None:
    """Remove the last ``<br>``-separated line of ``block`` (and the <br> before it)."""
    for br in reversed([c for c in block if c.tag == "br"]):
        following = [br.tail or ""] + [" ".join(sib.itertext()) + (sib.tail or "") for sib in br.itersiblings()]
        if text_of(" ".join(following)):
            for sib in list(br.itersiblings()):
                block.remove(sib)
            block.remove(br)  # its tail goes with it
            break
    while len(block) and block[-1].tag == "br" and not (block[-1].tail or "").strip():
        block.remove(block[-1])


def _take_byline(body: HtmlElement) -> str | None:
    """The byline paragraph at the end of the body (removed from it), if there is one."""
    blocks = _strip_trailers(body)
    # look at the last block, and one more when the last is a photo credit
    for block in reversed(blocks[-2:]):
        text = text_of(block)
        if block.tag == "figcaption" and PHOTO_CREDIT.match(text) and block.getparent() is not None and block.getparent().tag != "figure":
            continue  # a photo credit line after the byline
        if block is body or block.find(".//img") is not None or block.tag == "figcaption" or any(
            a.tag == "figure" for a in block.iterancestors()
        ):
            return None
        if looks_like_byline(text):
            drop(block)
            return text
        lines = _lines(block)
        if len(lines) >= 2:
            # "…nhiệm vụ./.<br><strong>Ngọc Trâm</strong>": the last line is the byline
            last = _line_text(lines[-1])
            if looks_like_byline(last):
                _drop_last_line(block)
                return last
            # "<strong>Đại tá, TS. PHẠM VĂN THẮNG</strong><br><em>Học viện Chính trị</em>": name, office
            first = _line_text(lines[0])
            joined = ", ".join(_line_text(line) for line in lines)
            if len(lines) <= 3 and looks_like_byline(first) and looks_like_byline(joined):
                drop(block)
                return joined
        if not PHOTO_CREDIT.match(text):
            return None
    return None


def _line_of(el: HtmlElement | None) -> HtmlElement | None:
    """The short line around a date element: '09:24, 12/03/2024 · Lượt xem: 1.342'."""
    if el is None:
        return None
    limit = len(text_of(el)) + MAX_LINE_EXTRA
    line = el
    for anc in el.iterancestors():
        if anc.tag in ("body", "html") or len(text_of(anc)) > limit:
            break
        line = anc
    return line


def _remove_noise(body: HtmlElement) -> None:
    dropped: set[HtmlElement] = set()
    for el in list(body.iter(*NOISE_CANDIDATES)):
        if el is body or any(a in dropped for a in el.iterancestors()):
            continue
        if generic.is_noise_block(el):
            dropped.add(el)
            drop(el)


def extract_article(html: str, url: str, source: SourceConfig) -> RawArticle:
    """Title, date line, byline, body, lead and image of one article page."""
    root = parse_html(html)
    raw = RawArticle(url=url)
    profile = source.profile
    tz = source.tz
    ld = generic.json_ld_article(root)
    etree.strip_elements(root, "script", "style", "template", with_tail=False)  # never page text

    for link in root.iter("link"):
        if (link.get("rel") or "").lower() == "canonical" and link.get("href"):
            raw.canonical_url = absolute_url(url, link.get("href"))
            break

    # title
    title_el = _profile_pick(root, profile, "title", raw)
    if title_el is not None:
        raw.title = text_of(title_el)
    else:
        raw.title, title_el = generic.find_title(root)
        if not raw.title and isinstance(ld.get("headline"), str):
            raw.title = ld["headline"]
        raw.fallbacks.append("title")

    # body container (chosen before removals so the date/lead searches can exclude it)
    body = _profile_pick(root, profile, "body", raw)
    if body is not None and len(text_of(body)) < MIN_BODY_CHARS:
        raw.failed_selectors["body"] = profile.body or ""  # matches, but the text moved elsewhere
        body = None
    generic_body = body is None
    if body is None:
        body = generic.find_main_content(root, title_el)
        raw.fallbacks.append("body")

    # lead
    lead_el = _profile_pick(root, profile, "lead", raw)
    if lead_el is None:
        lead_el = generic.find_lead(root, title_el, body)
        if profile.lead is None:
            raw.fallbacks.append("lead")
    if lead_el is not None:
        raw.lead = text_of(lead_el)

    # date: visible date line first, then metadata
    raw.published, raw.modified = generic.metadata_dates(root, ld, tz)
    date_el = _profile_pick(root, profile, "date", raw)
    if date_el is not None:
        line = text_of(date_el)
        if find_publish_date(line, tz=tz, month_first=source.month_first) is not None:
            raw.date_text = line
        else:
            raw.failed_selectors["date"] = profile.date or ""
            date_el = None
    if raw.date_text is None:
        line, date_el = generic.find_date_line(root, title_el, tz, source.month_first)
        if raw.published is None:
            raw.date_text = line  # else the metadata date wins; the line is only kept out of the body
        raw.fallbacks.append("date")

    # author from the profile (removed from the body when inside it)
    author_el = _profile_pick(root, profile, "author", raw)
    if author_el is not None:
        raw.byline = text_of(author_el)

    # image
    image_el = _profile_pick(root, profile, "image", raw)
    if image_el is not None:
        src = image_el.get("src") or image_el.get("content") or image_el.get("href")
        raw.image_url = absolute_url(url, str(src) if src else None)
    if raw.image_url is None:
        meta_img = meta_content(root, "og:image", "twitter:image") or generic.json_ld_image(ld)
        raw.image_url = absolute_url(url, meta_img)

    if body is None:
        if not generic.json_ld_body(ld):
            raise ExtractError(f"{url}: no article body found")
        body = new_element("div")
    body = copy.deepcopy(body)  # work on a detached copy; the page stays intact for the checks above
    body.tail = None
    if generic_body:
        generic.prune(body)
    # one walk for the plain tag names (the same removals as a selector each: dropping an element
    # inside one already dropped changes nothing in the body, and joined tails come out the same)
    for el in [el for el in body.iter(*ALWAYS_REMOVE) if el is not body]:
        drop(el)
    for sel in profile.remove:
        for el in select_all(body, sel):
            drop(el)
    for el in (title_el, _line_of(date_el), lead_el, author_el):
        if el is not None:
            text = text_of(el)
            for twin in list(body.iter(el.tag)):
                if text and text_of(twin) == text:
                    drop(twin)
    if not generic_body:
        _remove_noise(body)
    _absolutize(body, url)
    _flatten(body)
    _normalize_figures(body)

    if raw.byline is None:
        raw.byline = _take_byline(body)
        if raw.byline is None and ld:
            names = generic.json_ld_authors(ld)
            raw.byline = ", ".join(names) if names else None
        if raw.byline is None:
            meta_author = meta_content(root, "author", "article:author", "dc.creator")
            if meta_author and looks_like_byline(meta_author) and not meta_author.startswith("http"):
                raw.byline = meta_author
        raw.fallbacks.append("author")
    else:
        _strip_trailers(body)

    if raw.image_url is None:
        first_img = body.find(".//img[@src]")
        if first_img is not None:
            raw.image_url = first_img.get("src")

    raw.body_html = inner_html(body)
    body_text = text_of(body)
    if generic_body:
        # a page that renders its text with JavaScript still states it in JSON-LD
        ld_body = generic.json_ld_body(ld)
        if ld_body and len(ld_body) > LD_BODY_RATIO * len(body_text):
            raw.body_html = "".join(f"<p>{_escape(p)}</p>" for p in ld_body.split("\n") if p.strip())
            body_text = ld_body
    if generic.looks_like_error_page(raw.title, body_text):
        raise ExtractError(f"{url}: looks like an error page ({raw.title!r})")
    if not raw.title:
        raise ExtractError(f"{url}: no title found")
    if len(body_text) + len(raw.lead or "") < MIN_BODY_CHARS:
        raise ExtractError(f"{url}: body too short ({len(body_text)} characters)")
    return raw


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
