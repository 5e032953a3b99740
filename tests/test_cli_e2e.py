"""``run.py fetch`` then ``run.py feed`` as subprocesses against the fixture server, as a user types them."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest
from conftest import ROOT, config_for

SITES = tuple(s for s in ("qk3", "qdnd", "qk7", "bienphong") if (ROOT / "tests/fixtures/sites" / s).is_dir())


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def article_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT url, source_id FROM articles ORDER BY url").fetchall()


def story_count(db: Path) -> int:
    """Stories in the combined feed: one per cluster of syndicated copies (qk7 reposts a qdnd story)."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM articles WHERE cluster_id IS NULL OR cluster_id = id").fetchone()[0]


@pytest.fixture
def setup(fresh_sites, tmp_path: Path):
    db = tmp_path / "data" / "qk.db"
    db.parent.mkdir()
    cfg = tmp_path / "config.toml"
    config_for(fresh_sites, f"sqlite:///{db}", cfg)
    return fresh_sites, cfg, db


def test_fetch_then_feed(setup, tmp_path: Path) -> None:
    sites, cfg, db = setup
    proc = run("--config", str(cfg), "fetch", *SITES, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    rows = article_rows(db)
    per_site = {s: sum(1 for _, sid in rows if sid == s) for s in SITES}
    assert all(n >= 2 for n in per_site.values()), per_site  # listing page 1 of every site

    for fmt in ("atom", "rss"):
        out = tmp_path / f"feed.{fmt}"
        proc = run("--config", str(cfg), "feed", "--format", fmt, "-o", str(out), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        parsed = feedparser.parse(out.read_bytes())
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert len(parsed.entries) == story_count(db) < len(rows)
        titles = {e.title for e in parsed.entries}
        assert "Bộ Tham mưu Quân khu: Tổng kết công tác đảng, công tác chính trị năm 2023" in titles
        dates = [e.get("published_parsed") or e.get("updated_parsed") for e in parsed.entries]
        assert dates == sorted(dates, reverse=True)

    proc = run("--config", str(cfg), "feed", "--format", "atom", "--source", "qk3", cwd=tmp_path)
    assert proc.returncode == 0
    assert len(feedparser.parse(proc.stdout.encode()).entries) == per_site["qk3"]

    proc = run("--config", str(cfg), "sources", "--json", cwd=tmp_path)
    health = {h["id"]: h for h in json.loads(proc.stdout)}
    for s in SITES:
        assert health[s]["last_success"] is not None
        assert health[s]["articles"] == per_site[s]


def test_fetch_twice_stores_nothing_new_and_an_edit_updates_one_row(setup, tmp_path: Path) -> None:
    sites, cfg, db = setup
    assert run("--config", str(cfg), "fetch", "qk3", cwd=tmp_path).returncode == 0
    first = article_rows(db)
    proc = run("--config", str(cfg), "fetch", "qk3", cwd=tmp_path)
    assert proc.returncode == 0
    assert "new=0" in proc.stdout and "updated=0" in proc.stdout
    assert article_rows(db) == first

    path = "/chinh-tri-xa-hoi/bo-tham-muu-quan-khu-tong-ket-cong-tac-dang-cong-tac-chinh-tri-nam-2023-4048"
    with sqlite3.connect(db) as conn:
        guid_before, updated_before = conn.execute(
            "SELECT guid, updated FROM articles WHERE url LIKE ?", (f"%{path}",)).fetchone()
    # an edited title shows on the article page and on the listing; the listing's new ETag
    # makes the run re-check its young articles (conditionally), which finds the edit
    old, new = "Tổng kết công tác đảng", "Tổng kết toàn diện công tác đảng"
    assert sites.edit_article("qk3", path, old, new) >= 1
    assert sites.edit_article("qk3", "/chinh-tri-xa-hoi", old, new) >= 1
    proc = run("--config", str(cfg), "fetch", "qk3", cwd=tmp_path)
    assert proc.returncode == 0
    assert "new=0" in proc.stdout and "updated=1" in proc.stdout, proc.stdout
    assert article_rows(db) == first
    with sqlite3.connect(db) as conn:
        guid_after, updated_after, body = conn.execute(
            "SELECT guid, updated, title FROM articles WHERE url LIKE ?", (f"%{path}",)).fetchone()
    assert guid_after == guid_before
    assert updated_after > updated_before
    assert "Tổng kết toàn diện công tác đảng" in body


def test_new_article_on_the_listing_is_picked_up(setup, tmp_path: Path) -> None:
    sites, cfg, db = setup
    assert run("--config", str(cfg), "fetch", "qk3", cwd=tmp_path).returncode == 0
    before = len(article_rows(db))
    seed = "/chinh-tri-xa-hoi/bo-tham-muu-quan-khu-tong-ket-cong-tac-dang-cong-tac-chinh-tri-nam-2023-4048"
    template = (ROOT / "tests/fixtures/sites/qk3" / sites.manifest("qk3")["routes"][seed]).read_text(encoding="utf-8")
    new_path = "/chinh-tri-xa-hoi/bo-chi-huy-quan-su-tinh-tong-ket-9001"
    page = template.replace("Bộ Tham mưu Quân khu: Tổng kết", "Bộ Chỉ huy Quân sự tỉnh: Tổng kết")
    page = page.replace(seed, new_path).replace("/node/4048", "/node/9001")  # its own canonical URL
    sites.add_article("qk3", new_path, page, "/chinh-tri-xa-hoi")
    proc = run("--config", str(cfg), "fetch", "qk3", cwd=tmp_path)
    assert proc.returncode == 0
    assert "new=1" in proc.stdout, proc.stdout
    assert len(article_rows(db)) == before + 1


def test_backfill_walks_pagination_and_is_idempotent(setup, tmp_path: Path) -> None:
    sites, cfg, db = setup
    proc = run("--config", str(cfg), "backfill", "qk3", "--pages", "3", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = article_rows(db)
    listing_one = run("--config", str(cfg), "fetch", "qk3", cwd=tmp_path)
    assert "new=0" in listing_one.stdout
    assert len(rows) >= 3  # page 2 holds at least one article that page 1 does not
    again = run("--config", str(cfg), "backfill", "qk3", "--pages", "3", "--quiet", cwd=tmp_path)
    assert "new=0" in again.stdout
    assert article_rows(db) == rows


def test_extract_command_prints_json(fixture_sites, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    config_for(fixture_sites, f"sqlite:///{tmp_path / 'x.db'}", cfg)
    path = "/chinh-tri-xa-hoi/bo-tham-muu-quan-khu-tong-ket-cong-tac-dang-cong-tac-chinh-tri-nam-2023-4048"
    proc = run("--config", str(cfg), "extract", fixture_sites.url("qk3", path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"url", "title", "published", "authors", "body_text", "body_html"} <= set(data)
    assert data["published"] == "2024-01-05T10:37:00Z"
    assert data["authors"] == ["Anh Thư"]

    saved = tmp_path / "page.html"
    saved.write_bytes(__import__("httpx").get(fixture_sites.url("qk3", path)).content)
    proc = run("--config", str(cfg), "extract", str(saved), "--url", "https://quankhu3.vn" + path, "--source", "qk3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"] == data["title"]


def _commands() -> list[str]:
    """Every subcommand the parser knows, so a new command cannot skip --help or the README."""
    import argparse

    from scraper.cli import build_parser

    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help_and_is_in_the_readme(command: str, tmp_path: Path) -> None:
    proc = run(command, "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "usage:" in proc.stdout
    assert f"`{command}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_unknown_source_is_one_line_and_exit_2(setup, tmp_path: Path) -> None:
    _, cfg, _ = setup
    proc = run("--config", str(cfg), "fetch", "nosuch", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and "nosuch" in proc.stderr
    assert "Traceback" not in proc.stderr
