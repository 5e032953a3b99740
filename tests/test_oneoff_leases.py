"""One-off ``fetch`` and ``backfill`` take the source's lease, so they never overlap a worker's run.

Real parts: the fixture sites on 127.0.0.1, a SQLite store shared by the test
and ``run.py`` subprocesses (as a worker and a user's command would share it).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT, config_for

from scraper.service.leases import LeaseLost, SourceBusy, SourceLeases
from storage import open_store

ALIVE_ELSEWHERE = "another-host.example:4242:abcdef"  # a live worker on another machine


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def lease_row(db: Path, source_id: str) -> tuple[str | None, str | None, str | None]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT holder, last_run, last_holder FROM source_leases WHERE source_id = ?",
                           [source_id]).fetchone()
    return tuple(row) if row else (None, None, None)  # type: ignore[return-value]


def article_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM articles").fetchone()[0]


@pytest.fixture
def setup(fixture_sites, tmp_path: Path):
    db = tmp_path / "qk.db"
    cfg_path = tmp_path / "config.toml"
    config = config_for(fixture_sites, f"sqlite:///{db}", cfg_path)
    open_store(f"sqlite:///{db}").close()  # migrated, so the test can plant leases
    return config, cfg_path, db


def hold(db: Path, source_id: str, holder: str, ttl: float) -> None:
    with open_store(f"sqlite:///{db}") as store:
        assert store.take_lease(source_id, holder, ttl=ttl, min_gap=0).taken


def test_fetch_of_a_source_a_worker_is_running_reports_busy_and_fetches_nothing(setup, tmp_path):
    _, cfg, db = setup
    hold(db, "qk3", ALIVE_ELSEWHERE, ttl=300)
    proc = run("--config", str(cfg), "fetch", "qk3", "qdnd", cwd=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert " busy " in lines["qk3"] and ALIVE_ELSEWHERE in lines["qk3"], proc.stdout
    assert " ok " in lines["qdnd"], proc.stdout  # the other source ran
    assert "Traceback" not in proc.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles WHERE source_id = 'qk3'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM articles WHERE source_id = 'qdnd'").fetchone()[0] > 0
    assert lease_row(db, "qk3")[0] == ALIVE_ELSEWHERE  # untouched


def test_backfill_of_a_busy_source_exits_4_with_one_line(setup, tmp_path):
    _, cfg, db = setup
    hold(db, "qk3", ALIVE_ELSEWHERE, ttl=300)
    proc = run("--config", str(cfg), "backfill", "qk3", "--pages", "2", "--quiet", cwd=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    # the same line as fetch prints for a busy source (not "error: …"), and nothing else
    assert proc.stdout.splitlines() == [proc.stdout.strip()] and proc.stderr == "", proc.stdout + proc.stderr
    line = proc.stdout.strip()
    assert line.split()[:2] == ["qk3", "busy"] and ALIVE_ELSEWHERE in line and "--wait" in line
    assert re.search(r" since \d\d:\d\d:\d\d UTC;", line) and "free by" not in line, line
    fetch = run("--config", str(cfg), "fetch", "qk3", cwd=tmp_path)
    assert fetch.returncode == 4 and fetch.stdout.strip() == line, fetch.stdout
    assert article_count(db) == 0


def test_fetch_waits_for_the_holder_to_finish_then_runs_and_records_its_run(setup, tmp_path):
    _, cfg, db = setup
    holder = f"{socket.gethostname()}:{os.getpid()}:t35t01"  # this live process
    hold(db, "qk3", holder, ttl=300)

    def finish_later() -> None:
        with open_store(f"sqlite:///{db}") as store:
            store.release_lease("qk3", holder, last_run=None)

    timer = threading.Timer(1.5, finish_later)
    timer.start()
    try:
        proc = run("--config", str(cfg), "fetch", "qk3", "--wait", "30", cwd=tmp_path)
    finally:
        timer.cancel()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert article_count(db) > 0
    now_holder, last_run, last_holder = lease_row(db, "qk3")
    assert now_holder is None and last_run is not None
    assert last_holder is not None and last_holder != holder  # the command's own worker id


def test_a_lease_left_by_a_dead_process_of_this_host_is_taken_at_once(setup, tmp_path):
    _, cfg, db = setup
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    hold(db, "qk3", f"{socket.gethostname()}:{dead.stdout.strip()}:deadbe", ttl=300)
    proc = run("--config", str(cfg), "fetch", "qk3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert article_count(db) > 0


def test_fetch_right_after_a_workers_run_is_not_refused(setup, tmp_path):
    """The user asked for a run now: the gap that keeps workers apart does not apply."""
    _, cfg, db = setup
    with open_store(f"sqlite:///{db}") as store:
        store.take_lease("qk3", ALIVE_ELSEWHERE, ttl=300, min_gap=0)
        store.release_lease("qk3", ALIVE_ELSEWHERE, last_run=datetime.now(UTC))
    proc = run("--config", str(cfg), "fetch", "qk3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_lease_is_held_for_the_whole_run_and_released_after(setup):
    config, _, db = setup
    source = config.source("qk3")
    seen: list[str | None] = []

    async def work() -> str:
        seen.append(lease_row(db, "qk3")[0])
        return "done"

    async def go() -> str:
        with open_store(f"sqlite:///{db}") as store:
            leases = SourceLeases(store, holder="tester:1:abc")
            return await leases.exclusive(source, work)

    assert asyncio.run(go()) == "done"
    assert seen == ["tester:1:abc"]
    holder, last_run, last_holder = lease_row(db, "qk3")
    assert holder is None and last_run is not None and last_holder == "tester:1:abc"


def test_a_run_that_loses_its_lease_is_stopped(setup):
    config, _, db = setup
    source = config.source("qk3").model_copy(update={"interval": 1.0})  # renewed every 1/3 s
    stopped = asyncio.Event()

    async def long_run() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()

    async def go() -> None:
        with open_store(f"sqlite:///{db}") as store:
            leases = SourceLeases(store, holder="tester:1:abc")

            async def thief() -> None:
                await asyncio.sleep(0.2)
                assert store.take_lease("qk3", "thief:2:def", ttl=60, min_gap=0,
                                        steal_from="tester:1:abc").taken

            steal = asyncio.create_task(thief())
            with pytest.raises(LeaseLost, match="qk3"):
                await asyncio.wait_for(leases.exclusive(source, long_run), timeout=10)
            await steal

    asyncio.run(go())
    assert stopped.is_set()
    assert lease_row(db, "qk3")[0] == "thief:2:def"  # the release did not free the thief's lease


def test_busy_error_names_source_and_holder() -> None:
    err = SourceBusy("qk3", "w:1:x", None)
    assert str(err).startswith("qk3: being fetched by w:1:x")
    since = datetime(2024, 5, 1, 8, 0, 5, tzinfo=UTC)
    err = SourceBusy("qk3", "w:1:x", since)
    assert str(err) == "qk3: being fetched by w:1:x since 08:00:05 UTC; try again later or pass --wait SECONDS"
