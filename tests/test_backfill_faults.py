"""Backfill faults (issue 15): progress past unsettled pages, endless pagination, signals.

Real parts only: a generated news site served on 127.0.0.1 by a threaded HTTP server,
``run.py backfill`` as a subprocess (signalled as a user or a supervisor would), and
its SQLite file read by the test.

- a page where articles fail transiently is not saved as done: interrupted (SIGTERM)
  and resumed, the backfill ends with every article stored;
- endless pagination, a next-link cycle and ``--max-pages`` end the walk with a note;
- SIGINT/SIGTERM stop at an article boundary: summary, run recorded, lease released,
  exit 130/143; the resumed progress bar starts at the pages already done.
"""

from __future__ import annotations

import fcntl
import os
import pty
import random
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import ROOT
from faultserver import VI_TEXT

PAGE_SIZE = 20
WORDS = VI_TEXT.replace(",", "").replace(";", "").replace(".", "").split()


class GeneratedSite:
    """``count`` articles, ``PAGE_SIZE`` per listing page at /news?page=N (rel=next links).

    ``fail_once``: article numbers that answer 503 the first time they are asked for (and
    ``listing_fails_once``: listing page numbers);
    ``pagination``: "finite", "endless" (every page lists the same articles and links to
    the next), "endless-fresh" (every page lists new ones) or "cycle" (page 1 links back
    to page 0); ``delay``: seconds before each article answer.
    """

    def __init__(self, count: int = 400, *, fail_once: set[int] = frozenset(), pagination: str = "finite",
                 delay: float = 0.0, listing_fails_once: set[int] = frozenset()) -> None:
        self.count = count
        self.fail_once = set(fail_once)
        self.listing_fails_once = set(listing_fails_once)
        self.pagination = pagination
        self.delay = delay
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                status, body = site.answer(self.path)
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def listing_hits(self) -> int:
        with self.lock:
            return sum(n for path, n in self.hits.items() if path.startswith("/news"))

    def answer(self, target: str) -> tuple[int, str]:
        parts = urlsplit(target)
        with self.lock:
            self.hits[target] += 1
            asked = self.hits[target]
        if parts.path == "/news":
            page = int(parse_qs(parts.query).get("page", ["0"])[0])
            if page in self.listing_fails_once and asked == 1:
                return 503, "<html><body>busy</body></html>"
            return 200, self.listing(page)
        m = re.fullmatch(r"/a/(\d+)", parts.path)
        if m is None or int(m.group(1)) >= self.count and self.pagination != "endless-fresh":
            return 404, "<html><body>not found</body></html>"
        number = int(m.group(1))
        time.sleep(self.delay)
        if number in self.fail_once and asked == 1:
            return 503, "<html><body>busy</body></html>"
        return 200, self.article(number)

    def listing(self, page: int) -> str:
        if self.pagination == "endless":
            numbers = range(PAGE_SIZE)
        else:
            numbers = range(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)
            if self.pagination == "finite":
                numbers = range(numbers.start, min(numbers.stop, self.count))
        links = "".join(f'<li><a href="/a/{n}">Tin số {n}</a></li>' for n in numbers)
        following = {"cycle": (page + 1) % 2}.get(self.pagination, page + 1)
        more = self.pagination != "finite" or (page + 1) * PAGE_SIZE < self.count
        href = "/news" if following == 0 else f"/news?page={following}"  # a cycle leads back to the start URL
        nav = f'<a rel="next" href="{href}">Sau</a>' if more else ""
        return f"<html><body><ul class='list'>{links}</ul><nav>{nav}</nav></body></html>"

    def article(self, n: int) -> str:
        rng = random.Random(n)  # prose of its own, so no two articles look like copies
        paragraphs = "".join("<p>" + " ".join(rng.choices(WORDS, k=60)).capitalize() + ".</p>" for _ in range(4))
        day = 1 + n % 28
        return (f"<html><head><title>Tin số {n}</title></head><body>"
                f"<h1 class='title'>Tin số {n}: {' '.join(rng.choices(WORDS, k=8))}</h1>"
                f"<div class='date'>{day:02d}/01/2024 10:{n % 60:02d}</div>"
                f"<div class='body'>{paragraphs}</div></body></html>")

    def __enter__(self) -> GeneratedSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_config(path: Path, db: Path, site: GeneratedSite) -> Path:
    path.write_text(f"""
[storage]
url = "sqlite:///{db}"

[fetch]
allow_private_networks = true
per_host_delay = 0
per_host_concurrency = 4
retries = 0
respect_robots = false
timeout = 5
deadline = 10

[sources.gen]
name = "Generated"
start_urls = ["{site.base}/news"]
interval = "30m"

[sources.gen.profile]
links = "ul.list a"
title = "h1.title"
date = "div.date"
body = "div.body"
""", encoding="utf-8")
    return path


def backfill(cfg: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "backfill", "gen", *args],
                            cwd=cfg.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def on_a_terminal(cfg: Path, *args: str, timeout: float = 180) -> tuple[int, str, str]:
    """A backfill whose standard error is a pseudo-terminal (as when a user types it)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal has a size
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "backfill", "gen", *args],
                            cwd=cfg.parent, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
        reader.join(10)
    finally:
        os.close(master)
    return proc.returncode, out, b"".join(chunks).decode("utf-8", "replace")


def query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(sql).fetchall()


def articles(db: Path) -> int:
    return query(db, "SELECT count(*) FROM articles")[0][0]


def pages_saved(db: Path) -> int:
    import json

    rows = query(db, "SELECT state FROM backfill_state WHERE source_id = 'gen'")
    return int(json.loads(rows[0][0]).get("done", 0)) if rows else 0


def signal_when(proc: subprocess.Popen[str], sig: int, ready, timeout: float = 120) -> None:
    """Send ``sig`` once ``ready()`` is true (the backfill is well under way)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the backfill ended before it could be interrupted"
        assert time.monotonic() < deadline, "the backfill made no progress"
        time.sleep(0.02)
    proc.send_signal(sig)


def tables_ready(db: Path) -> bool:
    try:
        return bool(query(db, "SELECT 1 FROM sqlite_master WHERE name = 'backfill_state'"))
    except sqlite3.Error:
        return False


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "qk.db"


def assert_lease_free_and_run_recorded(db: Path) -> None:
    assert query(db, "SELECT holder FROM source_leases WHERE source_id = 'gen'") == [(None,)]
    assert query(db, "SELECT count(*) FROM runs WHERE source_id = 'gen'")[0][0] >= 1


def test_transient_failures_then_sigterm_then_resume_stores_every_article(tmp_path: Path, db: Path) -> None:
    failing = {5, 47, 93}  # on pages 0, 2 and 4: each answers 503 once
    with GeneratedSite(400, fail_once=failing, delay=0.01) as site:
        cfg = write_config(tmp_path / "config.toml", db, site)
        proc = backfill(cfg, "--pages", "20", "--quiet")
        signal_when(proc, signal.SIGTERM, lambda: tables_ready(db) and articles(db) >= 150)
        code, out, err = finish(proc)
        assert code == 143, out + err
        assert "Traceback" not in err
        summary = re.search(r"gen: new=(\d+) updated=\d+ unchanged=\d+ errors=(\d+)", out)
        assert summary is not None, out
        assert int(summary.group(2)) >= len(failing), out  # the first run reports its errors
        assert "interrupted by SIGTERM" in err
        assert_lease_free_and_run_recorded(db)
        assert pages_saved(db) == 0  # page 0 held an article that failed: nothing past it is done
        first = articles(db)
        assert first < 400

        code, out, err = finish(backfill(cfg, "--pages", "20", "--quiet"))
        assert code == 0, out + err
        assert "errors=0" in out, out
        assert articles(db) == 400
        assert query(db, "SELECT count(*) FROM backfill_state") == [(0,)]  # finished: nothing to resume


def test_a_failure_left_at_the_end_exits_1_and_the_next_run_retries_that_page(tmp_path: Path, db: Path) -> None:
    with GeneratedSite(60, fail_once={45}) as site:  # page 2 of 3
        cfg = write_config(tmp_path / "config.toml", db, site)
        code, out, err = finish(backfill(cfg, "--pages", "3", "--quiet"))
        assert code == 1, out + err
        assert "errors=1" in out and "1 listing page(s)" in out, out
        assert articles(db) == 59
        assert pages_saved(db) == 2  # pages 0 and 1 are done, page 2 is not
        code, out, err = finish(backfill(cfg, "--pages", "3", "--quiet"))
        assert code == 0, out + err
        assert "new=1" in out, out
        assert articles(db) == 60
        assert site.hits["/news"] == 1  # the resume started at page 2 (the start URL is page 0)
        assert site.hits["/news?page=2"] == 2


def test_a_listing_page_that_failed_transiently_is_where_the_next_run_goes_on(tmp_path: Path, db: Path) -> None:
    with GeneratedSite(60, listing_fails_once={1}) as site:
        cfg = write_config(tmp_path / "config.toml", db, site)
        code, out, err = finish(backfill(cfg, "--pages", "3", "--quiet"))
        assert code == 1, out + err
        assert "errors=1" in out, out
        assert articles(db) == 20 and pages_saved(db) == 1
        code, out, err = finish(backfill(cfg, "--pages", "3", "--quiet"))
        assert code == 0, out + err
        assert articles(db) == 60
        assert site.hits["/news"] == 1 and site.hits["/news?page=1"] == 2


def test_sigint_stops_at_an_article_boundary_and_the_resumed_bar_counts_the_pages_done(tmp_path: Path, db: Path) -> None:
    with GeneratedSite(400, delay=0.02) as site:
        cfg = write_config(tmp_path / "config.toml", db, site)
        proc = backfill(cfg, "--pages", "20")
        signal_when(proc, signal.SIGINT, lambda: tables_ready(db) and pages_saved(db) >= 4)
        code, out, err = finish(proc)
        assert code == 130, out + err
        assert "Traceback" not in err
        assert re.search(r"gen: new=\d+ ", out), out
        assert_lease_free_and_run_recorded(db)
        done = pages_saved(db)
        stored = articles(db)
        assert done >= 4 and stored >= done * PAGE_SIZE
        # no article half-written: every stored one has its title and body
        assert query(db, "SELECT count(*) FROM articles WHERE title = '' OR body_text = ''") == [(0,)]

        code, out, err = on_a_terminal(cfg, "--pages", "20")  # tqdm draws its bar on a terminal only
        assert code == 0, out + err
        counts = [int(n) for n in re.findall(r"(\d+)/20 ", err)]
        assert counts and counts[0] == done, err[-2000:]  # the bar starts at the pages already done
        assert counts[-1] == 20
        assert articles(db) == 400


@pytest.mark.parametrize(("pagination", "note"), [
    ("endless", "3 listing pages in a row brought no article not seen earlier"),
    ("cycle", "walked already (a pagination cycle)"),
])
def test_endless_or_cyclic_pagination_ends(tmp_path: Path, db: Path, pagination: str, note: str) -> None:
    with GeneratedSite(400, pagination=pagination) as site:
        cfg = write_config(tmp_path / "config.toml", db, site)
        code, out, err = finish(backfill(cfg, "--since", "2000-01-01", "--quiet"), timeout=60)
        assert code == 0, out + err
        assert note in out, out
        assert "backfill_walk_stopped" in err
        listings = site.listing_hits()
        assert listings == (4 if pagination == "endless" else 2), site.hits
        assert articles(db) == (PAGE_SIZE if pagination == "endless" else 2 * PAGE_SIZE)


def test_max_pages_caps_an_endless_walk_of_fresh_articles(tmp_path: Path, db: Path) -> None:
    with GeneratedSite(400, pagination="endless-fresh") as site:
        cfg = write_config(tmp_path / "config.toml", db, site)
        code, out, err = finish(backfill(cfg, "--since", "2000-01-01", "--max-pages", "5", "--quiet"), timeout=60)
        assert code == 0, out + err
        assert "stopped at --max-pages 5" in out, out
        assert site.listing_hits() == 5
        assert articles(db) == 5 * PAGE_SIZE
