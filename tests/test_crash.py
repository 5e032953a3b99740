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
from scraper.config_load import config_from_dict
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


# --- revisits (issue 12) --------------------------------------------------------------------

REVISIT_KILLS = max(6, int(os.environ.get("QKFEED_CRASH_REVISIT_KILLS", "6")))
EDITED = "/chinh-tri-xa-hoi/dang-uy-quan-su-tinh-hung-yen-trien-khai-nhiem-vu-nam-2024-4057"
EDIT_MARK = "Dịp này, Đảng ủy Quân sự tỉnh khen thưởng"


def revisit_state(db: Path) -> list[tuple]:
    """(original_url, status, pending_reason, edits, versions kept, removed_at) of every article."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(
            "SELECT a.original_url, a.status, a.pending_reason, a.edits,"
            " (SELECT COUNT(*) FROM article_versions v WHERE v.url = a.url), a.removed_at"
            " FROM articles a"
        ).fetchall()
    finally:
        conn.close()


def version_chain(db: Path, url_suffix: str) -> list[tuple[str, str | None, str]]:
    """(seen_from, seen_until, body_text) of every version of one article, the current one last."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        (key, updated, body), = conn.execute(
            "SELECT url, COALESCE(current_since, updated), body_text FROM articles WHERE original_url LIKE ?",
            ["%" + url_suffix],
        ).fetchall()
        older = conn.execute(
            "SELECT seen_from, seen_until, body_text FROM article_versions WHERE url = ? ORDER BY seen_from", [key]
        ).fetchall()
    finally:
        conn.close()
    return [*older, (updated, None, body)]


def in_revisit_at_kill(log: str) -> bool:
    """Whether the log ends inside a run's revisits (one done, the run not finished)."""
    return log.rfind("event=revisit ") > max(log.rfind("event=source_done"), log.rfind("event=revisits_done"))


def test_sigkill_during_revisits_loses_no_version_and_invents_no_removal(tmp_path: Path) -> None:
    """Killed again and again while it revisits: an article edited before every life keeps every
    version it was seen in (an unbroken chain, ``edits`` = rows kept); one that answers 503 the
    whole time is never pending nor removed; one really deleted is removed only after it was."""
    rng = random.Random(SEED)
    db = tmp_path / "qk.db"
    with FixtureSites(["qk3"]) as sites:
        sites.set_latency(LATENCY)
        for n in range(4):  # more articles: a run's revisits take a while
            copy_article(sites, "qk3", n)
        busy = sites.manifest("qk3")["articles"][-1]
        gone = sites.manifest("qk3")["articles"][-2]
        text = service_config(
            sites.config_text(f"sqlite:///{db}", revisit=[f"{n / 2}s" for n in range(1, 400)],
                              removal_confirm_after=1, retries=0),
            port=free_port(), interval=1,
        )
        mid_revisit = life = 0
        mark = EDIT_MARK
        gone_at: float | None = None
        while mid_revisit < REVISIT_KILLS and life < 6 * REVISIT_KILLS:
            if life == 1:
                sites.fault("qk3", busy, status=503)
            if life == 3:
                sites.remove_route("qk3", gone)
                gone_at = time.time()
            if life:
                new_mark = f"{EDIT_MARK} (sửa lần {life})"
                sites.edit_article("qk3", EDITED, mark, new_mark)
                mark = new_mark
            svc = ServiceProcess(text, tmp_path / f"revisit-life{life:02d}")
            svc.start()
            try:
                wait_for(partial(listing_read, svc), 10, "a listing read", interval=0.02, on_fail=svc.log_tail)
                if life == 0:  # the first life stores the articles the later ones revisit
                    wait_for(lambda: len(revisit_state(db)) >= 6, 30, "the articles stored", on_fail=svc.log_tail)
                time.sleep(rng.uniform(0.3, 2.0))
                svc.check_alive()
            finally:
                assert svc.proc is not None
                svc.proc.send_signal(signal.SIGKILL)
                svc.close()
            log = svc.log()
            assert "Traceback" not in log, svc.log_tail()
            mid_revisit += in_revisit_at_kill(log)
            life += 1
            for original, status, pending, edits, kept, _removed_at in revisit_state(db):
                assert edits == kept, (original, edits, kept)  # never a count without its version
                if original.endswith(busy) or original.endswith(EDITED):
                    assert (status, pending) == ("live", None), (original, status, pending)
                if status == "removed":
                    assert original.endswith(gone) and gone_at is not None, original
            chain = version_chain(db, EDITED)
            assert all(a[1] == b[0] for a, b in zip(chain, chain[1:], strict=False)), chain
            assert len({body for _, _, body in chain}) == len(chain)  # each version differs from the next

        # left alone, the last life sees the last edit and confirms the removal
        svc = ServiceProcess(text, tmp_path / "revisit-final")
        svc.start()
        try:
            wait_for(lambda: mark in version_chain(db, EDITED)[-1][2], 60, "the last edit", on_fail=svc.log_tail)
            wait_for(lambda: any(r[0].endswith(gone) and r[1] == "removed" for r in revisit_state(db)), 60,
                     "the removal", on_fail=svc.log_tail)
            assert svc.terminate() == 0
        finally:
            svc.close()
    print(f"{life} SIGKILLs, {mid_revisit} during revisits")
    assert mid_revisit >= REVISIT_KILLS
    chain = version_chain(db, EDITED)
    marks = [next((k for k in range(life, -1, -1) if f"(sửa lần {k})" in body), 0) for _, _, body in chain]
    assert marks == sorted(marks) and len(set(marks)) == len(marks), marks  # in order, none twice
    for original, status, _, _, _, removed_at in revisit_state(db):
        if status == "removed":
            assert original.endswith(gone)
            assert gone_at is not None and datetime_of(removed_at) >= gone_at - 1
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def datetime_of(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()
