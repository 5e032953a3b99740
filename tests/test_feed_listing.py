"""Sites' own feeds as listings (``feed_urls``): parsing, the qdnd session-cookie dance, the
HTML fallback of a broken feed and its health report, dates from the feed.

Everything runs over real HTTP on 127.0.0.1: the fixture sites (``fixture_sites.py``, whose
qdnd copy answers its feeds with a 302 loop until ``/rss`` has set the session cookie) and
the fault server for feeds of our own making (Atom, broken, looping).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from faultserver import FaultServer
from fixture_sites import SITES_DIR, FixtureSites

from feeds.health import health_report
from scraper.config import SourceConfig
from scraper.config_load import config_from_dict
from scraper.errors import ConfigError
from scraper.extract.feedlisting import FeedUnusable, parse_feed
from scraper.fetch.client import Fetcher
from scraper.pipeline.feedrun import session_pages
from scraper.pipeline.runner import SourceRunner
from scraper.urls import canonical_url
from storage import open_store

QDND_FEEDS = ["/rss/cate/chinh-tri-3429.rss", "/rss/cate/quoc-phong-an-ninh-3424.rss"]
BP_FEED = "/rss/kinh-te.rss"
HOSTS = frozenset({"127.0.0.1", "example.vn"})


# -- parsing ---------------------------------------------------------------------------------

def _src(**kw: Any) -> SourceConfig:
    return SourceConfig(id="t", name="t", start_urls=("https://example.vn/tin",), **kw)


RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>T</title><link>https://example.vn/</link>
<item><title>B\xc3\xa0i m\xe1\xbb\x99t</title><link>https://example.vn/tin/bai-mot-1001</link>
  <pubDate>Wed, 17 Jan 2024 10:05:00 +0700</pubDate></item>
<item><title>Relative</title><link>/tin/bai-hai-1002</link></item>
<item><title>Guid only</title><guid isPermaLink="true">https://example.vn/tin/bai-ba-1003</guid></item>
<item><title>Twice</title><link>https://www.example.vn/tin/bai-mot-1001?utm_source=rss</link></item>
<item><title>Partner</title><link>https://other.example.org/tin/x-1</link></item>
<item><title>Video</title><link>https://example.vn/video/clip-1004</link></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id><updated>2024-04-18T08:00:00Z</updated>
<entry><title>Một</title><id>urn:1</id><link rel="alternate" href="https://example.vn/tin/a-2001"/>
  <published>2024-04-18T15:30:00+07:00</published><updated>2024-04-19T00:00:00Z</updated></entry>
<entry><title>Hai</title><id>urn:2</id><link href="https://example.vn/tin/b-2002"/>
  <updated>2024-04-17T01:45:00Z</updated></entry>
</feed>""".encode()


def test_rss_items_in_order_with_dates_resolved_and_filtered() -> None:
    items = parse_feed(RSS, "https://example.vn/rss/tin.rss", _src(), HOSTS)
    assert [i.url for i in items] == ["https://example.vn/tin/bai-mot-1001", "https://example.vn/tin/bai-hai-1002",
                                      "https://example.vn/tin/bai-ba-1003", "https://example.vn/video/clip-1004"]
    assert items[0].published == datetime(2024, 1, 17, 3, 5, tzinfo=UTC)
    assert items[0].title == "Bài một"
    assert items[1].published is None
    # the source's article_pattern applies to feed items too
    only = parse_feed(RSS, "https://example.vn/rss/tin.rss", _src(article_pattern=r"^/tin/"), HOSTS)
    assert "https://example.vn/video/clip-1004" not in [i.url for i in only]


def test_atom_entries_published_else_updated() -> None:
    items = parse_feed(ATOM, "https://example.vn/atom.xml", _src(), HOSTS)
    assert [(i.url, i.published) for i in items] == [
        ("https://example.vn/tin/a-2001", datetime(2024, 4, 18, 8, 30, tzinfo=UTC)),
        ("https://example.vn/tin/b-2002", datetime(2024, 4, 17, 1, 45, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(("body", "reason"), [
    (b"<!DOCTYPE html><html><body><a href='/tin/x-1001'>x</a></body></html>", "not an RSS or Atom feed"),
    (b"", "not an RSS or Atom feed"),
    (b"/etc/passwd", "not an RSS or Atom feed"),  # a body, never a file name
    (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>', "no items"),
    (b'<rss version="2.0"><channel><item><link>https://other.example.org/a-1</link></item></channel></rss>',
     "none an article of this source"),
])
def test_unusable_feeds_say_why(body: bytes, reason: str) -> None:
    with pytest.raises(FeedUnusable, match=reason):
        parse_feed(body, "https://example.vn/rss.xml", _src(), HOSTS)


def test_session_pages_general_form() -> None:
    src = _src()
    assert session_pages(src, "https://www.qdnd.vn/rss/cate/chinh-tri-3429.rss") == [
        "https://www.qdnd.vn/rss", "https://www.qdnd.vn/"]
    assert session_pages(src, "https://example.vn/feed.xml") == ["https://example.vn/"]
    given = _src(feed_session_url="https://example.vn/lay-phien")
    assert session_pages(given, "https://example.vn/a/b.rss")[0] == "https://example.vn/lay-phien"


# -- config ----------------------------------------------------------------------------------

def _cfg(source: dict[str, Any]) -> Any:
    return config_from_dict({"sources": {"s": {"name": "S", **source}}}, "c.toml")


def test_config_keys() -> None:
    feed_only = _cfg({"feed_urls": ["https://example.vn/rss.xml"]}).source("s")
    assert feed_only.start_urls == () and feed_only.site_url == "https://example.vn/rss.xml"
    assert feed_only.confidence == "seen"
    both = _cfg({"start_urls": ["https://example.vn/"], "feed_urls": ["https://example.vn/rss.xml"],
                 "confidence": "guess"}).source("s")
    assert both.feed_urls == ("https://example.vn/rss.xml",) and both.confidence == "guess"
    for bad, key, words in [
        ({}, "sources.s.start_urls", "required key is missing"),
        ({"feed_urls": []}, "sources.s.start_urls", "or give feed_urls"),
        ({"feed_urls": ["ftp://x/rss"]}, "sources.s.feed_urls", "not an http(s) URL"),
        ({"start_urls": ["https://e.vn/"], "confidence": "sure"}, "sources.s.confidence", "seen"),
        ({"start_urls": ["https://e.vn/"], "feed_session_url": "rss"}, "sources.s.feed_session_url", "http(s)"),
    ]:
        with pytest.raises(ConfigError) as err:
            _cfg(bad)
        assert err.value.key == key and words in err.value.problem, (bad, err.value)


def test_bundled_config_marks_every_source_and_gives_feeds() -> None:
    config = config_from_dict(tomllib.loads((ROOT / "config.toml").read_text("utf-8")), "config.toml")
    assert {s.confidence for s in config.sources.values()} <= {"seen", "cfg", "guess"}
    assert {"qk1", "qk5", "qk9", "qpvn", "quankhu7"} <= set(config.sources)
    for sid in ("qk1", "qk5", "qk9", "qpvn", "quankhu7"):
        assert config.sources[sid].confidence == "guess"
    assert [u.split("qdnd.vn", 1)[1] for u in config.sources["qdnd"].feed_urls] == QDND_FEEDS
    assert config.sources["bienphong"].feed_urls == ("https://www.bienphong.com.vn/rss/kinh-te.rss",)


# -- runs over HTTP --------------------------------------------------------------------------

def _config(sites: FixtureSites, tmp_path: Path, edit: dict[str, dict[str, Any]] | None = None) -> Any:
    data = tomllib.loads(sites.config_text(f"sqlite:///{tmp_path / 'feeds.db'}"))
    for sid, keys in (edit or {}).items():
        for k, v in keys.items():
            if v is None:
                data["sources"][sid].pop(k, None)
            else:
                data["sources"][sid][k] = v
    return config_from_dict(data, "<feed test>")


def _run(config: Any, *sids: str, store: Any = None) -> list[Any]:
    async def go(store: Any) -> list[Any]:
        async with Fetcher(config.fetch) as fetcher:
            runner = SourceRunner(config, store, fetcher)
            return [await runner.run_source(config.source(s)) for s in sids]

    if store is not None:
        return asyncio.run(go(store))
    with open_store(config.storage.url) as s:
        return asyncio.run(go(s))


def _health(config: Any, sid: str) -> tuple[Any, dict[str, Any]]:
    with open_store(config.storage.url) as store:
        row = store.source_health([sid])[0]
        _, doc = health_report(config, store.source_health(list(config.sources)))
    return row, doc["sources"][sid]


def _paths(sites: FixtureSites, sid: str) -> list[str]:
    return [p for _, p, _ in sites.hits(sid)]


@pytest.fixture
def feed_sites():
    with FixtureSites(["qdnd", "bienphong", "qk3"]) as sites:
        yield sites


def test_qdnd_feeds_through_the_session_cookie_loop(feed_sites: FixtureSites, tmp_path: Path) -> None:
    # no feed_session_url: the general form finds /rss (the feed's first path segment)
    config = _config(feed_sites, tmp_path, {"qdnd": {"feed_session_url": None}})
    (result,) = _run(config, "qdnd")
    assert result.ok and result.new == 6 and result.errors == 0, result
    hits = feed_sites.hits("qdnd")
    feed = QDND_FEEDS[0]
    assert ("GET", feed, 302) in hits and ("GET", "/rss", 200) in hits
    assert hits.index(("GET", "/rss", 200)) < hits.index(("GET", feed, 200))
    assert ("GET", QDND_FEEDS[1], 200) in hits  # the cookie is kept: no second dance
    assert sum(1 for h in hits if h[1] == "/rss") == 1
    assert "/chinh-tri" not in _paths(feed_sites, "qdnd")  # every feed worked: no HTML listing
    row, doc = _health(config, "qdnd")
    assert row.degraded is None and row.feed_problem is None
    assert doc["status"] == "ok" and doc["listing"] == "feed+html" and doc["confidence"] == "cfg"
    assert doc["generic_fields"] == ["author"]  # qdnd's profile selects the rest

    # the next run asks conditionally: 304s, nothing fetched again
    feed_sites.clear_hits("qdnd")
    (again,) = _run(config, "qdnd")
    assert again.ok and again.new == 0 and again.listings_not_modified == 2
    assert [h for h in feed_sites.hits("qdnd") if h[1] not in ("/robots.txt", "/rss", *QDND_FEEDS)] == []


def test_a_new_article_in_the_feed_is_picked_up(feed_sites: FixtureSites, tmp_path: Path) -> None:
    config = _config(feed_sites, tmp_path)
    with open_store(config.storage.url) as store:
        assert _run(config, "bienphong", store=store)[0].new == 3
        seed = feed_sites.manifest("bienphong")["articles"][0]
        page = (SITES_DIR / "bienphong" / feed_sites.manifest("bienphong")["routes"][seed]).read_text("utf-8")
        path = "/ban-tin-moi-kiem-thu-post999001.html"
        feed_sites.add_article("bienphong", path, page.replace(seed, path).replace("463120", "999001"), "/kinh-te",
                               title="Bản tin mới kiểm thử")
        (result,) = _run(config, "bienphong", store=store)
        assert result.new == 1, result
        assert store.known_urls({canonical_url(feed_sites.url("bienphong", path))})
    assert "/kinh-te" not in _paths(feed_sites, "bienphong")


def test_a_broken_feed_falls_back_to_html_and_health_says_so(feed_sites: FixtureSites, tmp_path: Path) -> None:
    config = _config(feed_sites, tmp_path)
    feed_sites.remove_route("bienphong", BP_FEED)  # the feed answers 404 from now on
    (result,) = _run(config, "bienphong")
    assert result.ok and result.new >= 2 and result.errors == 1, result  # page 1 of the HTML listing
    assert "/kinh-te" in _paths(feed_sites, "bienphong")
    row, doc = _health(config, "bienphong")
    assert row.feed_problem and BP_FEED in row.feed_problem and "HTTP 404" in row.feed_problem
    assert "HTML listing used" in row.feed_problem
    assert doc["status"] == "degraded" and doc["feed_problem"] == row.feed_problem

    # `run.py sources` shows it, with the confidence and listing columns
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(feed_sites.config_text(config.storage.url), "utf-8")
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(cfg_path), "sources"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "CONF" in proc.stdout.splitlines()[0] and "LISTING" in proc.stdout.splitlines()[0]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("bienphong"))
    assert " cfg " in line and "feed+html" in line and "degraded: feed listing failed:" in line
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(cfg_path), "sources", "--json"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    row_json = next(r for r in json.loads(proc.stdout) if r["id"] == "bienphong")
    assert row_json["feed_problem"] == row.feed_problem and row_json["confidence"] == "cfg"
    assert row_json["generic_fields"] == ["author"]


def test_the_health_note_goes_once_the_feed_works_again(tmp_path: Path) -> None:
    with FixtureSites(["bienphong"]) as sites:
        config = _config(sites, tmp_path)
        with FaultServer() as faults:
            broken = _config(sites, tmp_path, {"bienphong": {"feed_urls": [faults.url("/status/500")]}})
            assert _run(broken, "bienphong")[0].ok
            assert _health(broken, "bienphong")[0].feed_problem
        (result,) = _run(config, "bienphong")  # the real feed, which lists page 2's article too
        assert result.ok and result.new == 1 and result.errors == 0
        row, doc = _health(config, "bienphong")
        assert row.feed_problem is None and row.degraded is None and doc["status"] == "ok"


@pytest.mark.parametrize("kind", ["loop", "html", "empty-rss"])
def test_unusable_feeds_fall_back(kind: str, tmp_path: Path) -> None:
    with FixtureSites(["qk3"]) as sites, FaultServer() as faults:
        faults.add_page("/tin.html", "<!DOCTYPE html><html><body><p>Không phải RSS</p></body></html>")
        faults.add_page("/empty.rss", '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>',
                        "application/rss+xml")
        feed = {"loop": faults.url("/loop/a"), "html": faults.url("/tin.html"), "empty-rss": faults.url("/empty.rss")}[kind]
        config = _config(sites, tmp_path, {"qk3": {"feed_urls": [feed]}})
        (result,) = _run(config, "qk3")
        assert result.ok and result.new >= 2, result
        problem = _health(config, "qk3")[0].feed_problem
        assert problem and feed in problem
        assert {"loop": "redirect loop", "html": "not an RSS or Atom feed", "empty-rss": "no items"}[kind] in problem
        if kind == "loop":  # the session pages were tried before giving up
            assert faults.hits("/loop") == 1 and faults.hits("/") == 1


def test_feed_only_source_with_a_broken_feed_fails(tmp_path: Path) -> None:
    with FixtureSites(["qk3"]) as sites, FaultServer() as faults:
        config = _config(sites, tmp_path, {"qk3": {"feed_urls": [faults.url("/status/404")], "start_urls": None}})
        (result,) = _run(config, "qk3")
        assert not result.ok and result.new == 0
        row, doc = _health(config, "qk3")
        assert row.consecutive_failures == 1 and "no HTML listing" in (row.feed_problem or "")
        assert doc["status"] == "failing" and doc["listing"] == "feed"


def test_atom_feed_and_the_feed_date_for_an_undated_page(tmp_path: Path) -> None:
    """An Atom source on another port: items give the URLs, a dated page keeps its own date,
    an undated page takes the feed's, and a re-extraction keeps it."""
    with FixtureSites(["qk3"]) as sites, FaultServer() as faults:
        seed = sites.manifest("qk3")["articles"][0]
        seed_date = datetime.fromisoformat(next(g for g in sites.expected("qk3") if g["url"].endswith(seed))["published"])
        undated = "/tin-khong-ngay-1234567"
        faults.add_page(undated, "<!DOCTYPE html><html lang='vi'><head><meta charset='utf-8'><title>Tin không ngày</title></head>"
                        "<body><article><h1>Tin không ngày tháng</h1>"
                        + "".join(f"<p>Đoạn văn thứ {n} của bản tin không ghi ngày đăng, đủ dài để là thân bài.</p>"
                                  for n in range(1, 6)) + "</article></body></html>")
        faults.add_page("/atom.xml", f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>QK3</title><id>urn:qk3</id><updated>2024-01-06T00:00:00Z</updated>
<entry><title>Không ngày</title><id>urn:a</id><link href="{faults.url(undated)}"/><published>2024-02-03T09:15:00+07:00</published></entry>
<entry><title>Hạt giống</title><id>urn:b</id><link href="{sites.url('qk3', seed)}"/><published>2020-01-01T00:00:00Z</published></entry>
</feed>""", "application/atom+xml")
        config = _config(sites, tmp_path, {"qk3": {"feed_urls": [faults.url("/atom.xml")]}})
        (result,) = _run(config, "qk3")
        assert result.ok and result.new == 2 and result.errors == 0, result
        with open_store(config.storage.url) as store:
            got = {s.article.original_url: s.article.published for s in store.latest(limit=10)}
            assert got[faults.url(undated)] == datetime(2024, 2, 3, 2, 15, tzinfo=UTC)  # from the feed
            assert got[sites.url("qk3", seed)] == seed_date  # the page's own, not the feed's 2020
            from scraper.pipeline.reextract import reextract

            reextract(config, store, ["qk3"])
            got = {s.article.original_url: s.article.published for s in store.latest(limit=10)}
            assert got[faults.url(undated)] == datetime(2024, 2, 3, 2, 15, tzinfo=UTC)
        assert "/chinh-tri-xa-hoi" not in _paths(sites, "qk3")


def test_backfill_walks_html_pagination_of_a_feed_source(feed_sites: FixtureSites, tmp_path: Path) -> None:
    config = _config(feed_sites, tmp_path)

    async def go() -> Any:
        with open_store(config.storage.url) as store:
            async with Fetcher(config.fetch) as fetcher:
                return await SourceRunner(config, store, fetcher).backfill(config.source("bienphong"), pages=2)

    with FaultServer() as faults:  # a broken feed first: its note outlives the backfill
        broken = _config(feed_sites, tmp_path, {"bienphong": {"feed_urls": [faults.url("/status/410")]}})
        _run(broken, "bienphong")
    feed_sites.clear_hits("bienphong")
    result = asyncio.run(go())
    assert result.new == 1  # the page-2 article; page 1's came with the fallback run
    assert "HTTP 410" in (_health(config, "bienphong")[0].feed_problem or "")
    paths = _paths(feed_sites, "bienphong")
    assert "/kinh-te" in paths and "/kinh-te?page=2" in paths and BP_FEED not in paths
