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
import contextlib
import http.client
import json
import logging
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from churn import Publisher
from fixture_sites import FixtureSites
from service_proc import ServiceProcess, free_port, service_config, wait_for

from feeds.app import create_app
from feeds.logcap import RepeatFilter
from scraper.config_load import config_from_dict
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


# -- bounded requests ([server] header_timeout, max_header_bytes, max_connections) ----------------

HEAD_TIMEOUT = 2.0  # [server] header_timeout of these tests, seconds
ANSWER_BOUND = 15.0  # a normal request meanwhile must be answered within this (generous) time
HEAD_MB_BOUND = 100.0  # RSS growth allowed while endless heads pour in (a head is capped at ~400 KB)


def _bounded_config(db: Path, port: int, **server: Any) -> str:
    extra = "".join(f"{key} = {value}\n" for key, value in server.items())
    return (
        f'[storage]\nurl = "sqlite:///{db}"\n\n[server]\nhost = "127.0.0.1"\nport = {port}\n'
        f"header_timeout = {HEAD_TIMEOUT}\n{extra}\n"
        '[sources.qk3]\nname = "Quân khu 3"\nstart_urls = ["https://quankhu3.vn/chinh-tri-xa-hoi"]\n'
        "enabled = false\n"
    )


def _bounded_service(tmp_path: Path, **kwargs: Any) -> ServiceProcess:
    db = tmp_path / "q.db"
    with open_store(f"sqlite:///{db}") as store:
        for n in range(5):
            store.upsert_article(_article(n))
    nofile = kwargs.pop("nofile", None)
    return ServiceProcess(_bounded_config(db, free_port(), **kwargs), tmp_path / "svc", nofile=nofile)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """True if the server closes ``sock`` within ``within`` seconds (answers before it are read)."""
    deadline = time.monotonic() + within
    while True:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except OSError:  # reset
            return True
        if time.monotonic() >= deadline:
            return False


def _normal_request(port: int) -> tuple[int, float]:
    """One ``GET /feed.atom`` on a new connection: (status, seconds)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_BOUND)
    try:
        conn.request("GET", "/feed.atom")
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        conn.close()


def _fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_slow_silent_and_endless_heads_leave_normal_clients_served(tmp_path: Path) -> None:
    with _bounded_service(tmp_path) as svc:
        assert svc.proc is not None
        pid = svc.proc.pid
        rss_before = rss_mb(pid)
        silent = [_connect(svc.port) for _ in range(200)]
        slow = [_connect(svc.port) for _ in range(100)]
        for sock in slow:
            sock.sendall(b"GET /feed.atom HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        idle = _connect(svc.port)  # one answer, then an idle keep-alive connection
        idle.sendall(b"GET /feed.atom HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        stop = threading.Event()
        ended: list[bool] = []

        def drip() -> None:  # one byte per socket every 0.2 s: the head never completes in time
            while not stop.is_set():
                for sock in slow:
                    with contextlib.suppress(OSError):
                        sock.send(b"a")
                time.sleep(0.2)

        def endless() -> None:  # a head that never ends
            sock = _connect(svc.port)
            chunk = b"X-Endless: " + b"a" * 65536 + b"\r\n"
            try:
                sock.sendall(b"GET /feed.atom HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                while not stop.is_set():
                    sock.sendall(chunk)
            except OSError:
                ended.append(True)
            finally:
                sock.close()

        workers = [threading.Thread(target=drip, daemon=True)]
        workers += [threading.Thread(target=endless, daemon=True) for _ in range(5)]
        for worker in workers:
            worker.start()
        try:
            latencies = []
            for _ in range(10):
                status, seconds = _normal_request(svc.port)
                assert status == 200
                latencies.append(seconds)
                time.sleep(0.2)
            print(f"normal client meanwhile: max {max(latencies) * 1000:.0f} ms")  # noqa: T201
            grown = rss_mb(pid) - rss_before
            assert grown < HEAD_MB_BOUND, f"the service grew {grown:.0f} MB for endless heads"
            # every connection that did not send a whole head in time is closed
            assert all(_closed_by_server(s, HEAD_TIMEOUT + 5) for s in silent)
            assert all(_closed_by_server(s, HEAD_TIMEOUT + 5) for s in slow)
            assert _closed_by_server(idle, HEAD_TIMEOUT + 5)
            deadline = time.monotonic() + HEAD_TIMEOUT + 10
            while len(ended) < 5:
                assert time.monotonic() < deadline, "an endless head was never cut off"
                time.sleep(0.1)
        finally:
            stop.set()
            for sock in [*silent, *slow, idle]:
                sock.close()
            for worker in workers:
                worker.join(10)
        assert _normal_request(svc.port)[0] == 200
        log = svc.log()
        assert svc.terminate() == 0
    assert "Traceback" not in log


def test_a_head_over_max_header_bytes_gets_431_and_a_close(tmp_path: Path) -> None:
    with _bounded_service(tmp_path, max_header_bytes=16384) as svc:
        for size, status in ((8000, 200), (20000, 431), (2_000_000, 431)):
            sock = _connect(svc.port)
            try:
                head = b"GET /feed.atom HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * size
                with contextlib.suppress(OSError):  # the server may stop reading a huge head
                    sock.sendall(head + b"\r\n\r\n")
                answer = b""
                with contextlib.suppress(OSError):
                    answer = sock.recv(200)
                assert answer.startswith(b"HTTP/1.1 %d " % status), (size, answer[:80])
                if status == 431:
                    assert _closed_by_server(sock, 5)
            finally:
                sock.close()
        assert svc.terminate() == 0


def test_connections_beyond_max_connections_take_no_descriptor(tmp_path: Path) -> None:
    with _bounded_service(tmp_path, max_connections=50) as svc:
        assert svc.proc is not None
        pid = svc.proc.pid
        before = _fd_count(pid)
        held = [_connect(svc.port) for _ in range(150)]
        try:
            time.sleep(0.5)
            held_fds = _fd_count(pid) - before
            assert held_fds <= 50 + 2, f"{held_fds} descriptors for 150 connections (limit 50)"
            # a normal client waits its turn: the silent ones time out after header_timeout
            status, seconds = _normal_request(svc.port)
            assert status == 200
            print(f"normal client behind 150 idle connections: {seconds * 1000:.0f} ms")  # noqa: T201
        finally:
            for sock in held:
                sock.close()
        assert svc.terminate() == 0


def test_running_out_of_descriptors_is_logged_once_a_minute(tmp_path: Path) -> None:
    with _bounded_service(tmp_path, nofile=120) as svc:
        held = []
        try:
            for _ in range(300):  # far more than the service may open
                held.append(_connect(svc.port))
            time.sleep(4)  # the server keeps failing to accept meanwhile
        finally:
            for sock in held:
                sock.close()
        wait_for(lambda: _normal_request(svc.port)[0] == 200, 30, "the service to answer again")
        log = svc.log()
        assert svc.terminate() == 0
    floods = [line for line in log.splitlines() if "Too many open files" in line]
    assert 1 <= len(floods) <= 2, floods  # the first, perhaps one more with its count


def test_a_repeated_error_is_one_line_a_minute_with_its_count() -> None:
    now = [0.0]
    flt = RepeatFilter(interval=60, clock=lambda: now[0])

    def record(msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("x", logging.ERROR, __file__, 1, msg, args, None)

    assert flt.filter(record("accept failed: %s", "EMFILE"))
    passed = [flt.filter(record("accept failed: %s", "EMFILE")) for _ in range(1000)]
    assert not any(passed)
    assert flt.filter(record("another error"))  # another kind is not held back
    now[0] = 61.0
    again = record("accept failed: %s", "EMFILE")
    assert flt.filter(again)
    assert again.getMessage() == "accept failed: EMFILE (repeated 1000 times since the last line)"
    structured = logging.LogRecord("x", logging.ERROR, __file__, 1, "http_server", (), None)
    structured.qk_fields = {"message": "m"}
    assert flt.filter(structured)
    flt.filter(structured)
    now[0] = 200.0
    assert flt.filter(structured) and structured.qk_fields == {"message": "m", "repeated": 1}
