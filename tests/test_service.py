"""``run.py run`` as a user runs it: a subprocess against the fixture sites, stopped with SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import feedparser
import httpx
import pytest
from conftest import ROOT

SEED = "/chinh-tri-xa-hoi/bo-tham-muu-quan-khu-tong-ket-cong-tac-dang-cong-tac-chinh-tri-nam-2023-4048"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], object], timeout: float, what: str, proc: subprocess.Popen | None = None) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"service exited early ({proc.returncode}) while waiting for {what}")
        try:
            last = check()
            if last:
                return last
        except (httpx.HTTPError, OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def write_config(sites, tmp_path: Path, port: int, interval: str = "3s") -> Path:
    text = sites.config_text(f"sqlite:///{tmp_path / 'qk.db'}")
    text = re.sub(r"(?m)^interval = .*$", f'interval = "{interval}"', text)
    text = re.sub(r"(?m)^port = .*$", f"port = {port}", text)
    cfg = tmp_path / "config.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def start(cfg: Path, tmp_path: Path) -> subprocess.Popen:
    with open(tmp_path / "service.log", "ab") as log:  # the child keeps its own copy of the handle
        return subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "run"],
                                cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen, tmp_path: Path) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("service did not exit within 15 s of SIGTERM") from None


def runs_done(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "qk.db") as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM runs WHERE source_id = 'qk3'").fetchone()[0]
        except sqlite3.OperationalError:  # the file exists, the service is still migrating it
            return 0


def duplicates(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "qk.db") as conn:
        return conn.execute("SELECT COUNT(*) - COUNT(DISTINCT url) FROM articles").fetchone()[0]


def test_service_lifecycle(fresh_sites, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = write_config(fresh_sites, tmp_path, port)
    proc = start(cfg, tmp_path)
    try:
        # two full cycles of every source
        wait_for(lambda: (tmp_path / "qk.db").exists() and runs_done(tmp_path) >= 2, 60, "two cycles", proc)
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200
        assert all(s["last_success"] for s in health.json()["sources"].values())

        atom = httpx.get(f"{base}/feed.atom", timeout=5)
        assert atom.headers["content-type"].startswith("application/atom+xml")
        parsed = feedparser.parse(atom.content)
        assert parsed.bozo == 0
        count = len(parsed.entries)
        assert count >= 8
        # an unchanged site costs one 304 per listing page on the later cycles
        listing_hits = [h for h in fresh_sites.hits("qk3") if h[1] == "/chinh-tri-xa-hoi"]
        assert any(status == 304 for _, _, status in listing_hits)

        # a new article on the listing shows up in the served feed
        template = (ROOT / "tests/fixtures/sites/qk3" / fresh_sites.manifest("qk3")["routes"][SEED]).read_text("utf-8")
        new_path = "/chinh-tri-xa-hoi/hoi-nghi-quan-chinh-quan-khu-nam-2024-9100"
        page = (template.replace("Bộ Tham mưu Quân khu: Tổng kết", "Hội nghị Quân chính Quân khu: Tổng kết")
                .replace(SEED, new_path).replace("/node/4048", "/node/9100"))
        fresh_sites.add_article("qk3", new_path, page, "/chinh-tri-xa-hoi")

        def seen_new() -> bool:
            feed = feedparser.parse(httpx.get(f"{base}/feed.atom", timeout=5).content)
            return any(e.title.startswith("Hội nghị Quân chính Quân khu") for e in feed.entries)

        wait_for(seen_new, 30, "the new article in the feed", proc)
        etag = httpx.get(f"{base}/feed.atom", timeout=5).headers["etag"]
        assert httpx.get(f"{base}/feed.atom", headers={"If-None-Match": etag}, timeout=5).status_code == 304
    finally:
        code = stop(proc, tmp_path)
    log = (tmp_path / "service.log").read_text("utf-8", "replace")
    assert code == 0, log[-3000:]
    assert "Traceback" not in log
    assert "event=service_stopped" in log
    assert duplicates(tmp_path) == 0

    # a restart picks up where it left off: nothing new, nothing duplicated
    with sqlite3.connect(tmp_path / "qk.db") as conn:
        before = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    proc = start(cfg, tmp_path)
    try:
        runs_before = runs_done(tmp_path)
        wait_for(lambda: runs_done(tmp_path) > runs_before, 30, "a cycle after restart", proc)
        feed = feedparser.parse(httpx.get(f"{base}/feed.atom", timeout=5).content)
        assert len(feed.entries) == count + 1
    finally:
        assert stop(proc, tmp_path) == 0
    with sqlite3.connect(tmp_path / "qk.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == before
    assert duplicates(tmp_path) == 0


def test_port_in_use_is_one_clear_error(fixture_sites, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        cfg = write_config(fixture_sites, tmp_path, port)
        proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "run"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert not (tmp_path / "qk.db").exists()  # the port is checked before the store is created


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_fetch_exits_zero(fresh_sites, tmp_path: Path, sig: signal.Signals) -> None:
    fresh_sites.set_latency(0.3)  # keep fetches in flight when the signal lands
    port = free_port()
    cfg = write_config(fresh_sites, tmp_path, port)
    proc = start(cfg, tmp_path)
    wait_for(lambda: any(fresh_sites.hits(s) for s in fresh_sites.site_ids), 30, "the first fetch", proc)
    time.sleep(0.5)
    proc.send_signal(sig)
    assert proc.wait(timeout=15) == 0
    log = (tmp_path / "service.log").read_text("utf-8", "replace")
    assert "Traceback" not in log
    with sqlite3.connect(tmp_path / "qk.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("args", [["feed", "--limit", "0"], ["backfill", "qk3", "--pages", "-1"], ["search", "x", "--limit", "-5"]])
def test_counts_must_be_positive(fixture_sites, tmp_path: Path, args: list[str]) -> None:
    cfg = write_config(fixture_sites, tmp_path, free_port())
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "must be 1 or more" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_fills_the_page(tmp_path: Path) -> None:
    from fixture_sites import all_site_ids
    from service_proc import free_ports

    port = free_ports(1 + len(all_site_ids()))  # the demo, then its sample sites
    with open(tmp_path / "demo.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(ROOT / "config.toml"),
                                 "demo", "--port", str(port), "--db", str(tmp_path / "demo.db")],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log)
    try:
        def filled() -> bool:
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
            return all(s["last_success"] for s in health["sources"].values())

        wait_for(filled, 60, "every demo source", proc)
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
        assert "Bộ Tham mưu Quân khu: Tổng kết công tác đảng, công tác chính trị năm 2023" in page
        feed = json.loads(httpx.get(f"http://127.0.0.1:{port}/feed.json", timeout=5).text)
        assert len(feed["items"]) >= 10
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
