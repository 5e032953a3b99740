"""Layout drift is loud: a site changes its markup, a profile selector stops matching, and then

* every article still comes out right (the generic extractor fills the field in),
* the run is marked degraded, naming the field and the selector — in ``run.py fetch``'s
  output, ``run.py sources`` (table and ``--json``), the store's source health, ``/healthz``
  and the logs (``event=layout_drift``),
* the mark stays until a run extracts articles that match again (a run that sees no
  article changes nothing), and a fixed profile clears it.

End to end: the fixture sites over HTTP, ``run.py`` in-process, a real SQLite store.
"""

from __future__ import annotations

import json
import tomllib
import warnings
from pathlib import Path

import pytest
from conftest import config_for
from fixture_sites import toml_dumps

from feeds.app import create_app
from scraper.cli import main
from scraper.config_load import config_from_dict
from scraper.text import clean_text
from scraper.urls import canonical_url
from storage import open_store

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from starlette.testclient import TestClient

# (site, field, selector in config.toml, markup on the pages, what the redesign made of it)
DRIFTS = [
    ("qk7", "body", "div.content-tin", 'class="content-tin"', 'class="noi-dung-tin"'),
    ("qdnd", "date", "div.post-head", 'class="post-head"', 'class="post-meta"'),
    ("bienphong", "title", "h1.bp-detail-content-title-h1", 'class="bp-detail-content-title-h1"', 'class="bp-title"'),
    ("haiquan", "date", "ol.breadcrumb", 'class="breadcrumb"', 'class="duong-dan"'),
    ("qk2", "lead", "div.title-post", 'class="title-post"', 'class="sapo-post"'),
    ("qptd", "body", "div.newsdt-page-ct-text", 'class="newsdt-page-ct-text"', 'class="newsdt-content"'),
]


def _redesign(sites, site: str, old: str, new: str) -> None:
    for path in sites.manifest(site)["articles"]:
        sites.edit_article(site, path, old, new)


def _check_article(stored, golden: dict) -> None:
    article = stored.article
    assert article.title == golden["title"]
    published = article.published.strftime("%Y-%m-%dT%H:%M:%SZ") if article.published else None
    assert published == golden["published"]
    assert list(article.authors) == golden["authors"]
    body = clean_text(article.body_text)
    for paragraph in golden["body_contains"]:
        assert clean_text(paragraph) in body, paragraph[:80]
    raw = " ".join(article.body_text.split())
    for junk in golden["body_not_contains"]:
        assert " ".join(junk.split()) not in raw, junk


@pytest.fixture
def setup(fresh_sites, tmp_path: Path):
    db = tmp_path / "qk.db"
    path = tmp_path / "config.toml"
    config_for(fresh_sites, f"sqlite:///{db}", path)
    return fresh_sites, path


def _config(path: Path):
    return config_from_dict(tomllib.loads(path.read_text("utf-8")), str(path))


@pytest.mark.parametrize(("site", "field", "selector", "old", "new"), DRIFTS, ids=[f"{d[0]}-{d[1]}" for d in DRIFTS])
def test_a_selector_that_stops_matching_is_reported_and_the_article_still_extracted(
    setup, capsys, site: str, field: str, selector: str, old: str, new: str
) -> None:
    sites, path = setup
    config = _config(path)
    assert getattr(config.source(site).profile, field) == selector  # the test follows config.toml
    _redesign(sites, site, old, new)

    assert main(["--config", str(path), "fetch", site]) == 0
    out, err = capsys.readouterr()
    named = f"profile selector '{field}' ({selector})"
    assert named in out, out
    assert "event=layout_drift" in err and f"selector={json.dumps(selector) if ' ' in selector else selector}" in err

    # the articles are right all the same
    golden = {g["url"]: g for g in sites.expected(site)}
    with open_store(config.storage.url) as store:
        stored = [store.get_article(canonical_url(url)) for url in golden]
        fetched = [(s, golden[url]) for s, url in zip(stored, golden, strict=True) if s is not None]
        assert len(fetched) >= 1
        for article, gold in fetched:
            _check_article(article, gold)
        health = {h.source_id: h for h in store.source_health([site])}
        assert named in (health[site].degraded or "")

        with TestClient(create_app(config, store)) as client:
            doc = client.get("/healthz").json()
        assert doc["sources"][site]["status"] == "degraded"
        assert named in doc["sources"][site]["degraded"]

    assert main(["--config", str(path), "sources", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert named in rows[site]["degraded"]
    assert main(["--config", str(path), "sources"]) == 0
    table = capsys.readouterr().out
    line = next(ln for ln in table.splitlines() if ln.startswith(site + " "))
    assert "degraded:" in line and selector in line


def test_the_mark_stays_until_the_profile_fits_again(setup, capsys) -> None:
    sites, path = setup
    _redesign(sites, "qk7", 'class="content-tin"', 'class="noi-dung-tin"')
    assert main(["--config", str(path), "fetch", "qk7"]) == 0
    capsys.readouterr()

    # a run that extracts nothing (every page answers 304) keeps the mark
    assert main(["--config", str(path), "fetch", "qk7"]) == 0
    out = capsys.readouterr().out
    assert "new=0" in out
    with open_store(_config(path).storage.url) as store:
        assert "div.content-tin" in (store.source_health(["qk7"])[0].degraded or "")

    # the profile follows the redesign: re-extraction and the next run with articles clear it
    data = tomllib.loads(path.read_text("utf-8"))
    data["sources"]["qk7"]["profile"]["body"] = "div.noi-dung-tin"
    path.write_text(toml_dumps(data), "utf-8")
    assert main(["--config", str(path), "reextract", "qk7"]) == 0
    assert "degraded" not in capsys.readouterr().out
    source_page = Path(__file__).resolve().parent / "fixtures" / "sites" / "qk7" / "xuan-chien-si-tet-quan-dan-2024.html"
    old_path = "/quan-khu-7-to-chuc-chuong-trinh-xuan-chien-si-tet-quan-dan-nam-2024-1705725900-a3f9c"
    new_path = "/quan-khu-7-trao-qua-tet-cho-chien-si-moi-nam-2024-1706000000-b1c2d"
    page = source_page.read_text("utf-8").replace(old_path, new_path).replace('class="content-tin"', 'class="noi-dung-tin"')
    assert new_path in page
    sites.add_article("qk7", new_path, page, "/tin-tuc")
    assert main(["--config", str(path), "fetch", "qk7"]) == 0
    out = capsys.readouterr().out
    assert "new=1" in out and "degraded" not in out
    with open_store(_config(path).storage.url) as store:
        assert store.source_health(["qk7"])[0].degraded is None


def test_a_selector_that_matches_an_emptied_box_counts_as_drift(setup, capsys) -> None:
    """The body selector still matches, but the text moved to a new box: the fill rate drops."""
    sites, path = setup
    for p in sites.manifest("qk7")["articles"]:
        sites.edit_article("qk7", p, '<div class="content-tin">', '<div class="content-tin"></div><div class="bai-viet">')
    assert main(["--config", str(path), "fetch", "qk7"]) == 0
    out = capsys.readouterr().out
    assert "profile selector 'body' (div.content-tin)" in out
    golden = {g["url"]: g for g in sites.expected("qk7")}
    with open_store(_config(path).storage.url) as store:
        for url, gold in golden.items():
            stored = store.get_article(canonical_url(url))
            if stored is not None:
                _check_article(stored, gold)
