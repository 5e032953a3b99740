"""The fixture-site server itself: routing, conditional GETs, changes, generated config."""

from __future__ import annotations

import json
import tomllib
import unicodedata
import urllib.error
import urllib.request
from email.utils import formatdate

import pytest
from fixture_sites import SITES_DIR, FixtureSites, all_site_ids, expected_articles

from scraper.config_load import config_from_dict


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture(scope="module")
def sites():
    with FixtureSites() as s:
        yield s


def test_every_site_is_complete():
    ids = all_site_ids()
    assert {"qk3", "qdnd", "qk7", "bienphong"} <= set(ids)
    for sid in ids:
        m = json.loads((SITES_DIR / sid / "site.json").read_text("utf-8"))
        assert m["id"] == sid
        assert len(m["articles"]) >= 3, sid
        assert "/robots.txt" in m["routes"], sid
        for path in m["start_urls"] + m["listing_pages"] + m["articles"]:
            assert path in m["routes"], (sid, path)
        golden = expected_articles(sid)
        assert sorted(g["url"] for g in golden) == sorted(m["articles"]), sid
        for g in golden:
            assert set(g) >= {"url", "title", "published", "authors", "agencies",
                              "body_contains", "body_not_contains", "image"}
            assert g["published"].endswith("Z")
            text = json.dumps(g, ensure_ascii=False)
            assert unicodedata.is_normalized("NFC", text)


def test_routes_queries_and_404(sites):
    status, headers, body = _get(sites.url("qk3", "/chinh-tri-xa-hoi"))
    assert status == 200 and headers["content-type"].startswith("text/html")
    page1 = body.decode()
    assert "{{BASE}}" not in page1 and sites.base_url("qk3") in page1
    status, _, body2 = _get(sites.url("qk3", "/chinh-tri-xa-hoi?page=1"))
    assert status == 200 and body2 != body
    assert _get(sites.url("qk3", "/chinh-tri-xa-hoi?page=7"))[0] == 404
    status, _, body = _get(sites.url("qk3", "/khong-co-trang-nay"))
    assert status == 404 and b"<html" in body
    status, headers, _ = _get(sites.url("qk3", "/robots.txt"))
    assert status == 200 and headers["content-type"].startswith("text/plain")
    hits = sites.hits("qk3")
    assert ("GET", "/chinh-tri-xa-hoi?page=7", 404) in hits
    assert ("GET", "/chinh-tri-xa-hoi?page=1", 200) in hits


def test_every_route_answers(sites):
    for sid in sites.site_ids:
        for path in sites.manifest(sid)["routes"]:
            gate = sites.manifest(sid).get("session_gate")
            if gate and any(path.startswith(p) for p in gate["paths"]):
                continue
            status, _, body = _get(sites.url(sid, path))
            assert status == 200, (sid, path)
            assert b"{{BASE}}" not in body


def test_conditional_get(sites):
    url = sites.url("qk3", "/chinh-tri-xa-hoi")
    status, headers, _ = _get(url)
    etag, last_modified = headers["etag"], headers["last-modified"]
    assert _get(url, {"If-None-Match": etag})[0] == 304
    assert _get(url, {"If-None-Match": f'W/{etag}, "other"'})[0] == 304
    assert _get(url, {"If-None-Match": '"stale"'})[0] == 200
    assert _get(url, {"If-Modified-Since": last_modified})[0] == 304
    assert _get(url, {"If-Modified-Since": formatdate(0, usegmt=True)})[0] == 200
    # If-None-Match wins over If-Modified-Since
    assert _get(url, {"If-None-Match": '"stale"', "If-Modified-Since": last_modified})[0] == 200


def test_add_and_edit_article(sites):
    listing = "/chinh-tri-xa-hoi"
    _, headers, _ = _get(sites.url("qk3", listing))
    old_etag, old_lm = headers["etag"], headers["last-modified"]
    path = "/chinh-tri-xa-hoi/bai-moi-kiem-thu-9999"
    page = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Bài mới</title></head><body><h1>Bài mới kiểm thử</h1><p>Nội dung.</p></body></html>"
    sites.add_article("qk3", path, page, listing)
    status, headers, body = _get(sites.url("qk3", listing))
    assert status == 200 and headers["etag"] != old_etag
    assert _get(sites.url("qk3", listing), {"If-Modified-Since": old_lm})[0] == 200
    text = body.decode()
    assert text.index(path) < text.index("/chinh-tri-xa-hoi/bo-tham-muu-quan-khu")
    assert "Bài mới kiểm thử" in text
    assert _get(sites.url("qk3", path))[0] == 200
    assert path in sites.manifest("qk3")["articles"]

    _, headers, _ = _get(sites.url("qk3", path))
    assert sites.edit_article("qk3", path, "Nội dung.", "Nội dung đã sửa.") == 1
    status, headers2, body = _get(sites.url("qk3", path), {"If-None-Match": headers["etag"]})
    assert status == 200 and "Nội dung đã sửa." in body.decode()
    assert headers2["etag"] != headers["etag"] and headers2["last-modified"] != headers["last-modified"]
    with pytest.raises(ValueError):
        sites.edit_article("qk3", path, "không có chuỗi này", "x")


def test_latency(sites):
    import time

    sites.set_latency(0.2)
    try:
        t = time.monotonic()
        _get(sites.url("qk3", "/robots.txt"))
        assert time.monotonic() - t >= 0.2
    finally:
        sites.set_latency(0)


def test_config_text(sites, tmp_path):
    from urllib.parse import urlsplit

    text = sites.config_text(f"sqlite:///{tmp_path}/t.db", timeout=5)
    data = tomllib.loads(text)
    cfg = config_from_dict(data, "<fixtures>")
    assert cfg.fetch.allow_private_networks is True
    assert cfg.fetch.per_host_delay == 0 and cfg.fetch.retries == 1 and cfg.fetch.respect_robots
    assert cfg.fetch.timeout == 5
    assert cfg.storage.url == f"sqlite:///{tmp_path}/t.db"
    repo = tomllib.loads((SITES_DIR.parents[2] / "config.toml").read_text("utf-8"))
    assert set(cfg.sources) == set(sites.site_ids) & set(repo["sources"])
    for sid, src in cfg.sources.items():
        manifest = sites.manifest(sid)
        assert list(src.start_urls) == [sites.url(sid, p) for p in manifest["start_urls"]]
        moved = ("start_urls", "feed_urls", "feed_session_url")  # aimed at the fixture server
        raw = {k: v for k, v in repo["sources"][sid].items() if k not in moved}
        assert {k: v for k, v in data["sources"][sid].items() if k not in moved} == raw
        for feed in src.feed_urls:
            assert feed.startswith(sites.base_url(sid) + "/")
            assert urlsplit(feed).path in manifest["feeds"]


def test_config_subset_and_unknown_site(tmp_path):
    with FixtureSites(["qk3"]) as s:
        cfg = config_from_dict(tomllib.loads(s.config_text("sqlite:///x.db")))
        assert list(cfg.sources) == ["qk3"]
        with pytest.raises(KeyError):
            s.base_url("qdnd")
    with pytest.raises(ValueError):
        FixtureSites(["nope"])


def test_qdnd_rss_needs_the_session_cookie(sites):
    import http.cookiejar

    feed = sites.url("qdnd", "/rss/cate/chinh-tri-3429.rss")
    status, headers, _ = _get(feed)  # urllib follows redirects, without cookies: a loop
    assert status == 302 and headers["location"] == feed
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(sites.url("qdnd", "/rss"), timeout=10).read()
    with opener.open(feed, timeout=10) as r:
        assert r.status == 200 and b"<rss" in r.read()


def test_redirect(sites):
    req = urllib.request.Request(sites.url("qk3", "/node/4048"), method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.url.endswith("-4048") and r.status == 200


def test_manifest_start_urls_are_the_config_paths():
    from urllib.parse import urlsplit

    repo = tomllib.loads((SITES_DIR.parents[2] / "config.toml").read_text("utf-8"))
    for sid in all_site_ids():
        m = json.loads((SITES_DIR / sid / "site.json").read_text("utf-8"))
        paths = [urlsplit(u).path or "/" for u in repo["sources"][sid]["start_urls"]]
        assert m["start_urls"] == paths, sid


def test_article_links_on_listings_resolve():
    """Every link on a listing page that the config's article_pattern accepts is served."""
    import re

    repo = tomllib.loads((SITES_DIR.parents[2] / "config.toml").read_text("utf-8"))
    for sid in all_site_ids():
        m = json.loads((SITES_DIR / sid / "site.json").read_text("utf-8"))
        pattern = repo["sources"][sid].get("article_pattern")
        if not pattern:
            continue
        for listing in m["listing_pages"]:
            page = (SITES_DIR / sid / m["routes"][listing]).read_text("utf-8")
            for href in re.findall(r'href="(/[^"]*)"', page):
                if re.search(pattern, href):
                    assert href in m["routes"], (sid, listing, href)
