"""feeds.app: the feed server against a real SQLite store, through Starlette's TestClient.

One test runs the real HTTP server (granian) on a loopback socket.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import http.client
import json
import re
import time
import unicodedata
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from bs4 import BeautifulSoup
from server_thread import server_in_thread

from feeds.app import MAX_LIMIT, RenderCache, Rendered, create_app
from feeds.guard import HostGuard, default_allowed_hosts, url_host
from feeds.render import CONTENT_TYPES
from scraper.config import Config
from scraper.config_load import config_from_dict
from scraper.models import Article
from storage import Store, open_store

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; httpx works and is what we have.
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from starlette.testclient import TestClient

BASE = "http://testserver"
T0 = datetime(2024, 1, 5, 12, 0, tzinfo=UTC)  # when the fixture articles were stored

CONFIG = config_from_dict(
    {
        "feed": {
            "title": "qkfeed — Tin quân khu",
            "description": "Tin tổng hợp",
            "link": "https://feeds.example.org/",
            "max_entries": 10,
        },
        "sources": {
            "qdnd": {
                "name": "Báo Quân đội nhân dân",
                "start_urls": ["https://www.qdnd.vn/chinh-tri"],
                "region": "Toàn quốc",
            },
            "qk7": {"name": "Báo Quân khu 7", "start_urls": ["https://quankhu7.vn/tin-tuc"]},
            "qk3": {"name": "Quân khu 3", "start_urls": ["https://quankhu3.vn/chinh-tri-xa-hoi"]},
            "old": {
                "name": "Nguồn đã tắt",
                "start_urls": ["https://old.example.vn/"],
                "enabled": False,
            },
        },
    }
)

BORDER = "https://www.qdnd.vn/tuan-tra-bien-gioi-1"
SCRIPT = "https://quankhu7.vn/bai-2"
TRAINING = "https://quankhu3.vn/huan-luyen-3"
MEETING = "https://www.qdnd.vn/hoi-nghi-4"

ARTICLES = [
    # (stored at, article) — newest published first
    (
        T0,
        Article(
            url=BORDER,
            source_id="qdnd",
            title="Tuần tra bảo vệ biên giới",
            published=datetime(2024, 1, 5, 10, 37, tzinfo=UTC),  # 17:37 in Vietnam
            authors=("Nguyễn Văn An", "Trần Bình"),
            summary="Bộ đội Biên phòng tuần tra dọc tuyến biên giới.",
            body_html="<p>Bộ đội Biên phòng tuần tra dọc tuyến biên giới.</p>",
            body_text="Bộ đội Biên phòng tuần tra dọc tuyến biên giới.",
            fingerprint="f1",
        ),
    ),
    (
        T0 + timedelta(minutes=1),
        Article(
            url=SCRIPT,
            source_id="qk7",
            title="<script>alert(1)</script>",
            published=datetime(2024, 1, 4, 8, 0, tzinfo=UTC),
            body_html="<p>Nội dung & chú thích</p>",
            body_text="Nội dung & chú thích",
            fingerprint="f2",
        ),
    ),
    (
        T0 + timedelta(minutes=2),
        Article(
            url=TRAINING,
            source_id="qk3",
            title="Huấn luyện chiến sĩ mới",
            published=datetime(2024, 1, 3, 1, 0, tzinfo=UTC),
            agencies=("QĐND",),
            body_html="<p>Huấn luyện chiến sĩ mới năm 2024.</p>",
            body_text="Huấn luyện chiến sĩ mới năm 2024.",
            fingerprint="f3",
        ),
    ),
    (
        T0 + timedelta(minutes=3),
        Article(
            url=MEETING,
            source_id="qdnd",
            title="Hội nghị quân chính",
            published=datetime(2024, 1, 2, 3, 0, tzinfo=UTC),
            body_html="<p>Hội nghị quân chính toàn quân.</p>",
            body_text="Hội nghị quân chính toàn quân.",
            fingerprint="f4",
        ),
    ),
]
NEWEST_UPDATE = T0 + timedelta(minutes=3)
FEED_PATHS = ["/feed.atom", "/feed.rss", "/feed.json"]
FORMAT_OF = {"/feed.atom": "atom", "/feed.rss": "rss", "/feed.json": "json"}


class LoopCheckingStore:
    """Wraps a store: records each call and whether it ran on the event loop's thread."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.calls: list[str] = []
        self.on_loop: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:
                self.on_loop.append(name)
            return attr(*args, **kwargs)

        return call


@dataclass
class Env:
    store: Store
    spy: LoopCheckingStore
    client: TestClient
    app: Any

    @property
    def renders(self) -> int:
        return int(self.app.state.metrics.renders)

    @property
    def hits(self) -> int:
        return int(self.app.state.metrics.cache_hits)


def _make_env(tmp_path: Path, config: Config = CONFIG, **kwargs: Any) -> Iterator[Env]:
    store = open_store("sqlite:///" + str(tmp_path / "t.db"))
    for now, article in ARTICLES:
        store.upsert_article(article, now=now)
    spy = LoopCheckingStore(store)
    app = create_app(config, spy, **kwargs)  # type: ignore[arg-type]
    try:
        with TestClient(app) as client:
            yield Env(store, spy, client, app)
    finally:
        store.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield from _make_env(tmp_path)


def _record(store: Store, source_id: str, *, ok: bool, degraded: str | None = None) -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    store.record_run(
        source_id,
        started=started,
        finished=started + timedelta(seconds=5),
        ok=ok,
        new=0,
        updated=0,
        errors=0 if ok else 1,
        message=None if ok else "timed out",
        degraded=degraded,
    )


def _urls(env: Env, path: str) -> list[str]:
    r = env.client.get(path)
    assert r.status_code == 200, r.text
    return [item["url"] for item in r.json()["items"]]


# -- formats -----------------------------------------------------------------------


@pytest.mark.parametrize("path", FEED_PATHS + [f"/sources/qdnd{p}" for p in FEED_PATHS])
def test_feed_content_types(env: Env, path: str) -> None:
    r = env.client.get(path)
    assert r.status_code == 200
    fmt = FORMAT_OF["/" + path.rsplit("/", 1)[1]]
    assert r.headers["content-type"] == CONTENT_TYPES[fmt]
    assert r.headers["cache-control"] == "public, max-age=300"
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/feed.atom", "/feed.rss", "/sources/qdnd/feed.atom"])
def test_feedparser_reads_atom_and_rss_cleanly(env: Env, path: str) -> None:
    r = env.client.get(path)
    parsed = feedparser.parse(
        r.content, response_headers={"content-type": r.headers["content-type"]}
    )
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    links = [e.link for e in parsed.entries]
    assert links == ([BORDER, MEETING] if "qdnd" in path else [BORDER, SCRIPT, TRAINING, MEETING])
    assert parsed.entries[0].title == "Tuần tra bảo vệ biên giới"
    if "qdnd" not in path:
        assert parsed.entries[1].title == "<script>alert(1)</script>"


def test_json_feed_1_1(env: Env) -> None:
    # feedparser 6.0 does not read JSON Feed; check the 1.1 required members instead.
    doc = json.loads(env.client.get("/feed.json").content.decode("utf-8"))
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == "qkfeed — Tin quân khu"
    assert doc["feed_url"] == f"{BASE}/feed.json"
    assert [item["url"] for item in doc["items"]] == [BORDER, SCRIPT, TRAINING, MEETING]
    for item in doc["items"]:
        assert item["id"] and ("content_html" in item or "content_text" in item)
    assert doc["items"][1]["title"] == "<script>alert(1)</script>"


def test_head_sends_headers_only(env: Env) -> None:
    get = env.client.get("/feed.atom", headers={"Accept-Encoding": "identity"})
    head = env.client.head("/feed.atom", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == str(len(get.content))


# -- validators ----------------------------------------------------------------------


def test_strong_etag_is_a_hash_of_the_body(env: Env) -> None:
    r = env.client.get("/feed.atom", headers={"Accept-Encoding": "identity"})
    etag = r.headers["etag"]
    assert not etag.startswith("W/")
    assert etag.strip('"') == hashlib.sha256(r.content).hexdigest()[: len(etag) - 2]


@pytest.mark.parametrize(
    "header",
    [
        "{etag}",
        "W/{etag}",
        '"nope", {etag}',
        '"a", W/"b",{etag} ',
        "*",
    ],
)
def test_if_none_match_gives_304(env: Env, header: str) -> None:
    first = env.client.get("/feed.rss", headers={"Accept-Encoding": "identity"})
    etag = first.headers["etag"]
    r = env.client.get(
        "/feed.rss",
        headers={"Accept-Encoding": "identity", "If-None-Match": header.format(etag=etag)},
    )
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == etag
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["cache-control"] == "public, max-age=300"


def test_if_none_match_mismatch_gives_200_and_wins_over_if_modified_since(env: Env) -> None:
    lm = env.client.get("/feed.atom").headers["last-modified"]
    r = env.client.get("/feed.atom", headers={"If-None-Match": '"other"', "If-Modified-Since": lm})
    assert r.status_code == 200
    assert r.content


def test_last_modified_is_the_newest_entry_update(env: Env) -> None:
    r = env.client.get("/feed.json")
    assert r.headers["last-modified"] == format_datetime(NEWEST_UPDATE, usegmt=True)
    # one source: its own newest update
    r = env.client.get("/sources/qk7/feed.json")
    assert r.headers["last-modified"] == format_datetime(T0 + timedelta(minutes=1), usegmt=True)


@pytest.mark.parametrize(
    ("since", "status"),
    [
        (NEWEST_UPDATE, 304),
        (NEWEST_UPDATE + timedelta(days=1), 304),
        (NEWEST_UPDATE - timedelta(seconds=1), 200),
    ],
)
def test_if_modified_since(env: Env, since: datetime, status: int) -> None:
    r = env.client.get(
        "/feed.atom", headers={"If-Modified-Since": format_datetime(since, usegmt=True)}
    )
    assert r.status_code == status


def test_bad_if_modified_since_is_ignored(env: Env) -> None:
    r = env.client.get("/feed.atom", headers={"If-Modified-Since": "yesterday-ish"})
    assert r.status_code == 200


def test_empty_result_still_has_validators(env: Env) -> None:
    r = env.client.get("/feed.atom?q=khongcobaivietnao")
    assert r.status_code == 200
    assert feedparser.parse(r.content).entries == []
    lm = r.headers["last-modified"]
    again = env.client.get("/feed.atom?q=khongcobaivietnao", headers={"If-Modified-Since": lm})
    assert again.status_code == 304


# -- gzip ------------------------------------------------------------------------------


def test_gzip_when_accepted_with_its_own_etag(env: Env) -> None:
    plain = env.client.get("/feed.atom", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    with env.client.stream("GET", "/feed.atom", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
        headers = r.headers
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-type"] == CONTENT_TYPES["atom"]
    assert gzip.decompress(raw) == plain.content
    assert headers["etag"] != plain.headers["etag"]
    assert headers["etag"].strip('"') == hashlib.sha256(raw).hexdigest()[:32]
    # either tag revalidates, whichever encoding is asked for now
    for tag in (headers["etag"], plain.headers["etag"]):
        r2 = env.client.get("/feed.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": tag})
        assert r2.status_code == 304
        assert r2.headers["etag"] == tag


@pytest.mark.parametrize("accept", ["gzip;q=0", "br", "identity", "*;q=0"])
def test_no_gzip_unless_accepted(env: Env, accept: str) -> None:
    r = env.client.get("/feed.rss", headers={"Accept-Encoding": accept})
    assert "content-encoding" not in r.headers
    assert feedparser.parse(r.content).bozo == 0


# -- the render cache -------------------------------------------------------------------


def test_second_request_is_a_cache_hit_that_queries_only_the_version(env: Env) -> None:
    env.client.get("/feed.atom")
    renders, hits = env.renders, env.hits
    env.spy.calls.clear()
    r = env.client.get("/feed.atom")
    assert r.status_code == 200
    assert env.renders == renders
    assert env.hits == hits + 1
    assert env.spy.calls == ["version"]
    metrics = env.client.get("/metrics").text
    assert f"qkfeed_feed_renders_total {renders}\n" in metrics
    assert f"qkfeed_feed_cache_hits_total {hits + 1}\n" in metrics


def test_equivalent_queries_share_one_render(env: Env) -> None:
    env.client.get("/feed.json?source=qk7,qdnd")
    renders = env.renders
    env.client.get("/feed.json?source=qdnd&source=qk7&utm_source=x")
    env.client.get("/feed.json?source=qdnd,,qk7&limit=10")  # 10 is the default
    assert env.renders == renders


def test_store_is_called_off_the_event_loop(env: Env) -> None:
    for path in ["/", "/feed.atom", "/healthz", "/metrics"]:
        assert env.client.get(path).status_code == 200
    assert env.spy.calls
    assert env.spy.on_loop == []


def test_upsert_invalidates_the_cache(env: Env) -> None:
    first = env.client.get("/feed.json")
    renders = env.renders
    env.store.upsert_article(
        Article(
            url="https://quankhu7.vn/moi-5",
            source_id="qk7",
            title="Tin mới nhất",
            published=datetime(2024, 1, 6, tzinfo=UTC),
            body_text="Mới",
            fingerprint="f5",
        ),
        now=T0 + timedelta(hours=1),
    )
    r = env.client.get("/feed.json", headers={"If-None-Match": first.headers["etag"]})
    assert r.status_code == 200
    assert env.renders == renders + 1
    assert r.json()["items"][0]["title"] == "Tin mới nhất"
    assert r.headers["etag"] != first.headers["etag"]
    assert r.headers["last-modified"] == format_datetime(T0 + timedelta(hours=1), usegmt=True)


def test_cache_is_bounded(tmp_path: Path) -> None:
    for env in _make_env(tmp_path, cache_size=3):
        for n in range(1, 8):
            env.client.get(f"/feed.json?limit={n}")
        assert len(env.app.state.cache) == 3
        renders = env.renders
        env.client.get("/feed.json?limit=7")  # still cached
        env.client.get("/feed.json?limit=1")  # evicted long ago
        assert env.renders == renders + 1


def test_cache_byte_budget() -> None:
    cache = RenderCache(maxsize=10, max_bytes=2000)
    docs = [Rendered.of(bytes([65 + n]) * 600, "text/plain", None) for n in range(4)]
    for n, doc in enumerate(docs):
        cache.put(n, "v1", doc)
    assert cache.bytes <= 2000
    assert cache.get(0, "v1") is None  # evicted, oldest first
    assert cache.get(3, "v1") is docs[3]
    assert cache.get(3, "v2") is None  # another store version
    cache.put("huge", "v1", Rendered.of(b"x" * 5000, "text/plain", None))
    assert cache.get("huge", "v1") is None and cache.get(3, "v1") is docs[3]
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0


# -- filters --------------------------------------------------------------------------------


def test_source_filter_single_repeated_and_comma_separated(env: Env) -> None:
    assert _urls(env, "/feed.json?source=qk7") == [SCRIPT]
    both = [BORDER, SCRIPT, MEETING]
    assert _urls(env, "/feed.json?source=qdnd,qk7") == both
    assert _urls(env, "/feed.json?source=qk7&source=qdnd") == both


def test_filtered_feed_has_its_own_self_link_and_id(env: Env) -> None:
    r = env.client.get("/feed.atom?source=qk7&q=n%E1%BB%99i")
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == [f"{BASE}/feed.atom?source=qk7&q=n%E1%BB%99i"]
    assert parsed.feed.id != "urn:qkfeed:feed:all"
    assert "Báo Quân khu 7" in parsed.feed.title


@pytest.mark.parametrize(
    "q",
    ["bien gioi", "BIÊN GIỚI", unicodedata.normalize("NFD", "biên giới"), "  bien   gioi "],
)
def test_search_is_accent_insensitive(env: Env, q: str) -> None:
    r = env.client.get("/feed.json", params={"q": q})
    assert [item["url"] for item in r.json()["items"]] == [BORDER]


def test_limit(env: Env) -> None:
    assert _urls(env, "/feed.json?limit=1") == [BORDER]
    assert len(_urls(env, f"/feed.json?limit={MAX_LIMIT}")) == 4


@pytest.mark.parametrize("value", ["0", "-1", str(MAX_LIMIT + 1), "abc", "1.5", "", "9" * 40])
def test_bad_limit_is_400_with_a_clear_message(env: Env, value: str) -> None:
    r = env.client.get(f"/feed.atom?limit={value}")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/plain")
    assert f"limit= must be a whole number from 1 to {MAX_LIMIT}" in r.text


@pytest.mark.parametrize("value", ["\u0663", "\uff13", "\u09e8", "1\u0660"], ids=["arabic-indic", "fullwidth", "bengali", "mixed"])
def test_only_ascii_digits_make_a_limit(env: Env, value: str) -> None:
    r = env.client.get("/feed.atom", params={"limit": value})
    assert r.status_code == 400
    assert f"limit= must be a whole number from 1 to {MAX_LIMIT}" in r.text


def test_hosts_outside_allowed_hosts_get_421(tmp_path: Path) -> None:
    for env in _make_env(tmp_path, allowed_hosts=["feeds.example.org", "127.0.0.1"]):
        for path in ("/metrics", "/healthz", "/feed.atom"):
            r = env.client.get(path)  # Host: testserver
            assert r.status_code == 421 and "host name" in r.text
        ok = env.client.get("/feed.atom", headers={"Host": "FEEDS.example.org:8443"})
        assert ok.status_code == 200
        assert env.client.get("/healthz", headers={"Host": "127.0.0.1:8080"}).status_code == 200
        counted = env.app.state.metrics.requests()
        assert counted[("/metrics", 421)] == 1


def test_default_allowed_hosts_and_bracketed_ipv6() -> None:
    assert url_host("::1") == "[::1]" and url_host("127.0.0.1") == "127.0.0.1"
    assert url_host("[::1]") == "[::1]" and url_host("feeds.example.org") == "feeds.example.org"
    hosts = default_allowed_hosts("https://feeds.example.org/qk/", "::1")
    assert set(hosts) == {"localhost", "feeds.example.org", "::1"}
    assert set(default_allowed_hosts(None, "0.0.0.0")) == {"localhost", "127.0.0.1", "::1"}
    guard = HostGuard(hosts)
    assert guard.allows(b"[::1]:8080") and guard.allows(b"localhost") and guard.allows(None)
    assert not guard.allows(b"evil.example") and not guard.allows(b"\xff")
    assert HostGuard(["*"]).allows(b"anything.example")


def test_unknown_source_filter_is_400_naming_known_ones(env: Env) -> None:
    r = env.client.get("/feed.rss?source=qdnd,nope")
    assert r.status_code == 400
    assert "unknown source 'nope'" in r.text
    assert "qk7" in r.text


def test_source_filter_on_a_source_feed_is_400(env: Env) -> None:
    r = env.client.get("/sources/qdnd/feed.atom?source=qk7")
    assert r.status_code == 400
    assert "combined feed only" in r.text


def test_too_long_query_is_400(env: Env) -> None:
    r = env.client.get("/feed.json", params={"q": "a" * 201})
    assert r.status_code == 400
    assert "q= is too long" in r.text


# -- per-source feeds ----------------------------------------------------------------------


def test_source_feed_lists_only_that_source(env: Env) -> None:
    assert _urls(env, "/sources/qdnd/feed.json") == [BORDER, MEETING]
    assert _urls(env, "/sources/qdnd/feed.json?q=hoi nghi") == [MEETING]
    assert _urls(env, "/sources/old/feed.json") == []  # disabled, still configured
    parsed = feedparser.parse(env.client.get("/sources/qk3/feed.atom").content)
    assert parsed.bozo == 0
    assert parsed.feed.title == "Quân khu 3 — qkfeed"


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_unknown_source_feed_is_404_plain_text(env: Env, fmt: str) -> None:
    r = env.client.get(f"/sources/nope/feed.{fmt}")
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == "No such source: 'nope'\n"


def test_configured_base_url_is_used_for_self_links(tmp_path: Path) -> None:
    for env in _make_env(tmp_path, base_url="https://feeds.example.org/qk/"):
        doc = env.client.get("/sources/qk7/feed.json").json()
        assert doc["feed_url"] == "https://feeds.example.org/qk/sources/qk7/feed.json"
        page = env.client.get("/").text
        assert 'href="https://feeds.example.org/qk/feed.atom"' in page


def test_store_failure_is_503(env: Env) -> None:
    env.store.close()
    r = env.client.get("/feed.atom")
    assert r.status_code == 503
    assert "cannot be read" in r.text


# -- OPML -------------------------------------------------------------------------------------


def test_opml_lists_the_combined_feed_and_every_source(env: Env) -> None:
    r = env.client.get("/opml")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/x-opml; charset=utf-8"
    assert r.headers["etag"]
    root = ET.fromstring(r.content)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "qkfeed — Tin quân khu"
    feeds = {o.get("xmlUrl"): o for o in root.iter("outline") if o.get("xmlUrl")}
    expected = {f"{BASE}/feed.atom"} | {f"{BASE}/sources/{sid}/feed.atom" for sid in CONFIG.sources}
    assert set(feeds) == expected
    for outline in feeds.values():
        assert outline.get("type") == "rss"
        assert outline.get("text")
    assert feeds[f"{BASE}/sources/qk7/feed.atom"].get("htmlUrl") == "https://quankhu7.vn/"


# -- healthz -------------------------------------------------------------------------------


def test_healthz_before_any_run_is_ok(env: Env) -> None:
    r = env.client.get("/healthz")
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "ok"
    assert set(doc["sources"]) == set(CONFIG.sources)
    qdnd = doc["sources"]["qdnd"]
    assert qdnd["status"] == "never_run"
    assert qdnd["last_success"] is None
    assert qdnd["consecutive_failures"] == 0
    assert qdnd["articles"] == 2
    assert "articles_last_day" in qdnd and "degraded" in qdnd
    assert r.headers["cache-control"] == "no-store"


def test_healthz_one_failing_source_is_reported_but_healthy(env: Env) -> None:
    _record(env.store, "qdnd", ok=True)
    _record(env.store, "qk7", ok=False)
    r = env.client.get("/healthz")
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "degraded"
    assert doc["sources"]["qk7"]["status"] == "failing"
    assert doc["sources"]["qk7"]["consecutive_failures"] == 1
    assert doc["sources"]["qdnd"]["last_success"].endswith("Z")


def test_healthz_degraded_source_is_not_unhealthy(env: Env) -> None:
    _record(env.store, "qdnd", ok=True, degraded="profile selector 'date' stopped matching")
    r = env.client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["sources"]["qdnd"]["degraded"] == "profile selector 'date' stopped matching"
    assert r.json()["status"] == "degraded"


def test_healthz_every_run_source_failing_is_503(env: Env) -> None:
    _record(env.store, "qdnd", ok=False)
    _record(env.store, "qk7", ok=True)
    _record(env.store, "qk7", ok=False)
    _record(env.store, "old", ok=True)  # disabled: does not count
    # qk3 never ran: does not save the day either
    r = env.client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "unhealthy"
    assert r.json()["sources"]["qk7"]["consecutive_failures"] == 1


def test_healthz_unreadable_store_is_503(env: Env) -> None:
    env.store.close()
    r = env.client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "unhealthy"


# -- metrics ----------------------------------------------------------------------------------

_SAMPLE = re.compile(
    r'^[a-z_]+(\{[a-z_]+="(?:[^"\\]|\\.)*"(,[a-z_]+="(?:[^"\\]|\\.)*")*\})? -?[0-9.e+]+$'
)


def test_metrics_exposition_format(env: Env) -> None:
    _record(env.store, "qdnd", ok=True)
    _record(env.store, "qk7", ok=False, degraded="drift")
    env.client.get("/sources/qk7/feed.atom")
    env.client.get("/sources/nope/feed.atom")
    env.client.get("/no/such/path")
    r = env.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = r.text
    assert text.endswith("\n")
    families: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            families[name] = kind
        elif not line.startswith("# HELP "):
            assert _SAMPLE.match(line), line
            assert line.split("{")[0].split(" ")[0] in families, line
    assert families == {
        "qkfeed_articles_total": "gauge",
        "qkfeed_source_last_success_timestamp_seconds": "gauge",
        "qkfeed_source_consecutive_failures": "gauge",
        "qkfeed_source_degraded": "gauge",
        "qkfeed_store_up": "gauge",
        "qkfeed_http_requests_total": "counter",
        "qkfeed_feed_renders_total": "counter",
        "qkfeed_feed_cache_hits_total": "counter",
        "qkfeed_http_fast_path_total": "counter",
    }
    lines = set(text.splitlines())
    assert 'qkfeed_articles_total{source="qdnd"} 2' in lines
    assert 'qkfeed_source_consecutive_failures{source="qk7"} 1' in lines
    assert 'qkfeed_source_degraded{source="qk7"} 1' in lines
    assert 'qkfeed_source_degraded{source="qdnd"} 0' in lines
    assert "qkfeed_store_up 1" in lines
    assert (
        'qkfeed_http_requests_total{path="/sources/{source_id}/feed.atom",status="200"} 1' in lines
    )
    assert (
        'qkfeed_http_requests_total{path="/sources/{source_id}/feed.atom",status="404"} 1' in lines
    )
    assert 'qkfeed_http_requests_total{path="unmatched",status="404"} 1' in lines
    success = [ln for ln in lines if ln.startswith("qkfeed_source_last_success_timestamp_seconds")]
    assert len(success) == 1 and success[0].startswith(
        'qkfeed_source_last_success_timestamp_seconds{source="qdnd"} '
    )
    assert abs(float(success[0].split(" ")[1]) - time.time()) < 600


def test_metrics_without_a_store_still_answer(env: Env) -> None:
    env.store.close()
    r = env.client.get("/metrics")
    assert r.status_code == 200
    assert "qkfeed_store_up 0\n" in r.text


# -- the HTML page -------------------------------------------------------------------------------


def _doc(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return BeautifulSoup(r.content, "html.parser")


def test_page_lists_the_articles(env: Env) -> None:
    r = env.client.get("/")
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    text = r.text
    assert text.startswith("<!doctype html>")
    assert '<html lang="vi">' in text and '<meta charset="utf-8">' in text
    doc = _doc(r)
    links = {a.get_text(): a.get("href") for a in doc.select("ol.articles h3 a")}
    assert links["Tuần tra bảo vệ biên giới"] == BORDER
    assert links["Huấn luyện chiến sĩ mới"] == TRAINING
    first = doc.select("ol.articles li")[0]
    meta = first.select("p.meta")[0].get_text()
    assert "Báo Quân đội nhân dân" in meta
    assert "05/01/2024 17:37" in meta  # 10:37 UTC in Vietnam time
    assert "Nguyễn Văn An, Trần Bình" in meta
    assert first.select("time")[0].get("datetime") == "2024-01-05T10:37:00Z"
    assert first.select("p.summary")[0].get_text().startswith("Bộ đội Biên phòng")
    assert "QĐND" in doc.select("ol.articles li")[2].get_text()  # agency when no author


def test_page_escapes_everything(env: Env) -> None:
    text = env.client.get("/").text
    assert "<script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "Nội dung &amp; chú thích" in text


def test_page_links_only_http_urls(env: Env) -> None:
    env.store.upsert_article(
        Article(
            url="https://quankhu7.vn/js-6",
            original_url="javascript:alert(2)",
            source_id="qk7",
            title="Liên kết lạ",
            published=datetime(2024, 1, 7, tzinfo=UTC),
            fingerprint="f6",
        ),
        now=T0 + timedelta(hours=2),
    )
    doc = _doc(env.client.get("/"))
    first = doc.select("ol.articles li")[0]
    assert first.select("h3")[0].get_text() == "Liên kết lạ"
    assert first.select("h3 a") == []
    assert "javascript:" not in env.client.get("/").text


def test_page_alternate_links_for_feed_discovery(env: Env) -> None:
    doc = _doc(env.client.get("/"))
    alternates = {
        link.get("type"): link.get("href") for link in doc.select('head link[rel="alternate"]')
    }
    assert alternates == {
        "application/atom+xml": f"{BASE}/feed.atom",
        "application/rss+xml": f"{BASE}/feed.rss",
        "application/feed+json": f"{BASE}/feed.json",
    }
    hrefs = {a.get("href") for a in doc.select("a")}
    assert f"{BASE}/opml" in hrefs
    for sid in CONFIG.sources:
        for name in ("feed.atom", "feed.rss", "feed.json"):
            assert f"{BASE}/sources/{sid}/{name}" in hrefs


def test_page_security_headers(env: Env) -> None:
    r = env.client.get("/")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp
    style = _doc(r).select("head style")[0].string
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "form-action 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_page_search_and_source_filter(env: Env) -> None:
    doc = _doc(env.client.get("/", params={"q": "bien gioi"}))
    titles = [h.get_text() for h in doc.select("ol.articles h3")]
    assert titles == ["Tuần tra bảo vệ biên giới"]
    assert doc.select("input#q")[0].get("value") == "bien gioi"
    # the filtered feed is offered first for discovery
    first_alt = doc.select('head link[rel="alternate"]')[0]
    assert first_alt.get("href") == f"{BASE}/feed.atom?q=bien+gioi"

    doc = _doc(env.client.get("/?source=qk3"))
    titles = [h.get_text() for h in doc.select("ol.articles h3")]
    assert titles == ["Huấn luyện chiến sĩ mới"]
    checked = doc.select('input[name="source"][checked]')
    assert [o.get("value") for o in checked] == ["qk3"]

    doc = _doc(env.client.get("/", params={"q": "không có gì"}))
    assert doc.select("ol.articles") == []
    assert "Không tìm thấy bài viết nào" in doc.get_text()


def test_page_source_health_table(env: Env) -> None:
    page = env.client.get("/")
    renders = env.renders
    _record(env.store, "qk7", ok=False)
    _record(env.store, "qdnd", ok=True, degraded="profile selector 'date' stopped matching")
    # run state is not in store.version(), yet the page must change
    r = env.client.get("/", headers={"If-None-Match": page.headers["etag"]})
    assert r.status_code == 200
    assert env.renders == renders + 1
    rows = {
        tr.select("td")[0].select("a")[0].get_text(): tr for tr in _doc(r).select("table tbody tr")
    }
    assert set(rows) == {s.name for s in CONFIG.sources.values()}
    qdnd = rows["Báo Quân đội nhân dân"].get_text()
    assert "profile selector 'date' stopped matching" in qdnd
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", qdnd)  # last success, Vietnam time
    assert "Lỗi 1 lần liên tiếp" in rows["Báo Quân khu 7"].get_text()
    assert "Chưa chạy" in rows["Quân khu 3"].get_text()
    assert "Đã tắt" in rows["Nguồn đã tắt"].get_text()
    assert rows["Báo Quân đội nhân dân"].select("td.num")[0].get_text() == "2"


def test_page_etag_and_cache(env: Env) -> None:
    r = env.client.get("/")
    renders = env.renders
    again = env.client.get("/", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert env.renders == renders
    assert env.spy.on_loop == []


# -- a real server ------------------------------------------------------------------------------


def test_real_server_over_a_socket(tmp_path: Path) -> None:
    for env in _make_env(tmp_path):
        with server_in_thread(env.app) as port:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/feed.atom", headers={"Accept-Encoding": "gzip"})
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200
            assert r.getheader("Content-Type") == CONTENT_TYPES["atom"]
            assert r.getheader("Content-Encoding") == "gzip"
            parsed = feedparser.parse(gzip.decompress(body))
            assert parsed.bozo == 0 and len(parsed.entries) == 4
            self_link = [link.href for link in parsed.feed.links if link.rel == "self"]
            assert self_link == [f"http://127.0.0.1:{port}/feed.atom"]

            etag = r.getheader("ETag")
            conn.request(
                "GET", "/feed.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
            )
            r = conn.getresponse()
            assert r.status == 304 and r.read() == b""

            conn.request("HEAD", "/")
            r = conn.getresponse()
            assert r.status == 200 and r.read() == b""
            assert int(r.getheader("Content-Length")) > 1000

            conn.request("GET", "/healthz")
            r = conn.getresponse()
            assert r.status == 200 and json.loads(r.read())["status"] == "ok"
            conn.close()
