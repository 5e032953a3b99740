"""Crash safety: ``run.py run`` killed with SIGKILL again and again while it ingests.

The service runs against the fixture sites (every answer delayed, one-second intervals, a
new article appearing before each restart) and is killed at a random moment of each
life (0 to MAX_LIFE seconds after it has read its first listing page), until ``QKFEED_CRASH_KILLS`` kills (default 20) landed while a source run was in
progress.  Right after every restart the feeds it
serves must be well-formed; at the end every article the sites offer must be stored
exactly once, as a whole row, in a database that passes ``PRAGMA integrity_check``.

Also here: ``write_atomically`` (feed export) never shows a half-written file and leaves
the old file in place when it fails or is killed.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from functools import partial
from pathlib import Path

import feedparser
import pytest
from churn import copy_article
from fixture_sites import FixtureSites
from service_proc import ServiceProcess, free_port, service_config, wait_for

from scraper.cli import write_atomically
from scraper.config import config_from_dict
from scraper.fetch.client import Fetcher
from scraper.pipeline.runner import SourceRunner
from storage import open_store

ROOT = Path(__file__).resolve().parent.parent
KILLS = max(20, int(os.environ.get("QKFEED_CRASH_KILLS", "20")))
SEED = int(os.environ.get("QKFEED_CRASH_SEED", str(int(time.time()))))
LATENCY = 0.15  # seconds added to every fixture answer, so runs take a while
MAX_LIFE = 0.8  # the kill comes a random 0..MAX_LIFE s after the life's first listing is read
MAX_LIVES = 3 * KILLS  # lives until KILLS of them ended during a source run


def db_state(db: Path) -> tuple[int, set[str]]:
    """(row count, canonical URLs) of the articles table, read without writing."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT url FROM articles").fetchall()
    finally:
        conn.close()
    return len(rows), {url for (url,) in rows}


def reference_urls(sites: FixtureSites, tmp: Path) -> set[str]:
    """What one clean, uninterrupted pass over the sites stores (canonical URLs)."""
    db = tmp / "reference.db"
    text = sites.config_text(f"sqlite:///{db}", max_articles_per_run=500)
    config = config_from_dict(tomllib.loads(text), "<reference>")

    async def ingest() -> None:
        with open_store(config.storage.url) as store:
            async with Fetcher(config.fetch) as fetcher:
                runner = SourceRunner(config, store, fetcher)
                await asyncio.gather(*(runner.run_source(s) for s in config.sources.values()))

    asyncio.run(ingest())
    return db_state(db)[1]


def check_feeds(svc: ServiceProcess) -> None:
    for path in ("/feed.atom", "/feed.rss"):
        parsed = feedparser.parse(svc.fetch(path))
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"), svc.log_tail())


def listing_read(svc: ServiceProcess) -> bool:
    return "kind=listing" in svc.log()


_RUN_EVENT = re.compile(r"event=(fetch|source_done) source=(\S+)(?: kind=(\w+))?")


def in_progress_at_kill(log: str) -> bool:
    """Whether the log ends with some source's run begun (listing read) but not done."""
    running: set[str] = set()
    for event, source, kind in _RUN_EVENT.findall(log):
        if event == "source_done":
            running.discard(source)
        elif kind == "listing":
            running.add(source)
    return bool(running)


def test_sigkill_during_ingest_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    print(f"crash test seed {SEED} (QKFEED_CRASH_SEED to repeat), {KILLS} kills")
    db = tmp_path / "qk.db"
    with FixtureSites() as sites:
        sites.set_latency(LATENCY)
        text = service_config(
            sites.config_text(f"sqlite:///{db}", max_articles_per_run=500),
            port=free_port(),
            interval=1,
        )
        mid_ingest = 0
        added: list[str] = []
        t0 = time.monotonic()
        life = 0
        while mid_ingest < KILLS and life < MAX_LIVES:
            site = sites.site_ids[life % len(sites.site_ids)]
            added.append(copy_article(sites, site, life))  # something new to ingest each life
            svc = ServiceProcess(text, tmp_path / f"life{life:02d}")
            svc.start()  # waits for /healthz
            try:
                check_feeds(svc)  # right after a restart, whatever the last kill left
                wait_for(partial(listing_read, svc), 10, "a listing read", interval=0.02,
                         on_fail=svc.log_tail)  # fmt: skip
                time.sleep(rng.uniform(0.0, MAX_LIFE))
                svc.check_alive()
            finally:
                assert svc.proc is not None
                svc.proc.send_signal(signal.SIGKILL)
                svc.close()
            assert svc.returncode == -signal.SIGKILL
            log = svc.log()
            assert "Traceback" not in log, svc.log_tail()
            if in_progress_at_kill(log):
                mid_ingest += 1
            life += 1
        kill_time = time.monotonic() - t0

        # one more life, left alone until it has everything a clean pass would store
        reference = reference_urls(sites, tmp_path)
        assert len(reference) >= 17 + len(added) // 2
        svc = ServiceProcess(text, tmp_path / "final")
        svc.start()
        try:
            check_feeds(svc)
            wait_for(
                lambda: db_state(db)[1] >= reference,
                60,
                "every offered article",
                on_fail=svc.log_tail,
            )
            check_feeds(svc)
            assert svc.terminate() == 0
        finally:
            svc.close()

    print(f"{life} SIGKILLs in {kill_time:.1f}s, {mid_ingest} with a source run in progress")
    assert mid_ingest >= KILLS
    count, urls = db_state(db)
    assert urls == reference  # nothing lost, nothing extra
    assert count == len(urls)  # nothing twice
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = conn.execute(
            "SELECT a.original_url, a.title, a.body_text, a.guid, p.url IS NOT NULL"
            " FROM articles a LEFT JOIN pages p ON p.url = a.url"
        ).fetchall()
    finally:
        conn.close()
    assert len({r[0] for r in rows}) == len(rows) and len({r[3] for r in rows}) == len(rows)
    assert all(title and body and has_page for _, title, body, _, has_page in rows)
    stored_urls = {r[0] for r in rows}
    assert set(added) <= stored_urls  # every copy published before a restart is there


# --- atomic feed export ---------------------------------------------------------------------


def test_write_atomically_never_shows_a_half_written_file(tmp_path: Path) -> None:
    target = tmp_path / "feed.atom"
    versions = [bytes([65 + i]) * (512 * 1024 * (1 + i % 3)) for i in range(6)]
    write_atomically(target, versions[0])
    stop = threading.Event()
    seen: list[int] = []
    torn: list[int] = []

    def reader() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            if data in versions:
                seen.append(versions.index(data))
            else:
                torn.append(len(data))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(60):
            write_atomically(target, versions[i % len(versions)])
    finally:
        stop.set()
        thread.join(10)
    assert torn == [] and len(set(seen)) > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feed.atom"]  # no temp files left
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "feed.rss"
    target.write_bytes(b"<rss>old</rss>")

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    class FullFile:
        def __init__(self, fh: object) -> None:
            self.fh = fh

        def __enter__(self) -> FullFile:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()  # type: ignore[attr-defined]

        def write(self, data: bytes) -> int:
            self.fh.write(data[: len(data) // 2])  # type: ignore[attr-defined]
            disk_full()
            return 0

    real_fdopen = os.fdopen
    if failing == "write":
        monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullFile(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(os, failing, disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, b"<rss>new and much longer</rss>" * 1000)
    monkeypatch.undo()
    assert target.read_bytes() == b"<rss>old</rss>"
    assert [p.name for p in tmp_path.iterdir()] == ["feed.rss"]


WRITER = """
import sys
from scraper.cli import write_atomically
target = sys.argv[1]
i = 0
while True:
    write_atomically(target, (b"%08d" % i) * 200_000)
    print(i, flush=True)
    i += 1
"""


def test_export_killed_at_random_moments_leaves_a_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "feed.json"
    rng = random.Random(SEED)
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(target)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        for _ in range(rng.randint(1, 4)):
            assert proc.stdout.readline()  # some writes done
        time.sleep(rng.uniform(0.0, 0.05))  # and kill during one of the next
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        data = target.read_bytes()
        assert len(data) == 8 * 200_000 and data == data[:8] * 200_000
    # a kill can leave a temp file behind, never a torn target
    assert all(
        p.name == "feed.json" or p.name.startswith(".feed.json.") for p in tmp_path.iterdir()
    )


def test_feed_command_replaces_the_export_whole(tmp_path: Path, fixture_sites) -> None:
    db = tmp_path / "q.db"
    cfg = tmp_path / "config.toml"
    cfg.write_text(fixture_sites.config_text(f"sqlite:///{db}"), encoding="utf-8")
    out = tmp_path / "out" / "feed.atom"
    out.parent.mkdir()
    out.write_bytes(b"old")
    run = [sys.executable, str(ROOT / "run.py"), "--config", str(cfg)]
    assert (
        subprocess.run(
            [*run, "fetch", "qk3"], cwd=tmp_path, capture_output=True, timeout=120
        ).returncode
        == 0
    )
    proc = subprocess.run(
        [*run, "feed", "--format", "atom", "-o", str(out)],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert feedparser.parse(out.read_bytes()).bozo == 0
    assert [p.name for p in out.parent.iterdir()] == ["feed.atom"]
