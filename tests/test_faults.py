"""Faults at the pipeline level: one bad page never stops its source, one bad source never
stops the others.

The fetcher's own behaviour on every nasty endpoint is in test_http.py; here the same
endpoints sit on a listing page next to good articles, and a real ``SourceRunner`` with a
real ``Fetcher`` and a real SQLite store runs over them.  Everything is served by
FaultServer on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import sqlite3
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultserver import FaultServer, gzip_bomb, to_cp1258

from scraper.config import Config
from scraper.config_load import config_from_dict
from scraper.fetch.client import Fetcher
from scraper.pipeline.runner import RunResult, SourceRunner
from storage import open_store

ROOT = Path(__file__).resolve().parent.parent
CAP = 1 << 20  # max_bytes in these tests
FETCH = {
    "timeout": 0.5,
    "deadline": 1.5,
    "retries": 1,
    "backoff_max": 0.1,
    "per_host_delay": 0.0,
    "per_host_concurrency": 4,
    "allow_private_networks": True,
    "max_bytes": CAP,
    "max_articles_per_run": 100,
}
PROFILE = {
    "title": "h1.title",
    "date": "p.date",
    "author": "p.author",
    "body": "div.body",
    "links": "ul.news a",
}
PARAGRAPHS = [
    "Sáng 5/1, Bộ Chỉ huy Quân sự tỉnh tổ chức hội nghị tổng kết công tác quân sự, quốc phòng "
    "địa phương năm 2023, triển khai nhiệm vụ năm 2024.",
    "Năm qua, lực lượng vũ trang tỉnh đã hoàn thành tốt các chỉ tiêu huấn luyện, diễn tập, "
    "tuyển quân; giữ vững an ninh chính trị, trật tự an toàn xã hội trên địa bàn.",
]


def article_page(title: str, *, charset: str | None = "utf-8", extra: str = "") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f"<!doctype html><html><head>{meta}<title>{title} - Báo thử</title></head><body>"
        '<header><nav><a href="/">Trang chủ</a></nav></header>'
        f'<article><h1 class="title">{title}</h1><p class="date">05/01/2024 10:37</p>'
        f'<div class="body">{body}{extra}</div><p class="author">Nguyễn Văn An</p></article>'
        "</body></html>"
    )


def listing_page(paths: list[str]) -> str:
    items = "".join(f'<li><a href="{p}">Bài {i}</a></li>' for i, p in enumerate(paths))
    return f"<!doctype html><html><body><h1>Tin tức</h1><ul class='news'>{items}</ul></body></html>"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def make_config(db: Path, sources: dict[str, str], **fetch: object) -> Config:
    return config_from_dict(
        {
            "storage": {"url": f"sqlite:///{db}"},
            "fetch": {**FETCH, **fetch},
            "sources": {
                sid: {"name": f"Nguồn {sid}", "start_urls": [url], "profile": PROFILE}
                for sid, url in sources.items()
            },
        },
        "<test config>",
    )


async def run_sources(config: Config, store: object, ids: list[str]) -> dict[str, RunResult]:
    async with Fetcher(config.fetch) as fetcher:
        runner = SourceRunner(config, store, fetcher)
        results = await asyncio.gather(*(runner.run_source(config.sources[s]) for s in ids))
    return {r.source_id: r for r in results}


class Events(logging.Handler):
    """Collects the structured events of the pipeline logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def named(self, name: str) -> list[dict[str, object]]:
        return [
            {**getattr(r, "qk_fields", {}), "level": r.levelno}
            for r in self.records
            if r.getMessage() == name
        ]


@pytest.fixture
def events() -> Iterator[Events]:
    handler = Events()
    logger = logging.getLogger("qkfeed.pipeline")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def stored(db: Path) -> dict[str, tuple[str, str]]:
    """original_url -> (source_id, title) of every stored article."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT original_url, source_id, title FROM articles").fetchall()
    return {url: (sid, title) for url, sid, title in rows}


# --- one source, every fault on its listing -----------------------------------------------


def faulty_site(server: FaultServer) -> tuple[dict[str, str], dict[str, str]]:
    """Serve /news with good articles and faults; (good path -> title, fault path -> reason)."""
    port = server.port
    good: dict[str, str] = {}
    for n in (1001, 1002, 1003):
        good[f"/news/bai-viet-tot-{n}"] = f"Bài viết tốt số {n} về huấn luyện"
    for path, title in good.items():
        server.add_page(path, article_page(title))

    # pages that are odd but fine: stored with the right text
    odd = {
        "/news/utf8-khai-bao-1258-5001": ("Tiêu đề UTF-8 khai báo windows-1258", "utf8-as-1258"),
        "/news/cp1258-khai-bao-utf8-5002": ("Tiêu đề windows-1258 khai báo UTF-8", "1258-as-utf8"),
        "/news/cp1258-khong-khai-bao-5003": ("Tiêu đề windows-1258 không khai báo", "1258-bare"),
        "/news/chu-nfd-5004": ("Tiêu đề viết dạng tổ hợp NFD", "nfd"),
        "/news/html-hong-5005": ("Trang HTML hỏng vẫn đọc được", "broken-html"),
    }
    for path, (title, kind) in odd.items():
        if kind == "utf8-as-1258":
            server.add_page(
                path,
                article_page(title, charset="windows-1258").encode(),
                "text/html; charset=windows-1258",
            )
        elif kind == "1258-as-utf8":
            server.add_page(path, to_cp1258(article_page(title)), "text/html; charset=utf-8")
        elif kind == "1258-bare":
            server.add_page(path, to_cp1258(article_page(title, charset=None)), "text/html")
        elif kind == "nfd":
            server.add_page(path, unicodedata.normalize("NFD", article_page(title)))
        else:
            broken = article_page(title, extra="<p><b><i>lồng sai</b></i><table><td>ô<div>lạc")
            broken = broken.replace("</article>", "</div></span></td>").replace(
                "<html>", "<html><html>"
            )
            server.add_page(path, broken[: len(broken) - 20])  # and cut short
        good[path] = title
    # faults the fetcher retries away: stored too (their page is FaultServer's /ok)
    retried = ["/status/503?times=1", "/retry-after?seconds=1"]

    # error and captcha pages sent with status 200, in the site's own layout
    server.add_page(
        "/news/captcha-3001",
        (
            "<html><head><title>Captcha</title></head><body><h1 class='title'>Xác minh captcha</h1>"
            "<div class='body'><p>Vui lòng xác minh bạn không phải là robot để tiếp tục truy cập "
            "trang tin tức này. Nhập mã bên dưới.</p><form><input name=c></form></div></body></html>"
        ),
    )
    server.add_page(
        "/news/loi-3002",
        (
            "<html><head><title>404 Not Found</title></head><body><h1 class='title'>404 - Trang "
            "không tồn tại</h1><div class='body'><p>Không tìm thấy trang bạn yêu cầu. Trang có thể "
            "đã bị xóa hoặc đường dẫn không đúng.</p></div></body></html>"
        ),
    )
    rng = random.Random(5)
    server.add_page("/news/rac-3003", bytes(rng.randrange(256) for _ in range(4000)), "text/html")
    server.add_page(f"/news/offsite-{port}", article_page("Bài trên máy chủ khác"))
    faults = {
        f"/redirect?to=http://127.0.0.1:{closed_port()}/news/x-1": "ConnectError",
        "/hang-headers?s=5": "timed out",
        "/hang-body?s=5": "timed out",
        "/drip?interval=0.1&n=200": "deadline",
        "/status/500": "HTTP 500",
        "/status/502": "HTTP 502",
        "/status/404": "HTTP 404",
        "/reset": "after 2 attempts",
        "/truncated": "RemoteProtocolError",
        "/broken-chunked": "RemoteProtocolError",
        "/big-length": "Content-Length",
        "/big-chunked?size=3000000": "exceeds the cap",
        "/gzip-bomb": "exceeds the cap",
        "/loop/a": "redirect loop",
        f"/redirect?to=http://localhost:{port}/news/offsite-{port}": "redirected to http://localhost",
        "/empty": "no article body",
        "/news/captcha-3001": "error page",
        "/news/loi-3002": "error page",
        "/news/rac-3003": "no article body",
        "/private/bai-4001": "robots.txt",
    }
    links = list(good) + retried + list(faults)
    random.Random(7).shuffle(links)
    server.add_page("/news", listing_page(links))
    return {**good, **{p: "" for p in retried}}, faults


def test_bad_pages_never_stop_their_source(tmp_path: Path, events: Events) -> None:
    gzip_bomb()  # built once, before the clock starts
    db = tmp_path / "q.db"
    with FaultServer() as server:
        good, faults = faulty_site(server)
        config = make_config(db, {"faulty": server.url("/news")})
        t0 = time.monotonic()
        with open_store(config.storage.url) as store:
            result = asyncio.run(run_sources(config, store, ["faulty"]))["faulty"]
            health = store.source_health(["faulty"])[0]
        elapsed = time.monotonic() - t0

    rows = stored(db)
    expected = {server.url(p) for p in good}
    assert set(rows) == expected, f"missing {expected - set(rows)}, extra {set(rows) - expected}"
    for path, title in good.items():
        if title:  # exact NFC text whatever the charset label said
            assert rows[server.url(path)] == ("faulty", title), path
    assert all(unicodedata.is_normalized("NFC", t) for _, t in rows.values())

    assert result.ok and result.new == len(good)
    assert result.errors == len(faults)
    failed = {str(e["url"]): str(e["error"]) for e in events.named("article_failed")}
    assert set(failed) == {server.url(p) for p in faults}
    for path, reason in faults.items():
        assert reason in failed[server.url(path)], (path, failed[server.url(path)])
    assert all(e["level"] == logging.WARNING for e in events.named("article_failed"))
    assert health.last_success is not None and health.consecutive_failures == 0
    assert elapsed < 20


def test_offsite_redirect_is_skipped_and_logged_but_same_host_redirects_are_followed(
    tmp_path: Path, events: Events
) -> None:
    db = tmp_path / "q.db"
    with FaultServer() as a, FaultServer() as b:
        a.add_page("/news/dich-1", article_page("Bài đích trên cùng máy chủ"))
        b.add_page("/news/khac-2", article_page("Bài đích trên máy chủ khác"))
        links = [
            "/redirect?to=/news/dich-1",  # same host: followed and stored
            f"/redirect?to=http://localhost:{b.port}/news/khac-2",  # another host: skipped
        ]
        a.add_page("/news", listing_page(links))
        config = make_config(db, {"a": a.url("/news")})
        with open_store(config.storage.url) as store:
            result = asyncio.run(run_sources(config, store, ["a"]))["a"]
        assert b.hits("/news/khac-2") == 1  # fetched (address guard and robots applied) ...
    assert set(stored(db)) == {a.url("/news/dich-1")}  # ... but never stored
    assert result.new == 1 and result.errors == 1
    (failed,) = events.named("article_failed")
    assert failed["url"] == a.url(links[1])
    assert f"redirected to http://localhost:{b.port}/news/khac-2" in str(failed["error"])
    assert "no configured source" in str(failed["error"])


def test_a_bug_or_a_storage_error_on_one_article_stays_with_that_article(
    tmp_path: Path, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scraper.pipeline.runner as pipeline

    db = tmp_path / "q.db"
    real_extract = pipeline.extract_article

    def extract(html: str, url: str, source: object):  # type: ignore[no-untyped-def]
        if url.endswith("-2"):
            raise RuntimeError("a bug in the extractor")
        return real_extract(html, url, source)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "extract_article", extract)
    with FaultServer() as server:
        paths = [f"/news/bai-{n}" for n in range(1, 5)]
        for n, path in enumerate(paths, 1):
            server.add_page(path, article_page(f"Bài số {n} trong ngày"))
        server.add_page("/news", listing_page(paths))
        config = make_config(db, {"s": server.url("/news")})
        with open_store(config.storage.url) as store:
            real_upsert = store.upsert_article

            def upsert(article, **kw):  # type: ignore[no-untyped-def]
                if article.original_url.endswith("-3"):
                    from scraper.errors import StorageError

                    raise StorageError("database is locked")
                return real_upsert(article, **kw)

            store.upsert_article = upsert  # type: ignore[method-assign]
            result = asyncio.run(run_sources(config, store, ["s"]))["s"]
    assert set(stored(db)) == {server.url("/news/bai-1"), server.url("/news/bai-4")}
    assert result.ok and result.new == 2 and result.errors == 2
    failed = {e["url"]: e for e in events.named("article_failed")}
    assert "RuntimeError" in str(failed[server.url("/news/bai-2")]["error"])
    assert "database is locked" in str(failed[server.url("/news/bai-3")]["error"])
    assert all(e["level"] == logging.ERROR for e in failed.values())


def test_malformed_links_on_a_listing_or_in_an_article_are_skipped(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    bad = ["http://[::1/bai-1234", "https://a.vn:99999/bai-1235", "http://a.vn:port/bai-1236"]
    with FaultServer() as server:
        extra = "".join(f'<p><a href="{u}">xấu</a><img src="{u}.jpg"></p>' for u in bad)
        server.add_page("/news/bai-1", article_page("Bài có liên kết hỏng bên trong", extra=extra))
        server.add_page("/news", listing_page([*bad, "/news/bai-1"]))
        config = make_config(db, {"s": server.url("/news")})
        with open_store(config.storage.url) as store:
            result = asyncio.run(run_sources(config, store, ["s"]))["s"]
    assert result.ok and result.new == 1 and result.errors == 0
    assert set(stored(db)) == {server.url("/news/bai-1")}


def test_a_crash_outside_the_articles_is_a_failed_run_not_a_success(
    tmp_path: Path, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scraper.pipeline.runner as pipeline

    def broken_links(*args: object) -> list[str]:
        raise AttributeError("a bug in the listing code")

    monkeypatch.setattr(pipeline, "extract_links", broken_links)
    db = tmp_path / "q.db"
    with FaultServer() as server:
        server.add_page("/news", listing_page(["/news/bai-1"]))
        config = make_config(db, {"s": server.url("/news")})
        with open_store(config.storage.url) as store:
            result = asyncio.run(run_sources(config, store, ["s"]))["s"]
            health = store.source_health(["s"])[0]
    assert result.listings_ok == 1 and result.crashed and not result.ok
    assert health.consecutive_failures == 1 and health.last_success is None
    assert "AttributeError: a bug in the listing code" in str(health.last_error)
    (failed,) = events.named("source_failed")
    assert failed["level"] == logging.ERROR


def test_an_article_that_failed_for_now_is_retried_though_the_listing_is_unchanged(
    tmp_path: Path,
) -> None:
    db = tmp_path / "q.db"
    with FaultServer() as server:
        server.add_page("/news/bai-1", article_page("Bài số một trong ngày"))
        flaky = "/status/503?times=2"  # fails both attempts of the first run, then answers
        server.add_page("/news", listing_page(["/news/bai-1", flaky]))
        config = make_config(db, {"s": server.url("/news")})
        with open_store(config.storage.url) as store:
            first = asyncio.run(run_sources(config, store, ["s"]))["s"]
            assert (first.new, first.errors, first.retry_listings) == (1, 1, True)
            assert store.http_cache_get(server.url("/news")) == (None, None)
            second = asyncio.run(run_sources(config, store, ["s"]))["s"]
            assert second.listings_ok == 1 and second.new == 1 and not second.retry_listings
            assert store.http_cache_get(server.url("/news"))[0]  # now the listing is cached
            third = asyncio.run(run_sources(config, store, ["s"]))["s"]
            assert third.listings_not_modified == 1 and third.new == 0
    assert set(stored(db)) == {server.url("/news/bai-1"), server.url(flaky)}


def test_articles_beyond_the_per_run_limit_come_in_the_next_runs(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    with FaultServer() as server:
        paths = [f"/news/bai-{n}" for n in range(1, 6)]
        for n, path in enumerate(paths, 1):
            server.add_page(path, article_page(f"Bài số {n} của hôm nay"))
        server.add_page("/news", listing_page(paths))
        config = make_config(db, {"s": server.url("/news")}, max_articles_per_run=2)
        news = []
        with open_store(config.storage.url) as store:
            for _ in range(4):
                news.append(asyncio.run(run_sources(config, store, ["s"]))["s"].new)
    assert news == [2, 2, 1, 0]
    assert len(stored(db)) == 5


def test_permanent_failures_do_not_stop_conditional_listings(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    with FaultServer() as server:
        server.add_page("/news/bai-1", article_page("Bài số một trong ngày"))
        links = ["/news/bai-1", "/status/404", "/private/bai-2", "/big-length"]
        server.add_page("/news", listing_page(links))
        config = make_config(db, {"s": server.url("/news")})
        with open_store(config.storage.url) as store:
            first = asyncio.run(run_sources(config, store, ["s"]))["s"]
            second = asyncio.run(run_sources(config, store, ["s"]))["s"]
    assert first.errors == 3 and not first.retry_listings
    assert second.listings_not_modified == 1 and server.hits("/status/404") == 1


# --- several sources, some of them dead ----------------------------------------------------


@pytest.fixture
def many_sources(tmp_path: Path) -> Iterator[tuple[dict[str, str], dict[str, set[str]]]]:
    """Start URLs of good and bad sources, and the article URLs each good one offers."""
    gzip_bomb()
    with FaultServer() as a, FaultServer() as b:
        offered: dict[str, set[str]] = {}
        for server, sid, listing in ((a, "good1", "/news"), (b, "good2", "/tin")):
            paths = [f"{listing}/bai-{sid}-{n}" for n in range(1, 4)]
            for path in paths:
                server.add_page(path, article_page(f"Bài {path.rsplit('/', 1)[1]} tổng kết"))
            server.add_page(listing, listing_page(paths))
            offered[sid] = {server.url(p) for p in paths}
        sources = {
            "good1": a.url("/news"),
            "dead": f"http://127.0.0.1:{closed_port()}/tin-tuc",
            "hang": b.url("/hang-headers?s=5"),
            "bomb": b.url("/gzip-bomb"),
            "loop": b.url("/loop/a"),
            "gone": b.url("/status/404"),
            "offsite": b.url(f"/redirect?to=http://localhost:{a.port}/news"),
            "good2": b.url("/tin"),
        }
        yield sources, offered


BAD_SOURCES = ("dead", "hang", "bomb", "loop", "gone", "offsite")


def test_dead_sources_never_stop_the_others(tmp_path: Path, many_sources, events: Events) -> None:
    sources, offered = many_sources
    db = tmp_path / "q.db"
    config = make_config(db, sources)
    t0 = time.monotonic()
    with open_store(config.storage.url) as store:
        results = asyncio.run(run_sources(config, store, list(sources)))
        health = {h.source_id: h for h in store.source_health(list(sources))}
    elapsed = time.monotonic() - t0

    rows = stored(db)
    for sid in ("good1", "good2"):
        assert results[sid].ok and results[sid].new == 3 and results[sid].errors == 0
        assert {u for u, (s, _) in rows.items() if s == sid} == offered[sid]
        assert health[sid].last_success is not None and health[sid].consecutive_failures == 0
    assert set(rows) == offered["good1"] | offered["good2"]  # the off-site listing took nothing
    for sid in BAD_SOURCES:
        assert not results[sid].ok and results[sid].listings_failed == 1, sid
        assert health[sid].consecutive_failures == 1 and health[sid].last_success is None, sid
        assert health[sid].last_error, sid
    assert "redirected to http://localhost" in str(health["offsite"].last_error)
    assert elapsed < 15


def test_fetch_command_with_a_dead_source_completes_the_others(
    tmp_path: Path, many_sources
) -> None:
    sources, offered = many_sources
    db = tmp_path / "q.db"
    lines = [f'[storage]\nurl = "sqlite:///{db}"\n', "[fetch]"]
    lines += [f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in FETCH.items()]
    for sid, url in sources.items():
        lines += [
            f"\n[sources.{sid}]",
            f'name = "Nguồn {sid}"',
            f'start_urls = ["{url}"]',
            f"[sources.{sid}.profile]",
            *(f'{k} = "{v}"' for k, v in PROFILE.items()),
        ]
    cfg = tmp_path / "config.toml"
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "fetch"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]  # something failed, as documented
    assert "Traceback" not in proc.stderr
    status = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines() if line.strip()}
    assert status == {sid: ("ok" if sid.startswith("good") else "FAILED") for sid in sources}
    assert set(stored(db)) == offered["good1"] | offered["good2"]
