"""Article page + site profile -> RawArticle.

Each field is taken from the profile's selector when it has one.  When a
selector is set but matches nothing (layout drift), the field falls back to
the generic rules in ``generic.py`` and the miss is recorded in
``RawArticle.failed_selectors`` so the pipeline can mark the source degraded
and name the selector — never a silent empty article.  A source without a
profile goes through the generic rules field by field.

The body, wherever it came from, is then cleaned the same way: removals,
twins of the title/date/lead, noise boxes (here), promo lines and end marks at
the end and the byline paragraph, kept apart as the author (``byline.py``),
image tables and ``<p><img></p>`` + caption pairs turned into ``<figure>``, and
every run of loose text put in a paragraph so no two paragraphs glue together
(``markup.py``).

With ``run.py extract --explain`` each decision is also written, where it is taken, into
the trace of ``trace.py`` (which rule or selector gave a field, which candidates lost).
"""

from __future__ import annotations

import copy

from lxml import etree

from scraper.config import Profile, SourceConfig
from scraper.errors import ExtractError
from scraper.extract import generic, thin, trace
from scraper.extract.authormark import take_byline_around
from scraper.extract.authors import metadata_authors
from scraper.extract.byline import strip_trailers, take_byline
from scraper.extract.explaining import (
    explain_authors,
    explain_image,
    explain_lead,
    explain_noscript,
    explain_summary,
)
from scraper.extract.markup import absolutize, flatten, normalize_figures
from scraper.extract.published import DateSignals, settle_published
from scraper.html import (
    HtmlElement,
    drop,
    inner_html,
    meta_content,
    new_element,
    parse_html,
    select_all,
    select_one,
    text_of,
)
from scraper.models import RawArticle
from scraper.normalize.bylines import parse_byline
from scraper.normalize.dates import find_publish_date
from scraper.urls import absolute_url

__all__ = ["extract_article"]

MIN_BODY_CHARS = 80
NOSCRIPT_MIN_CHARS = 250  # a <noscript> copy of the text, not a one-line "enable JavaScript" notice
LD_BODY_RATIO = 2.0  # JSON-LD articleBody this many times longer than the found body replaces it
MAX_LINE_EXTRA = 40  # a date line may carry this much besides the date (a view counter)
ALWAYS_REMOVE = ("script", "style", "noscript", "iframe", "form", "button", "input", "select", "textarea",
                 "ins", "object", "embed", "template", "svg", "h1")  # fmt: skip
NOISE_CANDIDATES = frozenset({"div", "section", "aside", "ul", "nav"})
TRACED_AS = {"title": "title", "body": "body", "lead": "lead", "date": "published", "author": "authors", "image": "image"}


def _profile_pick(root: HtmlElement, profile: Profile, field: str, raw: RawArticle) -> HtmlElement | None:
    selector = getattr(profile, field)
    if not selector:
        return None
    el = select_one(root, selector)
    if el is None or (field != "image" and not text_of(el) and el.find(".//img") is None):
        raw.failed_selectors[field] = selector
        if (t := trace.current()) is not None:
            t.lost(TRACED_AS[field], "profile selector", None,
                   "matched nothing" if el is None else "matched an element without text", selector=selector)
        return None
    if (t := trace.current()) is not None and field != "date":  # the date is settled in published.py
        t.won(TRACED_AS[field], "profile selector", _shown(el, field), selector=selector)
    return el


def _shown(el: HtmlElement, field: str) -> str | None:
    """What an element gives a field, as the explanation shows it."""
    if field == "image":
        return el.get("src") or el.get("content") or el.get("href")
    return text_of(el)


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
            if (t := trace.current()) is not None:
                t.won("title", "JSON-LD headline", raw.title, why="no <h1>, og:title or <title> on the page")
        raw.fallbacks.append("title")

    # body container (chosen before removals so the date/lead searches can exclude it)
    body = _profile_pick(root, profile, "body", raw)
    if body is not None and len(text_of(body)) < MIN_BODY_CHARS:
        raw.failed_selectors["body"] = profile.body or ""  # matches, but the text moved elsewhere
        body = None
        if (t := trace.current()) is not None:
            t.overridden("body", f"matched fewer than {MIN_BODY_CHARS} characters of text")
    generic_body = body is None
    if body is None:
        body = generic.find_main_content(root, title_el)
        raw.fallbacks.append("body")
        if (found := thin.noscript_body(root, title_el, body, NOSCRIPT_MIN_CHARS, MIN_BODY_CHARS)) is not None:
            body = found  # the copy kept for readers without JavaScript (thin.py)
            raw.fallbacks.append("noscript")
            if (t := trace.current()) is not None:
                explain_noscript(t)

    # lead
    lead_el = _profile_pick(root, profile, "lead", raw)
    if lead_el is None:
        lead_el = generic.find_lead(root, title_el, body)
        if profile.lead is None:
            raw.fallbacks.append("lead")
        if (t := trace.current()) is not None:
            explain_lead(t, lead_el)
    if lead_el is not None:
        raw.lead = text_of(lead_el)

    # date: the profile's line, else metadata, else the line nearest the title; a full
    # timestamp of the same day beats a date-only one, htmldate fills what is missing
    raw.published, raw.modified = generic.metadata_dates(root, ld, tz)
    dated_by_metadata = raw.published is not None  # stated by the page, not guessed (see thin.py)
    date_el = _profile_pick(root, profile, "date", raw)
    if date_el is not None:
        line = text_of(date_el)
        if find_publish_date(line, tz=tz, month_first=source.month_first) is not None:
            raw.date_text = line
        else:
            raw.failed_selectors["date"] = profile.date or ""
            if (t := trace.current()) is not None:
                t.lost("published", "profile selector", line, "holds no date it can read", selector=profile.date)
            date_el = None
    signals = DateSignals(html, url, tz, source.month_first, raw.date_text, line_first=raw.date_text is not None,
                          metadata=raw.published)
    if raw.date_text is None:
        lines = generic.date_lines(root, title_el, tz, source.month_first)
        line, date_el = next(lines, (None, None))  # kept out of the body whichever date wins
        signals.line, signals.other_lines = line, (text for text, _ in lines)
        raw.fallbacks.append("date")
        if (t := trace.current()) is not None:
            t.notes["date.line"] = ("date line nearest the title", trace.element_path(date_el))
    elif (t := trace.current()) is not None:
        t.notes["date.line"] = ("profile selector", profile.date)
    raw.date_text, raw.published = settle_published(signals)
    dated = raw.published is not None and (dated_by_metadata or raw.date_text is not None)  # not guessed

    # author from the profile (removed from the body when inside it)
    author_el = _profile_pick(root, profile, "author", raw)
    if author_el is not None:
        raw.byline = text_of(author_el)

    # image
    image_el = _profile_pick(root, profile, "image", raw)
    if image_el is not None:
        src = image_el.get("src") or image_el.get("content") or image_el.get("href")
        raw.image_url = absolute_url(url, str(src) if src else None)
        if raw.image_url is None and (t := trace.current()) is not None:
            t.overridden("image", "the element has no src, content or href")
    if (t := trace.current()) is not None:
        explain_image(t, root, generic.json_ld_image(ld), url, raw.image_url)
    if raw.image_url is None:
        meta_img = meta_content(root, "og:image", "twitter:image") or generic.json_ld_image(ld)
        raw.image_url = absolute_url(url, meta_img)

    page_body = body  # the page's own element: a byline marked above it is looked for around it
    if body is None:
        if not generic.json_ld_body(ld) and not (dated and thin.summary_text(root, ld, raw.title)):
            raise ExtractError(f"{url}: no article body found")
        body = new_element("div")  # the JSON-LD articleBody or the page's summary (below)
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
    absolutize(body, url)
    flatten(body)
    normalize_figures(body)

    if raw.byline is None:
        # people named one by one in JSON-LD beat the byline line; a byline naming people beats
        # the rest of the metadata (<meta name=author> is often the site's name)
        raw.byline = end_byline = take_byline(body)
        meta_names = metadata_authors(root, ld, url)
        ld_people = bool(meta_names.authors) and meta_names.source == "json-ld"
        if not ld_people and (raw.byline is None or not parse_byline(raw.byline).authors):
            # no person at the body's end: a byline marked above the text, or a bold name after it
            raw.byline = take_byline_around(root, title_el, page_body, body) or raw.byline
        credited = parse_byline(raw.byline)
        if ld_people or (meta_names and not (credited.authors or credited.agencies)):
            raw.authors, raw.agencies = meta_names.authors, meta_names.agencies
        if (t := trace.current()) is not None:
            explain_authors(t, end_byline, raw.byline, meta_names, ld_people, bool(raw.authors or raw.agencies))
        raw.fallbacks.append("author")
    else:
        strip_trailers(body)

    if raw.image_url is None:
        first_img = body.find(".//img[@src]")
        if first_img is not None:
            raw.image_url = first_img.get("src")
            if (t := trace.current()) is not None:
                t.won("image", "first <img> in the body", raw.image_url, why="no profile selector or metadata image")

    raw.body_html = inner_html(body)
    body_text = text_of(body)
    if generic_body:
        # a page that renders its text with JavaScript still states it in JSON-LD
        ld_body = generic.json_ld_body(ld)
        if ld_body and len(ld_body) > LD_BODY_RATIO * len(body_text):
            raw.body_html = "".join(f"<p>{_escape(p)}</p>" for p in ld_body.split("\n") if p.strip())
            body_text = ld_body
            if (t := trace.current()) is not None:
                t.overridden("body", f"JSON-LD articleBody is over {LD_BODY_RATIO:g}× longer (text rendered by JavaScript)")
                t.won("body", "JSON-LD articleBody", ld_body)
    if (t := trace.current()) is not None:
        t.finish(body_text)
    if generic.looks_like_error_page(raw.title, body_text):
        raise ExtractError(f"{url}: looks like an error page ({raw.title!r})")
    if not raw.title:
        raise ExtractError(f"{url}: no title found")
    if len(body_text) + len(raw.lead or "") < MIN_BODY_CHARS or (page_body is None and not body_text):
        # no text in the HTML: the page's own summary, when its title and publish time are sound
        summary = thin.summary_text(root, ld, raw.title) if generic_body and dated else None
        if summary is None:
            raise ExtractError(f"{url}: body too short ({len(body_text)} characters)")
        raw.body_html, body_text = f"<p>{_escape(summary)}</p>", summary
        raw.fallbacks.append("summary")
        if (t := trace.current()) is not None:
            explain_summary(t, root, ld, summary)
    return raw


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
