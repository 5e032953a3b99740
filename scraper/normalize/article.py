"""RawArticle -> Article: NFC text, UTC dates, parsed bylines, sanitized body, key and fingerprint."""

from __future__ import annotations

import hashlib
import re

from scraper.config import SourceConfig
from scraper.html import drop, parse_fragment, rendered_text
from scraper.models import Article, RawArticle
from scraper.normalize.bylines import parse_byline
from scraper.normalize.dates import parse_datetime
from scraper.normalize.sanitize import sanitize_html
from scraper.text import clean_text
from scraper.urls import canonical_url, same_site

SUMMARY_CHARS = 300
# Outlet tags that open a lead: "QĐND - ", "(QK7 Online) - ", "BP - ", "TTXVN - "
LEAD_TAG = re.compile(r"^\s*\(?[A-ZĐ][\w.+ ]{0,20}?(?:Online)?\)?\s*[-–—]\s+", re.U)


def body_text_of(body_html: str, *, captions: bool = True) -> str:
    """Plain text of sanitized body HTML, one paragraph per block, blank line between.

    ``captions=False`` leaves out image captions (``<figcaption>``), as schema.org's
    ``articleBody`` does.
    """
    if not body_html.strip():
        return ""
    root = parse_fragment(body_html)
    if not captions:
        for cap in root.findall(".//figcaption"):
            drop(cap)
    return rendered_text(root)


def make_summary(lead: str | None, body_text: str) -> str:
    """The lead (or the first paragraph) without its outlet tag, cut at a word boundary."""
    text = clean_text(lead) or next((p for p in body_text.split("\n\n") if len(p) > 40), "")
    text = LEAD_TAG.sub("", text, count=1) if len(text) > 60 else text
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text[:SUMMARY_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-–") + "…"


def fingerprint(title: str, body_text: str) -> str:
    """Changes when the visible content changes; whitespace and Unicode form do not count."""
    norm = clean_text(title) + "\n" + clean_text(body_text)
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def normalize(raw: RawArticle, source: SourceConfig) -> Article:
    """Clean every field of ``raw``; the result is what the store keeps."""
    title = clean_text(raw.title)
    published = None
    if raw.date_text:
        published = parse_datetime(raw.date_text, tz=source.tz, month_first=source.month_first)
    if published is None:
        published = raw.published
    byline = parse_byline(raw.byline) if raw.byline else None

    body_html = sanitize_html(raw.body_html or "")
    lead = clean_text(raw.lead)
    body_text = body_text_of(body_html)
    if lead and lead[:60] not in clean_text(body_text)[:400]:
        body_html = f"<p><strong>{_escape(lead)}</strong></p>\n{body_html}"
        body_text = body_text_of(body_html)  # else the text of the unchanged body stands

    key_source = raw.canonical_url if raw.canonical_url and same_site(raw.canonical_url, raw.url) else raw.url
    return Article(
        url=canonical_url(key_source),
        source_id=source.id,
        title=title,
        published=published,
        authors=tuple(clean_text(a) for a in raw.authors) or (byline.authors if byline else ()),
        agencies=_merged(raw.agencies, byline.agencies if byline else ()),
        body_html=body_html,
        body_text=body_text,
        summary=make_summary(lead, body_text),
        image_url=raw.image_url,
        categories=tuple(clean_text(c) for c in raw.categories if clean_text(c)),
        modified=raw.modified,
        fingerprint=fingerprint(title, body_text),
        original_url=raw.url,
    )


def _merged(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """Names in order, each once (case-insensitive)."""
    seen: set[str] = set()
    out = []
    for name in (clean_text(n) for group in groups for n in group):
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return tuple(out)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
