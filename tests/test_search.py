"""Full-text search: latest(q=...) on SQLite (FTS5) and PostgreSQL (GIN tsvector), and ``run.py search``.

Store tests run on both backends (``backend`` from test_storage).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
import test_storage
from test_storage import REPO_ROOT, Backend, make_article

from scraper.text import fold_accents
from storage import Store
from storage._migrations import load_migrations
from storage.base import search_terms

backend = test_storage.backend  # the fixtures: every store test runs on both backends
store = test_storage.store


def numbers(items: list) -> list[int]:
    return sorted(int(s.article.url.rsplit("-", 1)[1]) for s in items)


@pytest.fixture
def archive(store: Store) -> Store:
    store.upsert_article(
        make_article(1, title="Tuần tra biên giới", body_text="Đồn Biên phòng Ia Đal, ngày 12/3/2024.")
    )
    store.upsert_article(
        make_article(2, title="Huấn luyện", body_text="Chiến sĩ mới; biên chế “đủ”.")
    )
    store.upsert_article(
        make_article(3, title="Biên phòng", body_text="Giới trẻ vùng biên, qdnd.vn đưa tin (Covid-19).")
    )
    return store


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("bien gioi", [1, 3]),  # every word, accents folded, anywhere in the text
        ("BIÊN GIỚI", [1, 3]),
        (unicodedata.normalize("NFD", "biên giới"), [1, 3]),
        ("gioi bien", [1, 3]),
        ("tuan tra bien phong", [1]),
        ("gioi", [1, 3]),
        ("bien", [1, 2, 3]),
        ("chien si moi", [2]),
        ("chien si cu", []),  # all words, not any
        ("ia dal", [1]),
        ("đồn", [1]),
        ("2024", [1]),  # inside 12/3/2024
        ("12 3", [1]),
        ("qdnd", [3]),  # inside qdnd.vn
        ("covid 19", [3]),
        ("du", [2]),  # inside typographic quotes
        ("bie", []),  # whole words only
        ("", [1, 2, 3]),
        ("  ", [1, 2, 3]),
        ("%%%", []),  # nothing searchable
    ],
)
def test_search_words(archive: Store, q: str, expected: list[int]) -> None:
    assert numbers(archive.latest(q=q)) == expected


def test_search_terms() -> None:
    assert search_terms("  Biên   giới ") == ["bien", "gioi"]
    assert search_terms("ma_số 50% “đủ”") == ["ma", "so", "50", "du"]
    assert search_terms("%_-") == []


def test_search_follows_updates_and_source_filter(store: Store) -> None:
    store.upsert_article(make_article(1, body_text="Biển đảo"))
    store.upsert_article(make_article(2, body_text="Biển đảo", source_id="qk7"))
    assert numbers(store.latest(q="bien dao")) == [1, 2]
    assert numbers(store.latest(q="bien dao", source_id="qk7")) == [2]
    store.upsert_article(make_article(1, body_text="Đất liền", fingerprint="v2"))
    assert numbers(store.latest(q="bien dao")) == [2]
    assert numbers(store.latest(q="dat lien")) == [1]
    assert numbers(store.latest(q="dat lien", limit=0)) == []


def test_search_uses_the_full_text_index(archive: Store, backend: Backend) -> None:
    if backend.name == "sqlite":
        plan = " ".join(
            row[3]
            for row in backend.rows(
                "EXPLAIN QUERY PLAN SELECT rowid FROM articles_fts WHERE articles_fts MATCH '\"bien\"'"
            )
        )
        assert "VIRTUAL TABLE INDEX" in plan
    else:
        assert backend.uses_index(
            "SELECT id FROM articles WHERE qkfeed_search_vector(search_text)"
            " @@ plainto_tsquery('simple', qkfeed_search_words('bien gioi'))"
        )


def test_articles_stored_before_the_search_migration_are_found(backend: Backend) -> None:
    init = load_migrations()[:1]
    with backend.make(migrations=init) as old:
        old.migrate()
    # the row as the qkfeed of that schema wrote it (today's upsert needs today's columns)
    a = make_article(1, title="Biên giới")
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    backend.execute(
        "INSERT INTO articles (url, guid, source_id, title, authors, agencies, categories, body_html,"
        " body_text, summary, fingerprint, original_url, search_text, first_seen, updated, change_seq)"
        " VALUES (?, ?, ?, ?, '[]', '[]', '[]', ?, ?, '', ?, ?, ?, ?, ?, 1)",
        a.url, "urn:uuid:1", a.source_id, a.title, a.body_html, a.body_text, a.fingerprint, a.url,
        fold_accents(f"{a.title} {a.body_text}"), now, now,
    )
    backend.execute("UPDATE counters SET value = 1 WHERE name = 'articles'")  # as its upsert did
    with backend.open() as s:  # every migration now: 0002 indexes what is there
        assert numbers(s.latest(q="bien gioi")) == [1]
        s.upsert_article(make_article(2, title="Biên giới mới"))
        assert numbers(s.latest(q="bien gioi")) == [1, 2]


def test_search_is_fast_on_a_large_archive(tmp_path: Path) -> None:
    """20,000 articles of 150 words: a search answers in milliseconds, not by a scan."""
    from storage import open_store

    with open_store(f"sqlite:///{tmp_path / 'big.db'}") as s:
        conn = s._conn  # type: ignore[attr-defined]
        assert conn is not None
        words = [f"tu{i}" for i in range(5000)]
        rows = []
        for n in range(20_000):
            text = " ".join(words[(n * 7 + i * 13) % 5000] for i in range(150))
            rows.append((f"https://x.vn/{n}", f"urn:{n}", "qdnd", f"Bài {n}", "[]", "[]", "[]", "",
                         text, "", "fp", "", text + (" bien gioi" if n % 1000 == 0 else ""),
                         "2024-01-01T00:00:00.000000+00:00", "2024-01-01T00:00:00.000000+00:00", n + 1))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO articles (url, guid, source_id, title, authors, agencies, categories,"
            " body_html, body_text, summary, fingerprint, original_url, search_text, first_seen,"
            " updated, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
        started = time.perf_counter()
        found = s.latest(q="Biên giới", limit=50)
        elapsed = time.perf_counter() - started
        assert len(found) == 20
        common = s.latest(q="tu0", limit=50)
        assert len(common) == 50
        assert elapsed < 0.5, f"search took {elapsed:.3f}s"


def test_search_command(tmp_path: Path) -> None:
    from storage import open_store

    db = tmp_path / "q.db"
    with open_store(f"sqlite:///{db}") as s:
        s.upsert_article(make_article(1, title="Tuần tra biên giới"))
        s.upsert_article(make_article(2, title="Biên giới biển", source_id="qk7"))
        s.upsert_article(make_article(3, title="Huấn luyện"))
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[storage]\nurl = "sqlite:///{db}"\n\n'
        '[sources.qdnd]\nname = "QĐND"\nstart_urls = ["https://www.qdnd.vn/"]\n\n'
        '[sources.qk7]\nname = "QK7"\nstart_urls = ["https://www.qk7.vn/"]\n',
        encoding="utf-8",
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(REPO_ROOT / "run.py"), "--config", str(cfg), "search", *args],
            capture_output=True, text=True, cwd=tmp_path, timeout=60,
        )

    proc = run("bien gioi")
    assert proc.returncode == 0, proc.stderr
    assert "Biên giới biển" in proc.stdout and "Tuần tra biên giới" in proc.stdout
    assert "Huấn luyện" not in proc.stdout
    assert proc.stdout.index("Biên giới biển") < proc.stdout.index("Tuần tra")  # newest first
    lines = proc.stdout.splitlines()  # one line per story: time, source, title, link
    assert len(lines) == 2 and all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d  \S+ +.+  https?://\S+$", li) for li in lines), lines
    for nothing in ("", "*", "  ", "?!"):  # no word in it: one usage error for all, not "everything" or "nothing"
        proc = run(nothing)
        assert proc.returncode == 2 and proc.stdout == "" and "has no word to search for" in proc.stderr, nothing
    proc = run("bien gioi", "--source", "qk7", "--limit", "5")
    assert proc.returncode == 0 and "Tuần tra" not in proc.stdout and "biển" in proc.stdout
    proc = run("khong co", "--limit", "1")
    assert proc.returncode == 0 and proc.stdout == "" and "no article matches" in proc.stderr
    assert run("x", "--source", "nope").returncode == 2
    assert run("x", "--limit", "0").returncode == 2
