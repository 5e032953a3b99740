"""The Store contract, run against every backend; SQLite-only tests at the end of each group.

Every test that takes the ``store`` or ``backend`` fixture runs twice: on a
SQLite file in tmp_path and on a fresh PostgreSQL database (``pg_server``:
a given server or a throwaway cluster; skipped without one, except in CI).
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unicodedata
import uuid
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pg_server
import pytest

from scraper.errors import StorageError
from scraper.models import Article
from scraper.text import fold_accents
from storage import SQLiteStore, Store, open_store
from storage._migrations import Migration, load_migrations

REPO_ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
BACKENDS = ("sqlite", "postgresql")


def make_article(n: int = 1, **changes: object) -> Article:
    fields: dict[str, object] = {
        "url": f"https://www.qdnd.vn/quoc-phong/bai-{n}",
        "source_id": "qdnd",
        "title": f"Bài số {n}",
        "published": T0 + timedelta(hours=n),
        "authors": ("Nguyễn Văn A",),
        "agencies": ("TTXVN",),
        "body_html": f"<p>Nội dung {n}</p>",
        "body_text": f"Nội dung {n}",
        "summary": "Tóm tắt",
        "image_url": "https://www.qdnd.vn/anh.jpg",
        "categories": ("Quốc phòng",),
        "modified": None,
        "fingerprint": f"fp-{n}",
        "original_url": f"https://www.qdnd.vn/quoc-phong/bai-{n}?utm_source=x",
    }
    fields.update(changes)
    return Article(**fields)  # type: ignore[arg-type]


class Backend:
    """A store's database seen from outside the store: its URL and a second connection.

    SQL given to ``rows``/``execute`` uses ``?`` placeholders on every backend.
    """

    name: str
    url: str
    missing_table: str  # the error text for a table that does not exist

    def open(self) -> Store:
        return open_store(self.url)

    def make(self, migrations: Sequence[Migration] | None = None) -> Store:
        """A store not yet migrated (the constructor, not open_store)."""
        raise NotImplementedError

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def execute(self, sql: str, *params: Any) -> None:
        raise NotImplementedError

    def write_marker(self) -> object:
        """A value that changes whenever a write to the article tables commits."""
        raise NotImplementedError

    def snapshot(self) -> object:
        """Everything that must stay the same when opening is refused."""
        raise NotImplementedError

    def uses_index(self, sql: str) -> bool:
        raise NotImplementedError

    def tables(self) -> set[str]:
        raise NotImplementedError

    def applied_versions(self) -> list[int]:
        return [v for (v,) in self.rows("SELECT version FROM schema_migrations ORDER BY 1")]

    def close(self) -> None:
        pass


class SQLiteBackend(Backend):
    name = "sqlite"
    missing_table = "no such table: nowhere"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._watcher: sqlite3.Connection | None = None

    def make(self, migrations: Sequence[Migration] | None = None) -> Store:
        return SQLiteStore(self.path, migrations=migrations)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def execute(self, sql: str, *params: Any) -> None:
        conn = sqlite3.connect(self.path)
        try:
            with conn:
                conn.execute(sql, params)
        finally:
            conn.close()

    def write_marker(self) -> object:
        # PRAGMA data_version moves when another connection commits.
        if self._watcher is None:
            self._watcher = sqlite3.connect(self.path)
        return self._watcher.execute("PRAGMA data_version").fetchone()

    def snapshot(self) -> object:
        return self.path.read_bytes(), sorted(os.listdir(self.path.parent))

    def uses_index(self, sql: str) -> bool:
        plan = self.rows("EXPLAIN QUERY PLAN " + sql)
        return "USING INDEX" in plan[0][3] or "PRIMARY KEY" in plan[0][3]

    def tables(self) -> set[str]:
        return {n for (n,) in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()


class PostgresBackend(Backend):
    name = "postgresql"
    missing_table = 'relation "nowhere" does not exist'

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self._conn = psycopg.connect(url, autocommit=True)

    def make(self, migrations: Sequence[Migration] | None = None) -> Store:
        from storage.postgres import PostgresStore

        return PostgresStore(self.url, migrations=migrations)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql.replace("?", "%s"), params).fetchall()  # type: ignore[arg-type]

    def execute(self, sql: str, *params: Any) -> None:
        self._conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]

    def write_marker(self) -> object:
        # A row's xmin changes when it is rewritten, its xmax when it is locked or deleted.
        return self.rows(
            "SELECT (SELECT string_agg(xmin::text || ':' || xmax::text, ',' ORDER BY id)"
            " FROM articles),"
            " (SELECT string_agg(xmin::text || ':' || xmax::text, ',' ORDER BY url) FROM pages),"
            " (SELECT string_agg(xmin::text || ':' || xmax::text, ',') FROM counters)"
        )

    def snapshot(self) -> object:
        return (
            self.tables(),
            self.rows("SELECT version, applied_at FROM schema_migrations ORDER BY 1"),
            self.write_marker(),
        )

    def uses_index(self, sql: str) -> bool:
        self.execute("SET enable_seqscan = off")  # a tiny table would be scanned anyway
        try:
            plan = " ".join(line for (line,) in self.rows("EXPLAIN " + sql))
        finally:
            self.execute("RESET enable_seqscan")
        return "Index" in plan and "Seq Scan" not in plan

    def tables(self) -> set[str]:
        return {
            n
            for (n,) in self.rows(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
        }

    def close(self) -> None:
        self._conn.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        b: Backend = SQLiteBackend(tmp_path / "qkfeed.db")
        yield b
        b.close()
    else:
        with pg_server.fresh_database() as url:
            b = PostgresBackend(url)
            yield b
            b.close()


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    with backend.open() as s:
        yield s


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "qkfeed.db"


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(db_path) as s:
        s.migrate()
        yield s


def applied_versions(path: Path) -> list[int]:
    return SQLiteBackend(path).applied_versions()


# -- opening and migrations ----------------------------------------------------


def test_open_store_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///data/sub/q.db") as s:  # relative: parent directories created
        assert s.count_articles() == 0
    assert (tmp_path / "data" / "sub" / "q.db").is_file()
    with open_store(f"sqlite:///{tmp_path / 'abs.db'}") as s:  # sqlite:////abs/path
        s.upsert_article(make_article())
    assert (tmp_path / "abs.db").is_file()
    with open_store("sqlite:///:memory:") as s:
        assert s.upsert_article(make_article()) == "new"
        assert isinstance(s, Store)  # structural: SQLiteStore satisfies the protocol


def test_open_store_postgres_url_forms() -> None:
    from storage.postgres import PostgresStore

    with pg_server.fresh_database() as url:
        assert url.startswith("postgresql://")
        with open_store(url) as s:
            assert isinstance(s, PostgresStore) and isinstance(s, Store)
            assert s.upsert_article(make_article()) == "new"
        for scheme in ("postgres", "postgresql+psycopg", "POSTGRESQL"):
            with open_store(scheme + url.removeprefix("postgresql")) as s:
                assert s.count_articles() == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql://user:secret@127.0.0.1:1/qkfeed",
            "cannot open PostgreSQL database user@127.0.0.1:1/qkfeed: connection failed",
        ),
        (
            "postgres://user:secret@127.0.0.1:notaport/qkfeed",
            "cannot open PostgreSQL database user@127.0.0.1:notaport/qkfeed: ",
        ),
        ("postgresql://user:secret@[::1/x", "invalid PostgreSQL URL"),
        ("mysql://user:secret@db/x", "unsupported storage URL (scheme 'mysql')"),
        ("data/qkfeed.db", "unsupported storage URL (a URL without a scheme)"),
        ("sqlite://data/qkfeed.db", "a SQLite storage URL is sqlite:///relative/path.db"),
        ("sqlite:///", "a SQLite storage URL is sqlite:///relative/path.db"),
    ],
)
def test_open_store_bad_urls(url: str, message: str) -> None:
    with pytest.raises(StorageError) as info:
        open_store(url)
    assert str(info.value).startswith(message)
    assert "secret" not in str(info.value)
    assert "\n" not in str(info.value)


def test_postgres_errors_never_show_the_password() -> None:
    with pg_server.fresh_database() as url:
        # A role that does not exist; the password rides in the URL and in a query parameter.
        wrong = pg_server.with_user(url, "nobody", "hunter2-secret")
        with pytest.raises(StorageError) as info:
            open_store(wrong)
        assert str(info.value).startswith("cannot open PostgreSQL database nobody@")
        assert "hunter2" not in str(info.value)
        with pytest.raises(StorageError) as info:
            open_store(url + "?password=hunter2-secret&sslmode=bogus")
        assert "hunter2" not in str(info.value) and "sslmode" in str(info.value)
        if pg_server.server().throwaway:  # trust authentication ignores the password
            user = urlsplit(url).username or ""
            with open_store(pg_server.with_user(url, user, "hunter2-secret")) as s:
                assert "hunter2" not in repr(s)


def test_migrations_are_idempotent(backend: Backend) -> None:
    known = len(load_migrations())
    with backend.open() as s:
        s.upsert_article(make_article())
        s.migrate()
        s.migrate()
    with backend.open() as s:
        s.migrate()
        assert s.count_articles() == 1
    assert backend.applied_versions() == list(range(1, known + 1))


def test_bundled_migrations_are_numbered_from_one() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "init"


def test_migrations_apply_in_order_each_in_a_transaction(backend: Backend) -> None:
    init = load_migrations()[0]
    ok = Migration(2, "extra", "CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (7);\n")
    broken = Migration(3, "broken", "CREATE TABLE t3 (x INTEGER);\nINSERT INTO nowhere VALUES (1);")
    store = backend.make(migrations=[broken, init, ok])  # given out of order
    with pytest.raises(StorageError) as info:
        store.migrate()
    store.close()
    assert f"migration 0003_broken failed: {backend.missing_table}" in str(info.value)
    assert backend.applied_versions() == [1, 2]
    assert backend.rows("SELECT x FROM extra") == [(7,)]
    assert "t3" not in backend.tables()  # the failed migration left nothing behind
    # Fixed, it applies on the next start.
    fixed = Migration(3, "broken", "CREATE TABLE t3 (x INTEGER);")
    with backend.make(migrations=[init, ok, fixed]) as s:
        s.migrate()
    assert backend.applied_versions() == [1, 2, 3]


def test_migration_numbering_gap_is_refused(backend: Backend) -> None:
    init = load_migrations()[0]
    with pytest.raises(StorageError, match="not numbered"):
        backend.make(migrations=[init, Migration(3, "later", "SELECT 1;")])


def test_newer_schema_is_refused_without_change(backend: Backend) -> None:
    with backend.open() as s:
        s.upsert_article(make_article())
    backend.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (999, ?)", T0.isoformat()
    )
    before = backend.snapshot()
    known = len(load_migrations())
    expected = (
        f"database schema version 999 is newer than this qkfeed (knows {known}); upgrade qkfeed"
    )
    with pytest.raises(StorageError) as info:
        backend.open()
    assert str(info.value) == expected
    with pytest.raises(StorageError, match="is newer than this qkfeed"):
        backend.make()
    assert backend.snapshot() == before


def test_newer_schema_appearing_after_open_is_refused_by_migrate(
    store: Store, backend: Backend
) -> None:
    backend.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (99, ?)", T0.isoformat()
    )
    with pytest.raises(StorageError, match="schema version 99 is newer"):
        store.migrate()


def test_closed_store_raises_storage_error(backend: Backend) -> None:
    s = backend.open()
    with s:
        pass
    s.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        s.count_articles()
    with pytest.raises(StorageError, match="closed"):
        s.upsert_article(make_article())


# SQLite only: files and pragmas.


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not an SQLite file\n" * 200)
    with pytest.raises(StorageError) as info:
        open_store(f"sqlite:///{path}")
    assert str(info.value) == f"cannot open SQLite database {path}: file is not a database"
    assert path.read_bytes() == b"this is not an SQLite file\n" * 200


def test_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="it is a directory"):
        open_store(f"sqlite:///{tmp_path}")


def test_missing_absolute_directory_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "q.db"
    with pytest.raises(StorageError, match=r"directory .*missing does not exist"):
        open_store(f"sqlite:///{path}")
    assert not path.parent.exists()


def test_relative_directory_that_cannot_be_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocker").write_text("a file where a directory should be")
    with pytest.raises(StorageError, match="cannot create directory blocker/sub"):
        open_store("sqlite:///blocker/sub/q.db")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file modes")
def test_unreadable_and_unwritable_files(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    open_store(f"sqlite:///{path}").close()
    path.chmod(0o000)
    try:
        with pytest.raises(StorageError, match="cannot open SQLite database"):
            open_store(f"sqlite:///{path}")
        path.chmod(0o444)
        with pytest.raises(StorageError, match="cannot write SQLite database .*readonly"):
            open_store(f"sqlite:///{path}")
        path.chmod(0o644)
        tmp_path.chmod(0o555)  # the directory: no room for the WAL files
        with pytest.raises(StorageError, match="SQLite database"):
            open_store(f"sqlite:///{tmp_path / 'other.db'}")
    finally:
        tmp_path.chmod(0o755)
        path.chmod(0o644)


def test_pragmas(sqlite_store: Store) -> None:
    conn = sqlite_store._conn
    assert conn is not None
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (5000,)


# -- upsert ------------------------------------------------------------------


def test_insert_unchanged_updated(store: Store, backend: Backend) -> None:
    article = make_article()
    v0 = store.version()
    assert store.upsert_article(article, now=T0) == "new"
    v1 = store.version()
    assert v1 != v0
    first = store.get_article(article.url)
    assert first is not None
    assert first.guid == "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, article.url))
    assert first.first_seen == first.updated == T0
    assert first.article == article

    marker = backend.write_marker()
    assert store.upsert_article(article, now=T0 + timedelta(hours=1)) == "unchanged"
    assert backend.write_marker() == marker  # "unchanged" writes (and locks) nothing
    assert store.version() == v1
    assert store.get_article(article.url) == first

    edited = make_article(body_text="Nội dung đã sửa", fingerprint="fp-edited")
    later = T0 + timedelta(hours=2)
    assert store.upsert_article(edited, now=later) == "updated"
    assert backend.write_marker() != marker
    second = store.get_article(article.url)
    assert second is not None
    assert (second.id, second.guid, second.first_seen) == (first.id, first.guid, T0)
    assert second.updated == later > first.updated
    assert second.article == edited
    assert store.version() not in (v0, v1)
    assert store.count_articles() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Bài số 1 (cập nhật)"},
        {"published": T0 + timedelta(days=1)},
        {"published": None},
        {"authors": ("Nguyễn Văn A", "Trần Thị B")},
        {"authors": ()},
        {"fingerprint": "other"},
        {"summary": "khác"},  # the lead: a versioned field since issue 12
    ],
)
def test_each_key_field_makes_an_update(store: Store, change: dict[str, object]) -> None:
    store.upsert_article(make_article(), now=T0)
    assert store.upsert_article(make_article(**change), now=T0 + timedelta(1)) == "updated"


def test_other_fields_alone_are_unchanged(store: Store) -> None:
    store.upsert_article(make_article(), now=T0)
    version = store.version()
    same_key = make_article(categories=("Khác",), image_url=None, source_id="other")
    assert store.upsert_article(same_key) == "unchanged"
    assert store.version() == version
    stored = store.get_article(same_key.url)
    assert stored is not None and stored.article == make_article()


def test_datetimes_are_utc_in_and_out(store: Store) -> None:
    ict = timezone(timedelta(hours=7))
    published = datetime(2024, 5, 1, 15, 30, 0, 123, tzinfo=ict)
    store.upsert_article(make_article(published=published, modified=published), now=T0)
    stored = store.get_article(make_article().url)
    assert stored is not None
    assert stored.article.published == published
    assert stored.article.published.tzinfo is UTC and stored.article.published.hour == 8
    assert stored.first_seen.tzinfo is UTC
    # Same instant in another zone is not a change.
    assert (
        store.upsert_article(make_article(published=published.astimezone(UTC), modified=published))
        == "unchanged"
    )
    with pytest.raises(ValueError, match="naive"):
        store.upsert_article(make_article(2, published=datetime(2024, 5, 1)))
    with pytest.raises(ValueError, match="naive"):
        store.upsert_article(make_article(2), now=datetime(2024, 5, 1))
    assert store.count_articles() == 1


def test_raw_html_is_compressed_and_reextractable(store: Store, backend: Backend) -> None:
    html = "<html><body>Biên giới</body></html>".encode() * 100
    store.upsert_article(make_article(1), raw_html=html, now=T0)
    store.upsert_article(make_article(2, source_id="qk7"), raw_html=b"<html>2</html>", now=T0)
    store.upsert_article(make_article(3), now=T0)  # no page
    ((stored,),) = backend.rows("SELECT html FROM pages WHERE url = ?", make_article(1).url)
    assert len(stored) < len(html) and zlib.decompress(stored) == html
    assert list(store.pages_for_reextract()) == [
        (make_article(1).url, "qdnd", html),
        (make_article(2).url, "qk7", b"<html>2</html>"),
    ]
    assert list(store.pages_for_reextract("qk7")) == [
        (make_article(2).url, "qk7", b"<html>2</html>")
    ]
    # An update replaces the page; "unchanged" writes nothing, not even the page.
    store.upsert_article(make_article(1, fingerprint="new"), raw_html=b"v2", now=T0)
    store.upsert_article(make_article(1, fingerprint="new"), raw_html=b"v3", now=T0)
    assert [h for u, _, h in store.pages_for_reextract("qdnd")] == [b"v2"]


def test_pages_for_reextract_pages_through_many(store: Store) -> None:
    for n in range(120):
        store.upsert_article(make_article(n), raw_html=f"<p>{n}</p>".encode(), now=T0)
    pages = list(store.pages_for_reextract())
    assert len(pages) == 120
    assert [url for url, _, _ in pages] == sorted(make_article(n).url for n in range(120))


def test_known_urls_get_and_count(store: Store) -> None:
    for n in range(3):
        store.upsert_article(make_article(n))
    store.upsert_article(make_article(10, source_id="qk7"))
    asked = [make_article(n).url for n in range(1200)] + ["https://elsewhere/x"]
    assert store.known_urls(asked) == {make_article(n).url for n in (0, 1, 2, 10)}
    assert store.known_urls([]) == set()
    assert store.known_urls(iter([make_article(1).url])) == {make_article(1).url}
    assert store.get_article("https://elsewhere/x") is None
    assert store.count_articles() == 4
    assert store.count_articles("qdnd") == 3
    assert store.count_articles("qk7") == 1
    assert store.count_articles("none") == 0


# -- search and listing --------------------------------------------------------


def test_accent_insensitive_search(store: Store) -> None:
    store.upsert_article(
        make_article(1, title="Tuần tra biên giới", body_text="Đồn Biên phòng Ia Đal")
    )
    store.upsert_article(
        make_article(2, title="Huấn luyện", body_text="Giảm 50% thời gian, mã_số 7")
    )
    store.upsert_article(make_article(3, title="Khác", body_text="giảm 500 lượt, mãxsố"))
    nfd = unicodedata.normalize("NFD", "biên giới")
    assert nfd != "biên giới"

    def found(q: str) -> list[int]:
        return sorted(int(s.article.url.rsplit("-", 1)[1]) for s in store.latest(q=q))

    assert found("bien gioi") == [1]
    assert found("BIÊN GIỚI") == [1]
    assert found(nfd) == [1]
    assert found("  Biên   giới ") == [1]
    assert found("don bien phong") == [1]  # body text, đ folded to d
    assert found("ia dal") == [1]
    assert found("50%") == [2]  # % and _ are literal
    assert found("ma_so") == [2]
    assert found("giam") == [2, 3]
    assert found("") == [1, 2, 3]
    assert found("không có") == []


def test_search_text_column_is_folded(store: Store, backend: Backend) -> None:
    article = make_article(title="Biên giới", body_text="Đồn\n\nbiên phòng")
    store.upsert_article(article)
    ((text,),) = backend.rows("SELECT search_text FROM articles")
    assert text == fold_accents("Biên giới Đồn\n\nbiên phòng") == "bien gioi don bien phong"


def test_latest_order_limit_filters(store: Store) -> None:
    # published wins over first_seen; undated articles sort by first_seen; ties by id.
    store.upsert_article(make_article(1, published=T0), now=T0 + timedelta(days=9))
    store.upsert_article(make_article(2, published=None), now=T0 + timedelta(hours=5))
    store.upsert_article(make_article(3, published=T0 + timedelta(hours=3)), now=T0)
    store.upsert_article(
        make_article(4, published=T0 + timedelta(hours=3), source_id="qk7"), now=T0
    )
    store.upsert_article(make_article(5, published=T0 - timedelta(days=1), source_id="qk7"), now=T0)

    def numbers(articles: list) -> list[int]:
        return [int(s.article.url.rsplit("-", 1)[1]) for s in articles]

    assert numbers(store.latest()) == [2, 4, 3, 1, 5]
    assert numbers(store.latest(limit=2)) == [2, 4]
    assert store.latest(limit=0) == []
    assert numbers(store.latest(source_id="qk7")) == [4, 5]
    assert numbers(store.latest(source_id="qdnd", limit=1)) == [2]
    assert numbers(store.latest(since=T0 + timedelta(hours=3))) == [2, 4, 3]
    assert numbers(store.latest(since=T0, source_id="qk7")) == [4]
    assert numbers(store.latest(q="bai so 3")) == [3]
    assert store.latest(source_id="nobody") == []
    with pytest.raises(ValueError, match="naive"):
        store.latest(since=datetime(2024, 1, 1))


def test_version_is_cheap_and_changes_on_every_write(store: Store, backend: Backend) -> None:
    seen = {store.version()}
    for n in range(5):
        store.upsert_article(make_article(n))
        seen.add(store.version())
        store.upsert_article(make_article(n, fingerprint="x"))
        seen.add(store.version())
    assert len(seen) == 11
    assert backend.uses_index("SELECT value FROM counters WHERE name = 'articles'")


# -- HTTP cache, runs, health, backfill ----------------------------------------


def test_http_cache(store: Store) -> None:
    url = "https://www.qdnd.vn/quoc-phong"
    assert store.http_cache_get(url) == (None, None)
    store.http_cache_put(url, '"abc"', "Wed, 01 May 2024 08:00:00 GMT")
    assert store.http_cache_get(url) == ('"abc"', "Wed, 01 May 2024 08:00:00 GMT")
    store.http_cache_put(url, None, "Thu, 02 May 2024 08:00:00 GMT")
    assert store.http_cache_get(url) == (None, "Thu, 02 May 2024 08:00:00 GMT")
    assert store.http_cache_get(url + "/other") == (None, None)


def test_runs_and_health(store: Store, backend: Backend) -> None:
    now = T0 + timedelta(days=2)
    (never,) = store.source_health(["qk7"], now=now)
    assert never.source_id == "qk7"
    assert (never.last_run, never.last_success, never.articles, never.errors) == (None, None, 0, 0)
    assert (never.consecutive_failures, never.last_error, never.degraded) == (0, None, None)
    assert never.articles_last_day == 0

    def run(hour: int, ok: bool, **kw: object) -> None:
        start = T0 + timedelta(hours=hour)
        store.record_run(
            "qdnd",
            started=start,
            finished=start + timedelta(minutes=1),
            ok=ok,
            new=kw.pop("new", 0),
            updated=0,
            errors=kw.pop("errors", 0),
            **kw,  # type: ignore[arg-type]
        )

    run(1, True, new=3)
    run(2, False, errors=1, message="HTTP 503")
    run(
        3,
        False,
        errors=2,
        message="timeout",
        degraded="profile selector 'date' (div.x) stopped matching",
    )
    (h,) = store.source_health(["qdnd"], now=now)
    assert h.consecutive_failures == 2
    assert h.last_run == T0 + timedelta(hours=3)
    assert h.last_success == T0 + timedelta(hours=1)
    assert (h.errors, h.last_error) == (2, "timeout")
    assert h.degraded == "profile selector 'date' (div.x) stopped matching"
    run(4, True, errors=1, message="1 article failed")
    (h,) = store.source_health(["qdnd"], now=now)
    assert h.consecutive_failures == 0
    assert h.last_success == h.last_run == T0 + timedelta(hours=4)
    assert (h.errors, h.last_error, h.degraded) == (1, "1 article failed", None)
    run(5, False, errors=1, message="boom")
    (h,) = store.source_health(["qdnd"], now=now)
    assert h.consecutive_failures == 1 and h.last_success == T0 + timedelta(hours=4)
    assert h.feed_problem is None
    run(6, True, feed_problem="https://x.test/rss: HTTP 404; HTML listing used")
    (h,) = store.source_health(["qdnd"], now=now)
    assert (h.degraded, h.feed_problem) == (None, "https://x.test/rss: HTTP 404; HTML listing used")

    runs = backend.rows("SELECT ok, new_count, error_count, message FROM runs ORDER BY id")
    assert runs == [
        (1, 3, 0, None),
        (0, 0, 1, "HTTP 503"),
        (0, 0, 2, "timeout"),
        (1, 0, 1, "1 article failed"),
        (0, 0, 1, "boom"),
        (1, 0, 0, None),
    ]
    assert backend.rows("SELECT feed_problem FROM runs ORDER BY id")[-2:] == [
        (None,), ("https://x.test/rss: HTTP 404; HTML listing used",)
    ]


def test_a_packed_feed_note_migrates_to_its_column(backend: Backend) -> None:
    """Before 0005 a broken feed's note was packed at the head of ``degraded``."""
    with backend.make(migrations=load_migrations()[:4]) as old:
        old.migrate()  # an archive at 0004, rows as that qkfeed wrote them
    note = "https://x.test/rss: HTTP 404; HTML listing used"
    drift = "profile selector 'date' (div.x) stopped matching"
    packed = {
        "both": f"feed listing failed: {note} | {drift}",
        "note": f"feed listing failed: {note}",
        "drift": drift,
        "none": None,
    }
    for n, (sid, degraded) in enumerate(packed.items()):
        stamp = (T0 + timedelta(hours=n)).isoformat()
        backend.execute(
            "INSERT INTO runs (source_id, started, finished, ok, new_count, updated_count,"
            " error_count, message, degraded) VALUES (?, ?, ?, ?, 0, 0, 0, NULL, ?)",
            sid, stamp, stamp, True, degraded,
        )
        backend.execute(
            "INSERT INTO source_state (source_id, last_run, last_success, last_errors,"
            " consecutive_failures, last_error, degraded) VALUES (?, ?, ?, 0, 0, NULL, ?)",
            sid, stamp, stamp, degraded,
        )
    with backend.make() as store:
        store.migrate()
        health = {h.source_id: h for h in store.source_health(list(packed), now=T0)}
    expected = {"both": (drift, note), "note": (None, note), "drift": (drift, None), "none": (None, None)}
    assert {sid: (h.degraded, h.feed_problem) for sid, h in health.items()} == expected
    assert health["both"].warning == packed["both"]  # shown as before
    runs = backend.rows("SELECT source_id, degraded, feed_problem FROM runs ORDER BY started")
    assert {sid: (d, f) for sid, d, f in runs} == expected


def test_health_article_counts(store: Store) -> None:
    now = T0 + timedelta(days=10)
    store.upsert_article(make_article(1), now=now - timedelta(hours=1))
    store.upsert_article(make_article(2), now=now - timedelta(hours=23, minutes=59))
    store.upsert_article(make_article(3), now=now - timedelta(hours=25))
    store.upsert_article(make_article(4, source_id="qk7"), now=now - timedelta(days=3))
    health = store.source_health(["qk7", "qdnd", "new", "qk7"], now=now)
    assert [(h.source_id, h.articles, h.articles_last_day) for h in health] == [
        ("qk7", 1, 0),
        ("qdnd", 3, 2),
        ("new", 0, 0),
    ]


def test_backfill_state(store: Store) -> None:
    assert store.backfill_state_get("qdnd") is None
    state = {"next_page": 17, "cursor": "trang-17", "done": False, "note": "biên giới"}
    store.backfill_state_put("qdnd", state)
    assert store.backfill_state_get("qdnd") == state
    store.backfill_state_put("qdnd", {"next_page": 18})
    assert store.backfill_state_get("qdnd") == {"next_page": 18}
    assert store.backfill_state_get("qk7") is None
    store.backfill_state_clear("qdnd")
    store.backfill_state_clear("qdnd")
    assert store.backfill_state_get("qdnd") is None
    with pytest.raises(TypeError):
        store.backfill_state_put("qdnd", ["not", "a", "dict"])  # type: ignore[arg-type]


# -- concurrency and crash safety ----------------------------------------------


def test_threads_share_one_store(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for n in range(40):
                store.upsert_article(make_article(worker * 1000 + n))
                store.upsert_article(make_article(worker * 1000 + n, fingerprint="v2"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(100):
                store.latest(limit=5, q="bai")
                store.version()
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count_articles() == 240
    assert store.version() == "480"


def test_two_connections_racing_on_the_same_urls_never_duplicate(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)]
    results: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(stores))

    def work(s: Store) -> None:
        for n in range(30):
            barrier.wait()  # all four upsert URL n at the same moment
            r = s.upsert_article(make_article(n))
            with lock:
                results.append(r)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("new") == 30 and results.count("unchanged") == 90
    assert stores[0].count_articles() == 30
    assert stores[0].version() == "30"  # a lost race leaves no gap in the counter
    for s in stores:
        s.close()


# -- PostgreSQL only -----------------------------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_server.fresh_database() as url:
        yield url


def test_postgres_column_types(pg_url: str) -> None:
    open_store(pg_url).close()
    backend = PostgresBackend(pg_url)
    try:
        types = dict(
            (f"{t}.{c}", d)
            for t, c, d in backend.rows(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
            )
        )
        (identity,) = backend.rows(
            "SELECT is_identity FROM information_schema.columns"
            " WHERE table_name = 'articles' AND column_name = 'id'"
        )
    finally:
        backend.close()
    assert types["articles.id"] == "bigint" and identity == ("YES",)
    assert types["articles.published"] == "timestamp with time zone"
    assert types["schema_migrations.applied_at"] == "timestamp with time zone"
    assert types["articles.authors"] == types["backfill_state.state"] == "jsonb"
    assert types["pages.html"] == "bytea"
    assert types["runs.ok"] == "boolean"


def test_postgres_processes_migrating_together_migrate_once(pg_url: str) -> None:
    results: list[object] = []

    def open_one() -> None:
        try:
            with open_store(pg_url) as s:
                results.append(s.count_articles())
        except BaseException as exc:  # pragma: no cover - reported below
            results.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0] * 5
    backend = PostgresBackend(pg_url)
    try:
        assert backend.applied_versions() == list(range(1, len(load_migrations()) + 1))
    finally:
        backend.close()


def test_postgres_lost_insert_race_is_retried(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another connection inserts the URL between our locked read and our insert."""
    from storage import postgres

    ours, theirs = open_store(pg_url), open_store(pg_url)
    real_next_seq = postgres._next_seq
    calls: list[str] = []

    def next_seq_after_theirs(conn: Any) -> int:
        if not calls:
            calls.append("theirs")
            calls[0] = theirs.upsert_article(make_article(), now=T0)  # commits first
        return real_next_seq(conn)

    monkeypatch.setattr(postgres, "_next_seq", next_seq_after_theirs)
    with ours, theirs:
        assert ours.upsert_article(make_article(), now=T0 + timedelta(hours=1)) == "unchanged"
        assert calls == ["new"]
        assert ours.count_articles() == 1 and ours.version() == "1"  # our bump rolled back
        stored = ours.get_article(make_article().url)
        assert stored is not None and stored.first_seen == T0
        edited = make_article(fingerprint="edited")
        calls.clear()
        calls.append("skip")
        assert ours.upsert_article(edited) == "updated"


def test_postgres_reconnects_after_losing_the_connection(pg_url: str) -> None:
    backend = PostgresBackend(pg_url)
    with open_store(pg_url) as s:
        s.upsert_article(make_article())
        backend.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        # The pool checks a connection when it hands it out: a dead one is replaced.
        assert s.count_articles() == 1
        assert s.upsert_article(make_article(2)) == "new"
    backend.close()


def test_postgres_reads_do_not_wait_for_a_write_in_progress(pg_url: str) -> None:
    """The feed server's reads go on while the pipeline holds a write transaction."""
    with open_store(pg_url, pool_size=2) as s:
        s.upsert_article(make_article())
        in_write, done = threading.Event(), threading.Event()

        def long_write() -> None:
            with s._writing() as conn:  # type: ignore[attr-defined]
                conn.execute("UPDATE counters SET value = value")
                in_write.set()
                done.wait(10)

        writer = threading.Thread(target=long_write)
        writer.start()
        try:
            assert in_write.wait(10)
            started = time.monotonic()
            assert s.count_articles() == 1
            assert s.latest(limit=5)[0].article.url == make_article().url
            assert time.monotonic() - started < 5
        finally:
            done.set()
            writer.join()


def test_postgres_store_with_one_connection_works(pg_url: str) -> None:
    """No call takes a second connection while it holds one (that would hang at pool_size 1)."""
    with open_store(pg_url, pool_size=1) as s:
        assert s.upsert_article(make_article()) == "new"
        assert s.upsert_article(make_article(2, body_text=make_article().body_text)) == "new"
        assert s.count_articles() == 2
        assert s.version()
        assert s.latest(q="bài", collapse_clusters=True)


def test_postgres_pool_size_must_be_positive(pg_url: str) -> None:
    with pytest.raises(StorageError, match="pool_size"):
        open_store(pg_url, pool_size=0)


def test_postgres_read_only_role_fails_at_open(pg_url: str) -> None:
    if not pg_server.server().throwaway:
        pytest.skip("needs a server where a new role can log in without a password")
    open_store(pg_url).close()
    backend = PostgresBackend(pg_url)
    role = "qkfeed_reader_" + uuid.uuid4().hex[:8]
    try:
        backend.execute(f"CREATE ROLE {role} LOGIN")
        backend.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        with pytest.raises(StorageError) as info:
            open_store(pg_server.with_user(pg_url, role))
        assert str(info.value).startswith(f"cannot write PostgreSQL database {role}@")
        assert str(info.value).endswith(
            "permission denied for table counters (check the role's privileges on the database)"
        )
        # A role that may not create tables in a new database fails the same clear way.
        other = pg_server.server().create_database()
        try:
            backend.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            with pytest.raises(StorageError, match=r"permission denied for schema public \(check"):
                open_store(pg_server.with_user(pg_server.server().url(other), role))
        finally:
            pg_server.server().drop_database(other)
    finally:
        backend.execute(f"DROP OWNED BY {role}")
        backend.execute(f"DROP ROLE {role}")
        backend.close()


# -- crash safety (SQLite only: a killed PostgreSQL client is the server's business) --


# The child upserts forever, printing "url version" after each upsert returns.
# With a third argument F it instead kills itself with SIGKILL from inside SQLite
# (a progress handler) at the fraction F of the VM steps of one upsert, so the
# kill lands at a known point in the middle of the transaction.
CHILD = r"""
import hashlib, os, signal, sys
from storage import open_store
from scraper.models import Article

path, round_no = sys.argv[1], int(sys.argv[2])
fraction = float(sys.argv[3]) if len(sys.argv) > 3 else None
store = open_store("sqlite:///" + path)
steps = 0

def count():
    global steps
    steps += 1
    return 0

def kill_at(target):
    def handler():
        global steps
        steps += 1
        if steps >= target:
            os.kill(os.getpid(), signal.SIGKILL)
        return 0
    return handler

def write(i):
    v = round_no * 1_000_000 + i
    body = f"nội dung phiên bản {v} " * 3000
    url = f"https://crash.test/{i % 25}"
    store.upsert_article(
        Article(
            url=url, source_id="crash", title=f"Bài v{v}", published=None,
            authors=(f"v{v}",), body_html=f"<p>{body}</p>", body_text=body,
            fingerprint=hashlib.sha256(body.encode()).hexdigest(),
        ),
        raw_html=f"<html>v{v}</html>".encode() * 2000,
    )
    print(url, v, flush=True)

i = 0
while True:
    if fraction is not None and i == 30:
        store._conn.set_progress_handler(count, 1)
        write(i)  # measure one upsert
        i += 1
        total, steps = steps, 0
        store._conn.set_progress_handler(kill_at(max(1, int(total * fraction))), 1)
        write(i)
        sys.exit(3)  # not killed: the test fails
    write(i)
    i += 1
"""


def run_child(
    db_path: Path,
    round_no: int,
    acked: dict[str, int],
    *,
    stop_after: int | None,
    fraction: float | None,
) -> None:
    args = [sys.executable, "-c", CHILD, str(db_path), str(round_no)]
    if fraction is not None:
        args.append(str(fraction))
    with subprocess.Popen(
        args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        count = 0
        while stop_after is None or count < stop_after:
            line = proc.stdout.readline()
            if not line:
                break
            url, v = line.split()
            acked[url] = int(v)
            count += 1
        if stop_after is not None:
            proc.send_signal(signal.SIGKILL)  # the child never pauses: mid-write or close to it
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()


def check_whole_rows(db_path: Path, acked: dict[str, int]) -> None:
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    rows = conn.execute(
        "SELECT a.url, a.title, a.authors, a.body_html, a.body_text, a.fingerprint,"
        " a.search_text, a.change_seq, p.html FROM articles a LEFT JOIN pages p ON p.url = a.url"
    ).fetchall()
    (counter,) = conn.execute("SELECT value FROM counters WHERE name = 'articles'").fetchone()
    conn.close()
    assert len(rows) == 25
    for url, title, authors, body_html, body_text, fingerprint, search, seq, page in rows:
        v = int(title.removeprefix("Bài v"))
        assert authors == f'["v{v}"]'
        assert body_text == f"nội dung phiên bản {v} " * 3000
        assert body_html == f"<p>{body_text}</p>"
        assert fingerprint == hashlib.sha256(body_text.encode()).hexdigest()
        assert search == fold_accents(title + " " + body_text)
        assert zlib.decompress(page) == f"<html>v{v}</html>".encode() * 2000
        assert seq <= counter
        assert v >= acked[url]  # every acknowledged write survived


def test_sigkill_at_any_moment_leaves_whole_rows(db_path: Path) -> None:
    acked: dict[str, int] = {}
    for round_no, stop_after in enumerate((40, 75, 110)):
        run_child(db_path, round_no, acked, stop_after=stop_after, fraction=None)
    check_whole_rows(db_path, acked)
    with open_store(f"sqlite:///{db_path}") as s:  # and the store still opens and writes
        assert s.upsert_article(make_article()) == "new"


def test_sigkill_inside_a_transaction_leaves_whole_rows(db_path: Path) -> None:
    acked: dict[str, int] = {}
    for round_no, fraction in enumerate((0.05, 0.25, 0.45, 0.6, 0.75, 0.9)):
        run_child(db_path, round_no, acked, stop_after=None, fraction=fraction)
        check_whole_rows(db_path, acked)


# -- source leases (several workers on one database) -----------------------------------


def test_lease_is_exclusive_until_released_or_expired(store: Store) -> None:
    t = T0
    first = store.take_lease("qdnd", "w1", ttl=60, min_gap=50, now=t)
    assert first.taken and first.holder == "w1" and first.expires == t + timedelta(seconds=60)
    refused = store.take_lease("qdnd", "w2", ttl=60, min_gap=50, now=t + timedelta(seconds=10))
    assert not refused.taken and refused.holder == "w1" and refused.last_run == t  # taking = a run
    assert store.take_lease("qk7", "w2", ttl=60, min_gap=50, now=t).taken  # per source
    assert store.renew_lease("qdnd", "w1", ttl=60, now=t + timedelta(seconds=30))
    assert not store.renew_lease("qdnd", "w2", ttl=60, now=t + timedelta(seconds=30))
    # expired (renewed to t+90): another worker takes it over, one gap after the dead run began
    assert not store.take_lease("qdnd", "w2", ttl=60, min_gap=50, now=t + timedelta(seconds=89)).taken
    over = store.take_lease("qdnd", "w2", ttl=60, min_gap=50, now=t + timedelta(seconds=90))
    assert over.taken and over.holder == "w2" and over.last_run == t + timedelta(seconds=90)
    assert not store.renew_lease("qdnd", "w1", ttl=60, now=t + timedelta(seconds=91))
    store.release_lease("qdnd", "w1", last_run=t)  # not ours any more: nothing happens
    assert not store.take_lease("qdnd", "w3", ttl=60, min_gap=0, now=t + timedelta(seconds=91)).taken
    # released after a run that started at t+90: nobody runs it again before t+140
    store.release_lease("qdnd", "w2", last_run=t + timedelta(seconds=90))
    early = store.take_lease("qdnd", "w3", ttl=60, min_gap=50, now=t + timedelta(seconds=139))
    assert not early.taken and early.holder is None
    assert early.last_run == t + timedelta(seconds=90)
    assert store.take_lease("qdnd", "w3", ttl=60, min_gap=50, now=t + timedelta(seconds=140)).taken
    # released without a finished run (cancelled): free, but its start still counts
    store.release_lease("qdnd", "w3", last_run=None)
    assert not store.take_lease("qdnd", "w1", ttl=60, min_gap=50, now=t + timedelta(seconds=141)).taken
    again = store.take_lease("qdnd", "w1", ttl=60, min_gap=0, now=t + timedelta(seconds=141))
    assert again.taken and again.last_run == t + timedelta(seconds=141)


def test_a_lease_of_a_dead_holder_can_be_stolen(store: Store) -> None:
    assert store.take_lease("qdnd", "host:1:aa", ttl=600, min_gap=0, now=T0).taken
    assert not store.take_lease(  # not before a gap after its run began, though
        "qdnd", "host:2:bb", ttl=600, min_gap=10, steal_from="host:1:aa", now=T0
    ).taken
    assert not store.take_lease("qdnd", "host:2:bb", ttl=600, min_gap=0, now=T0).taken
    assert not store.take_lease(
        "qdnd", "host:2:bb", ttl=600, min_gap=0, steal_from="host:9:zz", now=T0
    ).taken
    assert store.take_lease(
        "qdnd", "host:2:bb", ttl=600, min_gap=0, steal_from="host:1:aa", now=T0
    ).taken


def test_lease_uses_the_store_clock(store: Store) -> None:
    state = store.take_lease("qdnd", "w1", ttl=30, min_gap=0)
    assert state.taken and state.expires is not None
    assert abs((state.expires - state.now).total_seconds() - 30) < 1e-3
    assert abs((state.now - datetime.now(UTC)).total_seconds()) < 5


def test_workers_racing_for_a_free_lease_one_wins(backend: Backend) -> None:
    stores = [backend.open() for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    won: list[str] = []
    lock = threading.Lock()

    def work(i: int, s: Store) -> None:
        for round_no in range(15):
            barrier.wait()
            state = s.take_lease(f"src{round_no}", f"w{i}", ttl=60, min_gap=30)
            if state.taken:
                with lock:
                    won.append(f"src{round_no}")

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(won) == sorted(f"src{n}" for n in range(15))
