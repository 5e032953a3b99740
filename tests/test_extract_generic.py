"""Every fixture article through the generic extractor alone (an EMPTY profile), against its golden file.

The generic rules must get every field right on every site we follow: title (not the
``<title>`` with its site suffix), publish time (metadata, else the date line nearest the
title — never the header clock, never a yearless date in the lead), authors (the byline at
the end of the body), body (no menus, related boxes, counters or promo lines).  And every
profile in ``config.toml`` must fit its site: no selector misses on any fixture article.
"""

from __future__ import annotations

import json
import tomllib

import pytest
from fixture_sites import REPO_CONFIG, SITES_DIR, all_site_ids, expected_articles

from scraper.config import Profile
from scraper.config_load import config_from_dict
from scraper.extract.article import extract_article
from scraper.normalize.article import normalize
from scraper.text import clean_text

BASE = "http://127.0.0.1:8"  # where the pages pretend to live ({{BASE}} in the fixtures)
CONFIG = config_from_dict(tomllib.loads(REPO_CONFIG.read_text("utf-8")), str(REPO_CONFIG))
CASES = [(sid, gold) for sid in all_site_ids() for gold in expected_articles(sid, BASE)]


def _page(site: str, url: str) -> str:
    manifest = json.loads((SITES_DIR / site / "site.json").read_text("utf-8"))
    return (SITES_DIR / site / manifest["routes"][url[len(BASE):]]).read_text("utf-8").replace("{{BASE}}", BASE)


def _id(case: tuple[str, dict]) -> str:
    return f"{case[0]}/{case[1]['url'].rsplit('/', 1)[-1][:40]}"


@pytest.mark.parametrize(("site", "gold"), CASES, ids=[_id(c) for c in CASES])
def test_generic_extractor_alone_matches_the_golden_file(site: str, gold: dict) -> None:
    source = CONFIG.source(site).model_copy(update={"profile": Profile()})
    raw = extract_article(_page(site, gold["url"]), gold["url"], source)
    assert raw.failed_selectors == {}
    article = normalize(raw, source)

    assert article.title == gold["title"]
    published = article.published.strftime("%Y-%m-%dT%H:%M:%SZ") if article.published else None
    assert published == gold["published"]
    assert list(article.authors) == gold["authors"]
    assert list(article.agencies) == gold["agencies"]
    body = clean_text(article.body_text)
    for paragraph in gold["body_contains"]:
        assert clean_text(paragraph) in body, f"missing paragraph: {paragraph[:80]!r}"
    flat = " ".join(article.body_text.split())
    for junk in gold["body_not_contains"]:
        assert " ".join(junk.split()) not in flat, f"junk in body: {junk!r}"
    if gold["image"]:
        assert article.image_url == gold["image"]


@pytest.mark.parametrize(("site", "gold"), CASES, ids=[_id(c) for c in CASES])
def test_every_profile_selector_matches_its_site(site: str, gold: dict) -> None:
    source = CONFIG.source(site)
    raw = extract_article(_page(site, gold["url"]), gold["url"], source)
    assert raw.failed_selectors == {}
    profile = source.profile
    for field in ("title", "date", "body", "lead"):
        if getattr(profile, field):
            assert field not in raw.fallbacks, f"{field}: the profile's selector did not fill it"


def test_every_site_with_known_markup_has_a_profile() -> None:
    for site in ("qk3", "qdnd", "qk7", "qk4", "qk2", "pkkq", "bienphong", "haiquan", "qptd"):
        profile = CONFIG.source(site).profile
        assert profile.title and profile.date and profile.body, site
        assert site in all_site_ids(), f"{site} has no fixture pages"
