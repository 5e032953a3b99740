"""Load: the feed server of ``run.py run`` under ``wrk`` with 500 connections while it ingests.

The service runs against the fixture sites with one-second intervals while a new article is
published every two seconds, so stores, cache invalidations and re-renders go on during the
load.  ``wrk`` (Debian package ``wrk``) keeps ``QKFEED_LOAD_CONNECTIONS`` (default 500)
connections busy on every feed, the page, OPML and /healthz, first for a warm-up and then
for a soak of ``QKFEED_SOAK_SECONDS`` (default 20; run it by hand with 600 for ten minutes).
Checked: no connect/read/write/timeout errors and no non-2xx answer, the server really
held every connection at once, ingest went on, and the resident memory of the service after
the soak is within a few megabytes of what it was after the warm-up.

    QKFEED_SOAK_SECONDS=600 python -m pytest tests/test_load.py -s    # figures are printed
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import feedparser
import pytest
from churn import Publisher
from fixture_sites import FixtureSites
from service_proc import ServiceProcess, free_port, service_config

WRK = shutil.which("wrk")
CONNECTIONS = int(os.environ.get("QKFEED_LOAD_CONNECTIONS", "500"))
SOAK = float(os.environ.get("QKFEED_SOAK_SECONDS", "20"))
WARMUP = 5.0
WRK_TIMEOUT = "10s"  # a request slower than this counts as an error
MAX_GROWTH_MB = 24.0  # resident memory may move this much between warm-up and the end

pytestmark = [
    pytest.mark.skipif(WRK is None, reason="needs wrk (Debian package wrk)"),
    pytest.mark.timeout(SOAK + 180),
]

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
        self.rss: list[float] = []
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
        "articles_stored_during_soak": stored_after - stored_before,
        "articles_published": published,
    }
    print("load figures:", json.dumps(figures, ensure_ascii=False, indent=1))
    assert errors(warm) == 0 and errors(soak) == 0, figures
    assert soak["requests"] >= 20 * soak["seconds"], figures
    assert sampler.connections >= CONNECTIONS, figures  # every connection held at once
    assert stored_after > stored_before, figures  # the fetch kept writing under load
    assert after - before <= MAX_GROWTH_MB, figures
    assert code == 0
    assert "Traceback" not in log and "level=error" not in log
