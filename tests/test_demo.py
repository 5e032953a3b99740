"""``run.py demo``: stable sample-site URLs across restarts, ``--config`` honoured, nothing
announced before it is true (a taken port: one line, exit 1, no "open http://…")."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fixture_sites import toml_dumps
from service_proc import child_env, free_ports, wait_for

ROOT = Path(__file__).resolve().parent.parent

def demo_config() -> str:
    """Two of the bundled config's sources (with their profiles), one without sample pages,
    and a feed title of its own: what the demo must honour."""
    data = tomllib.loads((ROOT / "config.toml").read_text("utf-8"))
    sources = {sid: data["sources"][sid] for sid in ("qk3", "qk7")}
    sources["other"] = {"name": "A site without sample pages", "start_urls": ["https://example.org/news"]}
    return toml_dumps({"feed": {"title": "Bản tin thử của demo"}, "sources": sources})


CONFIG = demo_config()


def demo(tmp: Path, cfg: Path, port: int, db: Path | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "demo", "--port", str(port)]
    if db is not None:
        args += ["--db", str(db)]
    with open(tmp / f"demo-{len(list(tmp.glob('demo-*.log')))}-{port}.log", "wb") as log:
        return subprocess.Popen(args, cwd=tmp, stdout=subprocess.DEVNULL, stderr=log, env=child_env())


def last_log(tmp: Path) -> str:
    return sorted(tmp.glob("demo-*.log"))[-1].read_text("utf-8")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def articles(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(url for (url,) in conn.execute("SELECT url FROM articles"))


def test_a_restarted_demo_keeps_its_urls_and_honours_its_config(tmp_path: Path) -> None:
    cfg = tmp_path / "demo.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    db = tmp_path / "demo.db"
    port = free_ports(3)  # the demo, then its two sample sites
    proc = demo(tmp_path, cfg, port, db)
    try:
        def ran_all() -> bool:
            done = set(re.findall(r"event=source_done source=(\w+) ok=True new=[1-9]", last_log(tmp_path)))
            return done == {"qk3", "qk7"}

        wait_for(ran_all, 60, "every demo source")
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        assert set(health["sources"]) == {"qk3", "qk7"}  # the file's sources with sample pages
        feed = json.loads(httpx.get(f"http://127.0.0.1:{port}/feed.json", timeout=5).text)
        assert feed["title"] == "Bản tin thử của demo"
    finally:
        stop(proc)
    first = articles(db)
    sites = dict(re.findall(r"event=demo_site source=(\w+) url=(\S+)", last_log(tmp_path)))
    assert first and all(any(u.startswith(base + "/") for base in sites.values()) for u in first)

    # restarted on the same --port and --db: the sample sites are where they were, so a pass over
    # them (the demo itself waits an interval before it runs them again) stores nothing again
    proc = demo(tmp_path, cfg, port, db)
    try:
        wait_for(lambda: "qkfeed demo: open" in last_log(tmp_path), 30, "the demo's announcement")
        assert dict(re.findall(r"event=demo_site source=(\w+) url=(\S+)", last_log(tmp_path))) == sites
        data = tomllib.loads(CONFIG)
        data["storage"] = {"url": f"sqlite:///{db}"}
        data["fetch"] = {"allow_private_networks": True, "per_host_delay": 0.0}
        for sid, base in sites.items():
            data["sources"][sid]["start_urls"] = [base + urlsplit(u).path for u in data["sources"][sid]["start_urls"]]
        del data["sources"]["other"]
        again = tmp_path / "again.toml"
        again.write_text(toml_dumps(data), encoding="utf-8")
        fetch = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(again), "fetch"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120, env=child_env())
        assert fetch.returncode == 0, fetch.stdout + fetch.stderr
        lines = fetch.stdout.splitlines()
        assert len(lines) == 2 and all(" ok " in line and "new=0 " in line for line in lines), fetch.stdout
    finally:
        stop(proc)
    assert articles(db) == first


def _one_line_and_no_announcement(proc: subprocess.Popen[bytes], tmp: Path) -> str:
    assert proc.wait(timeout=30) == 1
    log = last_log(tmp)
    lines = [line for line in log.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), log
    assert "open http" not in log
    return lines[0]


def test_a_taken_demo_port_is_one_line_before_any_announcement(tmp_path: Path) -> None:
    cfg = tmp_path / "demo.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        line = _one_line_and_no_announcement(demo(tmp_path, cfg, port), tmp_path)
    assert f"cannot listen on 127.0.0.1:{port}" in line


def test_a_taken_sample_site_port_is_one_line_before_any_announcement(tmp_path: Path) -> None:
    cfg = tmp_path / "demo.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    port = free_ports(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port + 2))
        taken.listen(1)
        line = _one_line_and_no_announcement(demo(tmp_path, cfg, port), tmp_path)
    assert "cannot serve the sample sites" in line and "--port" in line
