"""storage/copy.py and ``run.py copy`` / ``run.py migrate``: archives moved between backends.

The round trip SQLite -> PostgreSQL -> SQLite must give back the very same
rows (timestamps to the microsecond, JSON arrays, compressed page bytes), and
copying again must change nothing.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import unicodedata
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pg_server
import pytest

from scraper.errors import StorageError
from scraper.models import Article
from storage import Store, open_store
from storage._migrations import load_migrations
from storage.copy import BATCH, CopyConflict, copy_store, copy_urls

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
ICT = timezone(timedelta(hours=7))

# Columns compared between two SQLite files: everything but row ids and change_seq.
SQLITE_DUMPS = {
    "articles": "SELECT url, guid, source_id, title, published, modified, authors, agencies,"
    " categories, body_html, body_text, summary, image_url, fingerprint, original_url,"
    " search_text, first_seen, updated, status, removed_at, pending_reason, pending_since,"
    " revisit_step, stored_by, revisits, edits, last_seen, changed_at, current_since FROM articles ORDER BY url",
    "article_versions": "SELECT url, seen_from, seen_until, last_seen, title, published, authors,"
    " summary, body_html, body_text, fingerprint, html FROM article_versions ORDER BY url, seen_from",
    "pages": "SELECT url, fetched_at, html FROM pages ORDER BY url",
    "runs": "SELECT source_id, started, finished, ok, new_count, updated_count, error_count,"
    " message, degraded, feed_problem FROM runs ORDER BY id",
    "http_cache": "SELECT url, etag, last_modified, stored_at FROM http_cache ORDER BY url",
    "source_state": "SELECT * FROM source_state ORDER BY source_id",
    "backfill_state": "SELECT * FROM backfill_state ORDER BY source_id",
}


def article(n: int, **changes: Any) -> Article:
    fields: dict[str, Any] = {
        "url": f"https://www.bienphong.com.vn/tin-{n}",
        "source_id": "bienphong" if n % 3 else "qk7",
        "title": f"Tuần tra biên giới số {n} — “đặc biệt”",
        "published": (T0 + timedelta(hours=n, microseconds=n)).astimezone(ICT),
        "authors": ("Nguyễn Văn A", "Trần Thị B") if n % 2 else (),
        "agencies": ("TTXVN",) if n % 4 == 0 else (),
        "body_html": f"<p>Đồn Biên phòng Ia Đal {n} 🇻🇳</p>",
        "body_text": f"Đồn Biên phòng Ia Đal {n} 🇻🇳",
        "summary": "Tóm tắt" if n % 2 else "",
        "image_url": f"https://www.bienphong.com.vn/anh-{n}.jpg" if n % 5 else None,
        "categories": ("Quốc phòng", "Biên giới") if n % 2 else ("Xã hội",),
        "modified": T0 + timedelta(days=1, microseconds=7) if n % 6 == 0 else None,
        "fingerprint": f"fp-{n}",
        "original_url": f"https://www.bienphong.com.vn/tin-{n}?utm_source=rss",
    }
    fields.update(changes)
    return Article(**fields)


def fill(store: Store, count: int = 12) -> None:
    """Every kind of row, with the awkward values: None, microseconds, NFD, emoji."""
    for n in range(count):
        raw = f"<html><body>Trang {n} biên giới</body></html>".encode() * (n + 1)
        store.upsert_article(
            article(n), raw_html=raw if n % 4 != 3 else None, now=T0 + timedelta(minutes=n)
        )
    store.upsert_article(
        article(1, fingerprint="fp-1-edited"), raw_html=b"v2", now=T0 + timedelta(days=2)
    )
    # history: a second edit, a removal confirmed, one pending, a revisit that found it live
    store.upsert_article(
        article(1, fingerprint="fp-1-edited-again", title="Tuần tra — sửa"), raw_html=b"v3",
        now=T0 + timedelta(days=2, hours=1),
    )
    revisit = {"steps": [3600.0, 86400.0], "confirm_after": 60.0}
    for minutes in (0, 2):
        store.record_revisit(  # type: ignore[attr-defined]
            article(2).url, now=T0 + timedelta(days=2, minutes=minutes), evidence="HTTP 404",
            **revisit,
        )
    store.record_revisit(  # type: ignore[attr-defined]
        article(5).url, now=T0 + timedelta(days=2), evidence="redirected home", **revisit
    )
    store.record_revisit(article(6).url, now=T0 + timedelta(days=2), **revisit)  # type: ignore[attr-defined]
    store.upsert_article(
        article(100, published=None, title=unicodedata.normalize("NFD", "Biên giới (NFD)")),
        now=T0 + timedelta(days=3, microseconds=999999),
    )
    for hour, ok in ((1, True), (2, False), (3, False), (4, True)):
        start = T0 + timedelta(hours=hour, microseconds=hour)
        store.record_run(
            "bienphong",
            started=start,
            finished=start + timedelta(seconds=42, microseconds=5),
            ok=ok,
            new=hour,
            updated=1,
            errors=0 if ok else 2,
            message=None if ok else f"HTTP 503 lần {hour}",
            degraded="profile selector 'date' (div.x) stopped matching" if hour == 3 else None,
            feed_problem="https://www.bienphong.com.vn/rss: HTTP 404; HTML listing used" if hour >= 3 else None,
        )
    store.record_run("qk7", started=T0, finished=T0, ok=True, new=0, updated=0, errors=0)
    store.http_cache_put(
        "https://www.bienphong.com.vn/", '"etag-1"', "Wed, 01 May 2024 08:00:00 GMT"
    )
    store.http_cache_put("https://www.bienphong.com.vn/quoc-phong", None, None)
    store.backfill_state_put(
        "bienphong", {"next_page": 7, "note": "biên giới", "seen": [1, 2, {"x": None}]}
    )


def sqlite_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {table: conn.execute(sql).fetchall() for table, sql in SQLITE_DUMPS.items()}
    finally:
        conn.close()


def api_view(store: Store) -> dict[str, Any]:
    """What the rest of qkfeed can see of a store (ids aside)."""
    items = store.latest(limit=10_000)
    return {
        "articles": [(s.guid, s.article, s.first_seen, s.updated, s.edits, s.status, s.removed_at)
                     for s in items],
        "history": [store.article_history(s.article.url) for s in items],  # type: ignore[attr-defined]
        "edits": [(e.url, e.before, e.after) for e in store.edits(limit=100)],  # type: ignore[attr-defined]
        "removed": [s.article.url for s in store.removed()],  # type: ignore[attr-defined]
        "history_counts": store.history_counts(["bienphong", "qk7"]),  # type: ignore[attr-defined]
        "by_url": [store.get_article(s.article.url) is not None for s in items],
        "pages": list(store.pages_for_reextract()),
        "health": store.source_health(["bienphong", "qk7", "never"], now=T0 + timedelta(days=1)),
        "backfill": store.backfill_state_get("bienphong"),
        "http": [
            store.http_cache_get(u)
            for u in ("https://www.bienphong.com.vn/", "https://www.bienphong.com.vn/quoc-phong")
        ],
        "count": store.count_articles(),
        "search": [s.article.url for s in store.latest(q="bien gioi (nfd)")],
    }


@pytest.fixture
def source_path(tmp_path: Path) -> Path:
    path = tmp_path / "source.db"
    with open_store(f"sqlite:///{path}") as s:
        fill(s)
    # A page whose bytes are not zlib: copied as stored, not "repaired".
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "UPDATE pages SET html = ? WHERE url = ?", (b"\x00not zlib\xff", article(2).url)
        )
    conn.close()
    return path


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_server.fresh_database() as url:
        yield url


@pytest.fixture(params=("sqlite", "postgresql"))
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'target.db'}"
    else:
        with pg_server.fresh_database() as url:
            yield url


# -- the round trip --------------------------------------------------------------


def test_sqlite_postgres_sqlite_round_trip_preserves_every_field(
    source_path: Path, pg_url: str, tmp_path: Path
) -> None:
    back_path = tmp_path / "back.db"
    seen: dict[str, int] = {}

    def progress(table: str, rows: int) -> None:
        seen[table] = seen.get(table, 0) + rows

    report = copy_urls(f"sqlite:///{source_path}", pg_url, progress=progress)
    assert report.tables["articles"].inserted == 13
    assert report.tables["pages"].inserted == 9
    assert report.tables["runs"].inserted == 5
    assert seen == {
        "articles": 13,
        "pages": 9,
        "article_versions": 2,
        "runs": 5,
        "http_cache": 2,
        "source_state": 2,
        "backfill_state": 1,
    }
    copy_urls(pg_url, f"sqlite:///{back_path}")

    # Byte for byte the same rows: ISO timestamps with microseconds, JSON text, page bytes.
    original, returned = sqlite_dump(source_path), sqlite_dump(back_path)
    for table in SQLITE_DUMPS:
        assert returned[table] == original[table], table
    assert original["articles"][0][4].endswith("+00:00") and "." in original["articles"][0][4]
    assert any(row[2] == b"\x00not zlib\xff" for row in returned["pages"])

    with (
        open_store(f"sqlite:///{source_path}") as a,
        open_store(pg_url) as b,
        open_store(f"sqlite:///{back_path}") as c,
    ):
        view = api_view(a)
        assert view["count"] == 13 and view["search"] == [article(100).url]
        assert view["articles"][0][1].title == unicodedata.normalize("NFD", "Biên giới (NFD)")
        assert api_view(b) == view
        assert api_view(c) == view
        # The targets numbered the writes themselves: one change per copied article.
        assert b.version() == c.version() == "13"


def test_copying_twice_changes_nothing(source_path: Path, target_url: str) -> None:
    copy_urls(f"sqlite:///{source_path}", target_url)
    with open_store(target_url) as target:
        version, before = target.version(), api_view(target)
    again = copy_urls(f"sqlite:///{source_path}", target_url)
    assert not again.changed
    assert {name: c.unchanged for name, c in again.tables.items()} == {
        "articles": 13,
        "pages": 9,
        "article_versions": 2,
        "runs": 5,
        "http_cache": 2,
        "source_state": 2,
        "backfill_state": 1,
    }
    with open_store(target_url) as target:
        assert target.version() == version
        assert api_view(target) == before


def test_more_rows_than_one_batch(tmp_path: Path, target_url: str) -> None:
    source_url = f"sqlite:///{tmp_path / 'big.db'}"
    with open_store(source_url) as s:
        for n in range(BATCH * 2 + 17):
            s.upsert_article(article(n), raw_html=b"<p>x</p>", now=T0)
    report = copy_urls(source_url, target_url)
    assert report.tables["articles"].inserted == report.tables["pages"].inserted == BATCH * 2 + 17
    with open_store(source_url) as a, open_store(target_url) as b:
        assert api_view(a) == api_view(b)


# -- a target that already holds rows ------------------------------------------------


def test_a_target_that_fell_behind_catches_up(source_path: Path, target_url: str) -> None:
    source_url = f"sqlite:///{source_path}"
    copy_urls(source_url, target_url)
    with open_store(source_url) as s:  # the service went on writing to the source
        s.upsert_article(
            article(5, title="Sửa tiêu đề"), raw_html=b"v3", now=T0 + timedelta(days=5)
        )
        s.upsert_article(article(200), now=T0 + timedelta(days=5))
        s.record_run(
            "qk7",
            started=T0 + timedelta(days=5),
            finished=T0 + timedelta(days=5),
            ok=False,
            new=0,
            updated=0,
            errors=1,
            message="timeout",
        )
        s.backfill_state_clear("bienphong")  # deletions are not copied: the target keeps it
    report = copy_urls(source_url, target_url)
    assert (report.tables["articles"].inserted, report.tables["articles"].updated) == (1, 1)
    assert (report.tables["pages"].inserted, report.tables["pages"].updated) == (0, 1)
    assert report.tables["runs"].inserted == 1
    assert report.tables["source_state"].updated == 1
    with open_store(source_url) as a, open_store(target_url) as b:
        view_a, view_b = api_view(a), api_view(b)
        assert view_b["backfill"] == {
            "next_page": 7,
            "note": "biên giới",
            "seen": [1, 2, {"x": None}],
        }
        view_a.pop("backfill"), view_b.pop("backfill")
        assert view_b == view_a


def test_a_conflicting_article_stops_the_copy_and_leaves_the_target_unchanged(
    source_path: Path, target_url: str
) -> None:
    source_url = f"sqlite:///{source_path}"
    copy_urls(source_url, target_url)
    with open_store(source_url) as s:
        s.upsert_article(article(300), now=T0 + timedelta(days=9))  # would be copied ...
    with open_store(target_url) as t:  # ... but the target edited article 4 on its own
        t.upsert_article(article(4, fingerprint="target-edit"), now=T0 + timedelta(days=9))
        version, before = t.version(), api_view(t)
    with pytest.raises(CopyConflict) as info:
        copy_urls(source_url, target_url)
    assert str(info.value) == (
        f"the target already holds a different articles row for {article(4).url} that is not"
        " older (its changed_at is later or equal); nothing was copied"
    )
    assert isinstance(info.value, StorageError)
    with open_store(target_url) as t:
        assert t.version() == version and api_view(t) == before
        assert t.get_article(article(300).url) is None


def test_newer_state_in_the_target_is_kept(source_path: Path, target_url: str) -> None:
    source_url = f"sqlite:///{source_path}"
    copy_urls(source_url, target_url)
    with open_store(target_url) as t:
        t.http_cache_put("https://www.bienphong.com.vn/", '"etag-newer"', None)
    report = copy_urls(source_url, target_url)
    assert report.tables["http_cache"].kept == 1 and not report.changed
    assert "1 newer in the target kept" in "\n".join(report.lines())
    with open_store(target_url) as t:
        assert t.http_cache_get("https://www.bienphong.com.vn/") == ('"etag-newer"', None)


def test_a_differing_run_is_a_conflict(tmp_path: Path, target_url: str) -> None:
    source_url = f"sqlite:///{tmp_path / 'runs.db'}"
    for url, errors in ((source_url, 1), (target_url, 2)):
        with open_store(url) as s:
            s.record_run("qk7", started=T0, finished=T0, ok=False, new=0, updated=0, errors=errors)
    with pytest.raises(
        CopyConflict, match="different runs row for qk7, 2024-05-01 08:00:00.123456"
    ):
        copy_urls(source_url, target_url)


def test_same_database_is_refused(
    source_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store(f"sqlite:///{source_path}") as a, open_store("sqlite:///source.db") as b:
        with pytest.raises(StorageError, match="source and target are the same database"):
            copy_store(a, b)


# -- the commands ----------------------------------------------------------------


def run_py(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_config(tmp_path: Path, storage_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "{storage_url}"\n\n[sources.qk7]\nname = "Quân khu 7"\n'
        'start_urls = ["https://www.qk7.vn/tin-tuc"]\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("command", ["migrate", "copy"])
def test_commands_have_help_and_are_in_the_readme(command: str, tmp_path: Path) -> None:
    proc = run_py(command, "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "usage:" in proc.stdout
    assert f"| `{command}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_migrate_command(tmp_path: Path, pg_url: str) -> None:
    write_config(tmp_path, "sqlite:///data/q.db")
    known = len(load_migrations())
    proc = run_py("migrate", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, f"schema version {known}\n"), proc.stderr
    assert (tmp_path / "data" / "q.db").is_file()

    (tmp_path / "pg").mkdir()
    config = write_config(tmp_path / "pg", pg_url)
    proc = run_py("migrate", "--config", str(config), cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, f"schema version {known}\n"), proc.stderr

    conn = sqlite3.connect(tmp_path / "data" / "q.db")
    with conn:
        conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'x')")
    conn.close()
    proc = run_py("migrate", cwd=tmp_path)
    assert proc.returncode == 3
    assert proc.stderr == (
        f"error: database schema version 99 is newer than this qkfeed (knows {known}); upgrade qkfeed\n"
    )


def test_copy_command(source_path: Path, pg_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, f"sqlite:///{source_path}")
    proc = run_py("copy", "--to", pg_url, cwd=tmp_path)  # --from defaults to the config's store
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "articles: 13 inserted, 0 updated, 0 unchanged"
    back = tmp_path / "back.db"
    proc = run_py("copy", "--from", pg_url, "--to", f"sqlite:///{back}", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sqlite_dump(back) == sqlite_dump(source_path)

    with open_store(pg_url) as t:
        t.upsert_article(article(4, fingerprint="target-edit"), now=T0 + timedelta(days=9))
    secret_url = pg_url
    if pg_server.server().throwaway:  # trust authentication ignores the password
        secret_url = pg_server.with_user(pg_url, urlsplit(pg_url).username or "", "hunter2-secret")
    proc = run_py(
        "copy", "--from", f"sqlite:///{source_path}", "--to", secret_url, "--quiet", cwd=tmp_path
    )
    assert proc.returncode == 3
    assert proc.stderr.startswith("error: the target already holds a different articles row for")
    assert proc.stderr.count("\n") == 1 and "hunter2" not in proc.stderr + proc.stdout
    # one bad URL: one line, exit 3
    proc = run_py("copy", "--to", "postgresql://u:hunter2-secret@127.0.0.1:1/x", cwd=tmp_path)
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1 and "hunter2" not in proc.stderr
    assert zlib.decompress(sqlite_dump(back)["pages"][0][2])  # pages still compressed
