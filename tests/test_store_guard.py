"""The store tells the truth about its database (``Store.check_health`` / ``quick_check``).

Real files, real SQLite: a database file deleted or replaced under an open store (every
later write and every health check raise ``StoreLost``, naming the reason), a file with bytes overwritten (``run`` refuses to
start, exit 3, one line), a full database and a read-only one (short reasons, cleared once a
write commits again), and PostgreSQL's ``SELECT 1`` probe.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pg_server
import pytest
from test_storage import make_article

from scraper.errors import StorageError
from storage import StoreLost, open_store
from storage.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """\
[storage]
url = "sqlite:///{db}"

[server]
host = "127.0.0.1"
port = 0

[sources.qk3]
name = "Quân khu 3"
start_urls = ["http://127.0.0.1:9/chinh-tri-xa-hoi"]
"""


def filled_db(path: Path, articles: int = 1) -> Path:
    """A closed database of ``articles`` articles (WAL checkpointed into the file on close)."""
    with open_store(f"sqlite:///{path}") as store:
        for n in range(1, articles + 1):
            body = f"Nội dung {n} " * 200  # a few KB each: the articles span many pages
            store.upsert_article(make_article(n, body_text=body, body_html=f"<p>{body}</p>"))
    return path


def corrupt(path: Path) -> None:
    """Overwrite the middle third of the file (never page 1, the header and schema)."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 3)
        fh.write(b"\xa5\x5a" * (size // 6))


def test_a_healthy_store_reports_nothing(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'qk.db'}") as store:
        assert store.check_health() is None
        assert store.quick_check() is None
    assert store.check_health() == "the store is closed"
    with open_store("sqlite:///:memory:") as memory:
        assert memory.check_health() is None and memory.quick_check() is None


def test_deleted_file_is_noticed_and_every_later_write_refused(tmp_path: Path) -> None:
    db = filled_db(tmp_path / "qk.db")
    with open_store(f"sqlite:///{db}") as store:
        store.upsert_article(make_article(2))
        db.unlink()
        with pytest.raises(StoreLost, match="deleted") as caught:
            store.check_health()
        assert str(db) in str(caught.value) and isinstance(caught.value, StorageError)
        with pytest.raises(StoreLost, match="deleted.*refusing to write"):
            store.upsert_article(make_article(3))
        with pytest.raises(StorageError, match="deleted"):
            store.record_run("qk3", started=make_article().published, finished=make_article().published,
                             ok=True, new=0, updated=0, errors=0)
        assert store.count_articles() == 2  # reads go on: what is rendered can still be served
    assert not db.exists()  # nothing recreated a new, empty database behind our back


def test_replaced_file_is_noticed_and_stays_refused(tmp_path: Path) -> None:
    db = filled_db(tmp_path / "qk.db")
    other = filled_db(tmp_path / "other.db", articles=3)
    with open_store(f"sqlite:///{db}") as store:
        os.replace(other, db)
        with pytest.raises(StoreLost, match=r"replaced .*\(device/inode changed\)"):
            store.check_health()
        with pytest.raises(StoreLost, match="replaced"):
            store.upsert_article(make_article(9))
        with pytest.raises(StoreLost, match="replaced"):  # sticky: only a restart reopens
            store.check_health()
    with open_store(f"sqlite:///{db}") as fresh:  # the restart opens the new file, whole
        assert fresh.check_health() is None and fresh.count_articles() == 3


def test_full_database_is_a_short_reason_until_a_write_commits(tmp_path: Path) -> None:
    db = tmp_path / "qk.db"
    store = SQLiteStore(db)
    store.migrate()
    try:
        with store._reading() as own:  # the store's connection: max_page_count is per connection
            (pages,) = own.execute("PRAGMA page_count").fetchone()
            own.execute(f"PRAGMA max_page_count = {pages}").fetchall()
        big = make_article(1, body_text="x" * 200_000, body_html="<p>" + "x" * 200_000 + "</p>")
        with pytest.raises(StorageError, match=r"database or disk is full \(disk full\)") as caught:
            store.upsert_article(big)
        assert len(str(caught.value)) < 300
        assert store.check_health() == f"SQLite database {db}: the last operation failed: disk full"
        with store._reading() as own:
            own.execute("PRAGMA max_page_count = 1073741823").fetchall()
        assert store.upsert_article(big) == "new"
        assert store.check_health() is None
    finally:
        store.close()


def test_read_only_database_is_a_short_reason(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'qk.db'}") as store:
        with store._reading() as own:
            own.execute("PRAGMA query_only = 1").fetchall()
        with pytest.raises(StorageError, match=r"\(read-only\)"):
            store.upsert_article(make_article())
        assert (store.check_health() or "").endswith("the last operation failed: read-only")


def test_corrupted_file_fails_quick_check_and_reads_name_it(tmp_path: Path) -> None:
    db = filled_db(tmp_path / "qk.db", articles=300)
    corrupt(db)
    with open_store(f"sqlite:///{db}") as store:
        problem = store.quick_check()
        assert problem is not None and problem.startswith(f"SQLite database {db} is corrupted")
        with pytest.raises(StorageError, match=r"\(corrupted\)|malformed"):
            store.latest(limit=300)
        assert "corrupted" in (store.check_health() or "")


def test_run_refuses_a_corrupted_store_exit_3(tmp_path: Path) -> None:
    db = filled_db(tmp_path / "qk.db", articles=300)
    corrupt(db)
    before = db.read_bytes()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(db=db), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--config", str(config), "run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: SQLite database {db} is corrupted (PRAGMA quick_check: ")
    assert lines[0].endswith("refusing to start: restore a backup, or copy what can still be read with run.py copy")
    assert db.read_bytes() == before  # refused before writing anything


def test_a_recorded_run_is_in_the_database_file_itself(tmp_path: Path) -> None:
    """The WAL is checkpointed after every run: a copy of the file alone (what a power cut
    or a read-only remount leaves when the WAL was never synced) holds the whole run."""
    db = tmp_path / "qk.db"
    when = make_article().published
    with open_store(f"sqlite:///{db}") as store:
        store.upsert_article(make_article(1))
        store.record_run("qk3", started=when, finished=when, ok=True, new=1, updated=0, errors=0)
        assert Path(f"{db}-wal").exists()  # still in WAL mode, the WAL still there
        shutil.copy(db, tmp_path / "file-only.db")
    with open_store(f"sqlite:///{tmp_path / 'file-only.db'}") as survivor:
        assert survivor.count_articles() == 1
        assert survivor.source_health(["qk3"])[0].last_run == when


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with pg_server.fresh_database() as url:
        yield url


def test_postgres_check_health(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        assert store.check_health() is None and store.quick_check() is None
    finally:
        store.close()
    problem = store.check_health()
    assert problem is not None and problem.startswith("PostgreSQL database ") and problem.endswith("the store is closed")


def test_postgres_read_only_database_is_a_short_reason() -> None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    with pg_server.fresh_database() as url:
        open_store(url).close()
        name = conninfo_to_dict(url)["dbname"]
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        with pytest.raises(StorageError, match=r"read-only transaction \(read-only\)$"):
            open_store(url)  # the write probe at open fails, with the short reason


def test_service_exits_3_when_its_database_file_is_deleted(tmp_path: Path) -> None:
    """The running service notices the deleted file within an interval, says so, and exits 3."""
    from fixture_sites import FixtureSites
    from service_proc import service_config, start_service, wait_for

    db = tmp_path / "qk.db"
    with FixtureSites() as sites:
        text = sites.config_text(f"sqlite:///{db}")
        svc = start_service(lambda port: service_config(text, port=port, interval=2), tmp_path / "svc")
        try:
            svc.wait_healthy(lambda doc: any(s["last_success"] for s in doc["sources"].values()))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            assert svc.proc is not None
            wait_for(lambda: svc.proc.poll() is not None, 15, "the service to exit", on_fail=svc.log_tail)
            assert svc.proc.returncode == 3, svc.log_tail()
            log = svc.log()
            assert "event=store_lost" in log and "deleted" in log, svc.log_tail()
            assert not db.exists()  # nothing recreated an empty database in its place
        finally:
            svc.close()
