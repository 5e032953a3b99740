"""Article page + site profile -> RawArticle.

Each field is taken from the profile's selector when it has one.  When a
selector is set but matches nothing (layout drift), the field falls back to
the generic rules in ``generic.py`` and the miss is recorded in
``RawArticle.failed_selectors`` so the pipeline can mark the source degraded
and name the selector — never a silent empty article.
"""

from __future__ import annotations

import copy
import re

from bs4 import BeautifulSoup, Tag

from . import generic
from .bylines import looks_like_byline
from .config import Profile, SourceConfig
from .dates import parse_datetime
from .errors import ExtractError
from .html import meta_content, parse_html, select_all, select_one, text_of
from .models import RawArticle
from .urls import absolute_url

# Lines at the end of a body that are neither text nor byline.
TRAILER = re.compile(
    r"^(?:\*?\s*mời (?:bạn|quý) (?:đọc|vị)|xem thêm|xem tiếp|tin liên quan|bài liên quan|"
    r"\./\.|\.\s*/\s*\.|\(?\s*\d[\d.,]*\s+lượt xem\s*\)?|chia sẻ|in bài)",
    re.I,
)
END_MARK = re.compile(r"\s*\.\s*/\s*\.\s*$")
PHOTO_CREDIT = re.compile(r"^\(?\s*ảnh\s*:", re.I)
MIN_BODY_CHARS = 80
ALWAYS_REMOVE = ("script", "style", "noscript", "iframe", "form", "button", "input", "select", "textarea", "ins", "object", "embed")


def _profile_pick(soup: BeautifulSoup, profile: Profile, field: str, raw: RawArticle) -> Tag | None:
    selector = getattr(profile, field)
    if not selector:
        return None
    el = select_one(soup, selector)
    if el is None or (field != "image" and not text_of(el) and not el.find("img")):
        raw.failed_selectors[field] = selector
        return None
    return el


def _absolutize(body: Tag, base: str) -> None:
    """Links and images absolute; lazy-loaded image sources promoted to src."""
    for img in body.find_all("img"):
        src = None
        for attr in ("data-src", "data-original", "data-lazy-src", "src"):
            value = img.get(attr)
            if isinstance(value, str) and value.strip() and not value.startswith("data:"):
                src = value
                break
        url = absolute_url(base, src)
        if url:
            img["src"] = url
        else:
            img.decompose()
    for a in body.find_all("a"):
        url = absolute_url(base, a.get("href"))
        if url:
            a["href"] = url
        else:
            del a["href"]


def _figure(soup: BeautifulSoup, img: Tag, caption: str) -> Tag:
    fig = soup.new_tag("figure")
    fig.append(copy.copy(img))
    if caption:
        cap = soup.new_tag("figcaption")
        cap.string = caption
        fig.append(cap)
    return fig


def _normalize_figures(soup: BeautifulSoup, body: Tag) -> None:
    """Image tables (qdnd), ``<p><img></p>`` + bold caption (haiquan) and h2 captions -> <figure>."""
    for table in body.find_all("table"):
        imgs = table.find_all("img")
        if len(imgs) == 1 and len(text_of(table)) <= 400:
            table.replace_with(_figure(soup, imgs[0], text_of(table)))
    for p in body.find_all("p"):
        imgs = p.find_all("img")
        if len(imgs) != 1 or text_of(p):
            continue
        nxt = p.find_next_sibling(True)
        caption = ""
        if isinstance(nxt, Tag) and nxt.name in ("p", "h2", "h3", "div") and not nxt.find("img"):
            strong = nxt.find(["strong", "b", "em", "i"])
            text = text_of(nxt)
            if strong is not None and text_of(strong) == text and 0 < len(text) <= 300:
                caption = text
                nxt.decompose()
        p.replace_with(_figure(soup, imgs[0], caption))
    for h in body.find_all(["h2", "h3"]):
        prev = h.find_previous_sibling(True)
        if isinstance(prev, Tag) and prev.name == "figure" and prev.find("figcaption") is None:
            text = text_of(h)
            if 0 < len(text) <= 300:
                cap = soup.new_tag("figcaption")
                cap.string = text
                prev.append(cap)
                h.decompose()


def _strip_trailers(body: Tag) -> list[Tag]:
    """Drop promo lines, counters and end marks at the end; return the remaining leaf blocks."""
    blocks = generic.body_blocks(body)
    while blocks:
        last = blocks[-1]
        text = text_of(last)
        if last.find("img") is not None and text:
            break
        if not text and last.find("img") is None:
            blocks.pop()
            last.decompose()
        elif TRAILER.match(text) or text in ("./.", "."):
            blocks.pop()
            last.decompose()
        else:
            break
    # an end mark glued to the last paragraph: "...nhiệm vụ./."
    for block in blocks[-3:]:
        for s in block.find_all(string=END_MARK):
            s.replace_with(END_MARK.sub(".", str(s)))
    return blocks


def _take_byline(body: Tag) -> str | None:
    """The byline paragraph at the end of the body (removed from it), if there is one."""
    blocks = _strip_trailers(body)
    # look at the last block, and one more when the last is a photo credit
    for block in reversed(blocks[-2:]):
        if block.find("img") is not None or block.name == "figcaption" or block.find_parent("figure"):
            return None
        text = text_of(block)
        if looks_like_byline(text):
            block.decompose()
            return text
        if not PHOTO_CREDIT.match(text):
            return None
    return None


def extract_article(html: str, url: str, source: SourceConfig) -> RawArticle:
    """Title, date line, byline, body, lead and image of one article page."""
    soup = parse_html(html)
    raw = RawArticle(url=url)
    profile = source.profile
    tz = source.tz
    ld = generic.json_ld_article(soup)

    canonical = soup.find("link", rel="canonical", href=True)
    if isinstance(canonical, Tag):
        raw.canonical_url = absolute_url(url, canonical.get("href"))

    # title
    title_el = _profile_pick(soup, profile, "title", raw)
    if title_el is not None:
        raw.title = text_of(title_el)
    else:
        raw.title, title_el = generic.find_title(soup)
        if not raw.title and isinstance(ld.get("headline"), str):
            raw.title = ld["headline"]
        raw.fallbacks.append("title")

    # body container (chosen before removals so the date/lead searches can exclude it)
    body = _profile_pick(soup, profile, "body", raw)
    if body is None:
        body = generic.find_main_content(soup)
        raw.fallbacks.append("body")

    # lead
    lead_el = _profile_pick(soup, profile, "lead", raw)
    if lead_el is None:
        lead_el = generic.find_lead(soup, title_el, body)
        if profile.lead is None:
            raw.fallbacks.append("lead")
    if lead_el is not None:
        raw.lead = text_of(lead_el)

    # date: visible date line first, then metadata
    raw.published, raw.modified = generic.metadata_dates(soup, ld, tz)
    date_el = _profile_pick(soup, profile, "date", raw)
    if date_el is not None:
        line = text_of(date_el)
        if parse_datetime(line, tz=tz, month_first=source.month_first) is not None:
            raw.date_text = line
        else:
            raw.failed_selectors["date"] = profile.date or ""
            date_el = None
    if raw.date_text is None:
        if raw.published is None:
            raw.date_text, date_el = generic.find_date_line(soup, title_el, tz, source.month_first)
        raw.fallbacks.append("date")

    # author from the profile (removed from the body when inside it)
    author_el = _profile_pick(soup, profile, "author", raw)
    if author_el is not None:
        raw.byline = text_of(author_el)

    # image
    image_el = _profile_pick(soup, profile, "image", raw)
    if image_el is not None:
        src = image_el.get("src") or image_el.get("content") or image_el.get("href")
        raw.image_url = absolute_url(url, str(src) if src else None)
    if raw.image_url is None:
        meta_img = meta_content(soup, "og:image", "twitter:image") or generic.json_ld_image(ld)
        raw.image_url = absolute_url(url, meta_img)

    if body is None:
        raise ExtractError(f"{url}: no article body found")
    body = copy.copy(body)  # work on a detached copy; the soup stays intact for the checks above
    for sel in (*ALWAYS_REMOVE, *profile.remove):
        for el in select_all(body, sel):
            el.decompose()
    for el in (title_el, date_el, lead_el, author_el):
        if el is not None:
            for twin in body.find_all(el.name):
                if text_of(twin) and text_of(twin) == text_of(el):
                    twin.decompose()
    for el in list(body.find_all(True)):
        if el.parent is not None and el.name in ("div", "section", "aside", "ul", "nav") and generic.is_noise_block(el):
            el.decompose()
    for h1 in body.find_all("h1"):
        h1.decompose()
    _absolutize(body, url)
    _normalize_figures(soup, body)

    if raw.byline is None:
        raw.byline = _take_byline(body)
        if raw.byline is None and ld:
            names = generic.json_ld_authors(ld)
            raw.byline = ", ".join(names) if names else None
        if raw.byline is None:
            meta_author = meta_content(soup, "author", "article:author", "dc.creator")
            if meta_author and looks_like_byline(meta_author) and not meta_author.startswith("http"):
                raw.byline = meta_author
        raw.fallbacks.append("author")
    else:
        _strip_trailers(body)

    if raw.image_url is None:
        first_img = body.find("img", src=True)
        if isinstance(first_img, Tag):
            raw.image_url = str(first_img["src"])

    raw.body_html = body.decode_contents()
    body_text = text_of(body)
    if generic.looks_like_error_page(raw.title, body_text):
        raise ExtractError(f"{url}: looks like an error page ({raw.title!r})")
    if not raw.title:
        raise ExtractError(f"{url}: no title found")
    if len(body_text) + len(raw.lead or "") < MIN_BODY_CHARS:
        raise ExtractError(f"{url}: body too short ({len(body_text)} characters)")
    return raw
