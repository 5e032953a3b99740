"""Load: the feed server of ``run.py run`` under ``wrk`` with 500 connections while it ingests.

The service runs against the fixture sites with one-second intervals while a new article is
published every two seconds, so stores, cache invalidations and re-renders go on during the
load.  ``wrk`` (Debian package ``wrk``) keeps ``QKFEED_LOAD_CONNECTIONS`` (default 500)
connections busy on every feed, the page, OPML and /healthz, first for a warm-up and then
for a soak of ``QKFEED_SOAK_SECONDS`` (default 20; run it by hand with 600 for ten minutes).
Checked: no connect/read/write/timeout errors and no non-2xx answer, the server really
held every connection at once, ingest went on, and the resident memory of the service after
the soak is bounded and, in a long soak, flat over its last third.

    QKFEED_SOAK_SECONDS=600 python -m pytest tests/test_load.py -s    # figures are printed
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
from churn import Publisher
from fixture_sites import FixtureSites
from service_proc import ServiceProcess, free_port, service_config

from feeds.app import create_app
from scraper.config import config_from_dict
from scraper.errors import StorageError
from scraper.models import Article
from storage import open_store

WRK = shutil.which("wrk")
CONNECTIONS = int(os.environ.get("QKFEED_LOAD_CONNECTIONS", "500"))
SOAK = float(os.environ.get("QKFEED_SOAK_SECONDS", "20"))
WARMUP = 5.0
WRK_TIMEOUT = "10s"  # a request slower than this counts as an error
# Resident memory grows while caches, the allocator's arenas and the database warm up with
# the new articles, then stays put (10 minutes by hand, 200 articles published: 139 MB after
# warm-up, 172 MB at 3 minutes, 175 MB from 6 minutes to the end).  Checked: bounded growth,
# and no growth late in a long soak.
MAX_GROWTH_MB = 48.0  # warm-up to end of soak
PLATEAU_FROM = 120.0  # a soak at least this long must end flat:
MAX_LATE_GROWTH_MB = 4.0  # growth over its last third


PATHS_LUA = """
local paths = {"/feed.atom", "/feed.rss", "/feed.json", "/", "/sources/qk3/feed.atom",
               "/feed.atom?q=bien+gioi", "/opml", "/healthz", "/feed.rss?source=qdnd"}
local counter = 0
request = function()
  counter = counter + 1
  local headers = {}
  if counter % 2 == 0 then headers["Accept-Encoding"] = "gzip" end
  return wrk.format("GET", paths[(counter % #paths) + 1], headers)
end
done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50_ms": %.1f, "p99_ms": %.1f, "max_ms": %.1f, "seconds": %.2f}\\n',
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.duration / 1e6))
end
"""


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def established(port: int) -> int:
    """Server-side TCP connections on ``port`` that are ESTABLISHED (from /proc/net)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as fh:
                next(fh)
                for line in fh:
                    fields = line.split()
                    if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        count += 1
        except FileNotFoundError:
            pass
    return count


class Sampler(threading.Thread):
    """Samples the service's memory and open connections while wrk runs."""

    def __init__(self, pid: int, port: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.port = pid, port
        self.rss: list[float] = []  # one sample every 0.5 s
        self.connections = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.rss.append(rss_mb(self.pid))
            self.connections = max(self.connections, established(self.port))


def wrk(port: int, seconds: float, script: Path) -> dict[str, float]:
    cmd = [WRK, "-t2", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "--timeout", WRK_TIMEOUT,
           "-s", str(script), f"http://127.0.0.1:{port}/"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["command"] = " ".join(cmd)  # type: ignore[assignment]
    return result


def errors(result: dict[str, float]) -> int:
    return int(sum(result[k] for k in ("connect", "read", "write", "status", "timeout")))


def articles(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.skipif(WRK is None, reason="needs wrk (Debian package wrk)")
@pytest.mark.timeout(SOAK + 180)
def test_500_connections_while_ingesting_and_flat_memory(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = CONNECTIONS * 2 + 256  # the service's sockets, wrk's, and the rest
    if soft < want:  # inherited by the service and by wrk
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    script = tmp_path / "paths.lua"
    script.write_text(PATHS_LUA, encoding="utf-8")
    db = tmp_path / "qk.db"
    with FixtureSites() as sites:
        sites.set_latency(0.02)
        port = free_port()
        text = service_config(sites.config_text(f"sqlite:///{db}"), port=port, interval=1)
        with ServiceProcess(text, tmp_path / "svc") as svc:
            assert svc.proc is not None
            pid = svc.proc.pid
            svc.wait_healthy(lambda doc: all(s["last_success"] for s in doc["sources"].values()))
            with Publisher(sites, every=2.0) as publisher:
                warm = wrk(port, WARMUP, script)
                before = rss_mb(pid)
                stored_before = articles(db)
                sampler = Sampler(pid, port)
                sampler.start()
                try:
                    soak = wrk(port, SOAK, script)
                finally:
                    sampler.stop.set()
                    sampler.join(5)
                after = rss_mb(pid)
                stored_after = articles(db)
                published = len(publisher.published)
            for path in ("/feed.atom", "/feed.rss"):
                assert feedparser.parse(svc.fetch(path)).bozo == 0
            log = svc.log()
            code = svc.terminate()

    figures = {
        "connections": CONNECTIONS,
        "held_at_once": sampler.connections,
        "warmup": warm,
        "soak": soak,
        "requests_per_s": round(soak["requests"] / soak["seconds"]),
        "rss_mb_after_warmup": round(before, 1),
        "rss_mb_after_soak": round(after, 1),
        "rss_mb_max": round(max(sampler.rss, default=after), 1),
        "rss_mb_every_30s": [round(x, 1) for x in sampler.rss[::60]],
        "articles_stored_during_soak": stored_after - stored_before,
        "articles_published": published,
    }
    print("load figures:", json.dumps(figures, ensure_ascii=False, indent=1))
    assert errors(warm) == 0 and errors(soak) == 0, figures
    assert soak["requests"] >= 20 * soak["seconds"], figures
    assert sampler.connections >= CONNECTIONS, figures  # every connection held at once
    assert stored_after > stored_before, figures  # the fetch kept writing under load
    assert after - before <= MAX_GROWTH_MB, figures
    if SOAK >= PLATEAU_FROM:
        last_third = sampler.rss[len(sampler.rss) * 2 // 3 :]
        assert max(last_third) - last_third[0] <= MAX_LATE_GROWTH_MB, figures
    assert code == 0
    assert "Traceback" not in log and "level=error" not in log


# --- what the load showed: a store change made every open connection render -------------------


def _article(n: int) -> Article:
    return Article(
        url=f"https://quankhu3.vn/chinh-tri-xa-hoi/bai-{n}",
        source_id="qk3",
        title=f"Bài số {n} về huấn luyện",
        published=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=n),
        body_html="<p>Nội dung.</p>" * 50,
        body_text="Nội dung. " * 50,
        fingerprint=f"f{n}",
    )


def test_concurrent_misses_share_one_render(tmp_path: Path) -> None:
    """500 requests arriving right after a store change render the feed once, not 500 times."""
    config = config_from_dict(
        {"sources": {"qk3": {"name": "Quân khu 3", "start_urls": ["https://quankhu3.vn/x"]}}}
    )
    with open_store(f"sqlite:///{tmp_path / 'q.db'}") as store:
        for n in range(30):
            store.upsert_article(_article(n))
        app = create_app(config, store, base_url="http://feeds.test")
        metrics = app.state.metrics

        async def burst(path: str, n: int) -> set[str]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://feeds.test"
            ) as client:
                answers = await asyncio.gather(*(client.get(path) for _ in range(n)))
            assert {r.status_code for r in answers} == {200}
            return {r.headers["etag"] for r in answers}

        assert len(asyncio.run(burst("/feed.atom", 500))) == 1
        assert metrics.renders == 1 and metrics.cache_hits == 499
        store.upsert_article(_article(99))  # a new version: every cached document is stale
        assert len(asyncio.run(burst("/feed.atom", 200))) == 1
        assert len(asyncio.run(burst("/", 200))) == 1
        assert metrics.renders == 3
        assert app.state.in_flight == {}  # nothing left behind


def test_a_failed_shared_render_fails_every_waiter_and_is_not_kept(tmp_path: Path) -> None:
    config = config_from_dict(
        {"sources": {"qk3": {"name": "Quân khu 3", "start_urls": ["https://quankhu3.vn/x"]}}}
    )
    with open_store(f"sqlite:///{tmp_path / 'q.db'}") as store:
        store.upsert_article(_article(1))
        app = create_app(config, store, base_url="http://feeds.test")
        real_latest = store.latest
        calls = []

        def failing_latest(**kw: object) -> object:
            calls.append(kw)
            if len(calls) == 1:
                time.sleep(0.2)  # while the others pile up behind this render
                raise StorageError("database is locked")
            return real_latest(**kw)  # type: ignore[arg-type]

        store.latest = failing_latest  # type: ignore[method-assign]

        async def burst() -> list[int]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://feeds.test"
            ) as client:
                return [
                    r.status_code
                    for r in await asyncio.gather(*(client.get("/feed.json") for _ in range(50)))
                ]

        assert asyncio.run(burst()) == [503] * 50
        assert asyncio.run(burst()) == [200] * 50
        assert len(calls) == 2
