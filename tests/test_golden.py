"""Contract test: every fixture article, served over HTTP, extracts to its golden expected.json.

Runs each site's profile from the bundled config.toml (sources without a
profile go through the generic extractor) — field by field.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import config_for

from scraper.pipeline.runner import article_from_file
from scraper.text import clean_text

SITES_DIR = Path(__file__).resolve().parent / "fixtures" / "sites"
CASES = sorted(
    (site.name, exp)
    for site in SITES_DIR.iterdir()
    if site.is_dir()
    for exp in sorted((site / "expected").glob("*.json"))
) if SITES_DIR.is_dir() else []


@pytest.fixture(scope="module")
def config(fixture_sites):
    return config_for(fixture_sites, "sqlite:///:memory:")


@pytest.mark.parametrize(("site", "expected_path"), CASES, ids=[f"{s}/{p.stem}" for s, p in CASES])
def test_article_matches_golden(fixture_sites, config, site: str, expected_path: Path) -> None:
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    url = fixture_sites.url(site, expected["url"])
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    article = article_from_file(response.text, url, config.source(site))

    assert article.title == expected["title"]
    published = article.published.strftime("%Y-%m-%dT%H:%M:%SZ") if article.published else None
    assert published == expected["published"]
    assert list(article.authors) == expected["authors"]
    assert list(article.agencies) == expected.get("agencies", [])
    body = clean_text(article.body_text)
    for paragraph in expected["body_contains"]:
        assert clean_text(paragraph) in body, f"missing paragraph: {paragraph[:80]!r}"
    raw_body = " ".join(article.body_text.split())
    for junk in expected.get("body_not_contains", []):
        assert " ".join(junk.split()) not in raw_body, f"junk in body: {junk!r}"
    if expected.get("image"):
        assert article.image_url == expected["image"].replace("{{BASE}}", fixture_sites.base_url(site))


def test_there_are_golden_cases_for_the_required_sites() -> None:
    sites = {s for s, _ in CASES}
    assert {"qk3", "qdnd", "qk7", "bienphong"} <= sites
    for site in ("qk3", "qdnd", "qk7", "bienphong"):
        assert sum(1 for s, _ in CASES if s == site) >= 3


def test_seed_article(fixture_sites, config) -> None:
    """The article the project started from, exactly as sites.md describes it."""
    path = "/chinh-tri-xa-hoi/bo-tham-muu-quan-khu-tong-ket-cong-tac-dang-cong-tac-chinh-tri-nam-2023-4048"
    url = fixture_sites.url("qk3", path)
    article = article_from_file(httpx.get(url, timeout=10).text, url, config.source("qk3"))
    assert article.title == "Bộ Tham mưu Quân khu: Tổng kết công tác đảng, công tác chính trị năm 2023"
    assert article.published is not None
    assert article.published.isoformat() == "2024-01-05T10:37:00+00:00"
    assert article.authors == ("Anh Thư",)
    seed = (Path(__file__).resolve().parents[2] / "shared" / "seed-article.txt")
    if seed.exists():
        paragraphs = [p.strip() for p in seed.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        body_paragraphs = paragraphs[2:-1]  # title, date line ... author
        for p in body_paragraphs:
            assert clean_text(p) in clean_text(article.body_text)
    assert "Anh Thư" not in article.body_text
