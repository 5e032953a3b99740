"""The generic extractor on real Vietnamese news pages, field by field (``tests/real_corpus.py``).

Every page of ``tests/fixtures/real/`` goes through qkfeed's generic extractor (an EMPTY
profile, the way a site without a profile is read) and every field is checked against the
page's hand-checked ``expected.json``: title exact (after whitespace and NFC
normalization), publish time to the minute, authors (and agencies, where the page credits
one) as sets of names, the body containing the chosen sentence.

What the extractor gets wrong today is listed in ``KNOWN_MISSES``, one entry per page and
field, and runs as a strict xfail: the test still asserts the field, so a fix turns the
entry into a failure until it is taken off the list.  A page whose file is not on this
machine is skipped (the pages are kept outside the repository: see ``real_corpus.py``).
"""

from __future__ import annotations

from functools import cache

import pytest
from real_corpus import FIELDS, RealPage, corpus, field_ok

from scraper.config import Profile, SourceConfig
from scraper.models import Article
from scraper.pipeline import article_from_file

# (page id, field) -> why the generic extractor misses it today.  Keep it honest: an entry
# whose field passes fails the run (strict xfail), and every entry must name a real page.
KNOWN_MISSES: dict[tuple[str, str], str] = {
}

PAGES = {page.id: page for page in corpus()}


def _fields(page: RealPage) -> tuple[str, ...]:
    return FIELDS + (("agencies",) if page.agencies is not None else ())


def _params() -> list:
    params = []
    for page in PAGES.values():
        for name in _fields(page):
            marks = []
            if (page.id, name) in KNOWN_MISSES:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[(page.id, name)]))
            params.append(pytest.param(page.id, name, marks=marks, id=f"{page.id}-{name}"))
    return params


@cache
def _article(page_id: str) -> Article:
    page = PAGES[page_id]
    source = SourceConfig(id="generic", name="generic", start_urls=(page.url,), profile=Profile())
    return article_from_file(page.html(), page.url, source)


def _got(article: Article, name: str) -> object:
    return {"title": article.title, "published": article.published, "authors": article.authors,
            "agencies": article.agencies, "body": article.body_text}[name]


@pytest.mark.parametrize(("page_id", "name"), _params())
def test_generic_extractor_gets_the_field_right(page_id: str, name: str) -> None:
    page = PAGES[page_id]
    if not page.available:
        pytest.skip(f"{page_id}: page file not on this machine")
    got = _got(_article(page_id), name)
    expected = page.body_sentence if name == "body" else getattr(page, name)
    assert field_ok(page, name, got), f"{name}: got {str(got)[:300]!r}, expected {expected!r}"


def test_known_misses_name_real_pages_and_fields() -> None:
    for page_id, name in KNOWN_MISSES:
        assert page_id in PAGES, f"KNOWN_MISSES names no corpus page {page_id!r}"
        assert name in _fields(PAGES[page_id]), f"{page_id}: no field {name!r}"


def test_every_page_has_its_provenance_and_checked_fields() -> None:
    assert PAGES, "the corpus is empty"
    for page in PAGES.values():
        for key in ("site", "repository", "commit", "path", "licence", "file", "sha256"):
            assert page.source.get(key), f"{page.id}: source.{key} missing"
        assert len(page.source["commit"]) == 40, f"{page.id}: commit is not a full hash"
        assert page.published is None or page.published.tzinfo is not None
        assert page.published_precision in ("minute", "day")
        assert page.title.strip() and page.body_sentence.strip()
