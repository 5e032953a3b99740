"""Revisits end to end (issue 12): ``run.py fetch`` subprocesses against a fixture site whose
articles are edited without touching their listing, deleted (404, 410), redirected home,
restored, or failing for a while (503, a timeout), with revisit steps of seconds.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixture_sites import SITES_DIR, FixtureSites

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = "/chinh-tri-xa-hoi/dang-uy-quan-su-tinh-hung-yen-trien-khai-nhiem-vu-nam-2024-4057"
TEMPLATE_TITLE = "Đảng ủy Quân sự tỉnh Hưng Yên triển khai nhiệm vụ năm 2024"
EDITED = "Dịp này, Đảng ủy Quân sự tỉnh khen thưởng 5 tổ chức"
EDIT_TO = "Dịp này, Đảng ủy Quân sự tỉnh đã khen thưởng 7 tổ chức"
CONFIRM = 2.0  # removal_confirm_after, seconds
# A step every second for a minute: every run after the first second finds them due.
STEPS = [f"{n}s" for n in range(1, 61)]
ROLES = ("edit", "gone404", "gone410", "home", "busy503", "slow", "plain")


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def article_path(role: str) -> str:
    return f"/chinh-tri-xa-hoi/bai-{role}-{5000 + ROLES.index(role)}"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[FixtureSites, Path, Path]]:
    with FixtureSites(["qk3"]) as sites:
        template = (SITES_DIR / "qk3" / sites.manifest("qk3")["routes"][TEMPLATE_PATH]).read_text("utf-8")
        for role in ROLES:
            number = str(5000 + ROLES.index(role))
            page = (template.replace(TEMPLATE_PATH, article_path(role)).replace("4057", number)
                    .replace(TEMPLATE_TITLE, f"{TEMPLATE_TITLE} (bài {role})"))
            sites.add_article("qk3", article_path(role), page, "/chinh-tri-xa-hoi")
        db = tmp_path / "qk.db"
        cfg = tmp_path / "config.toml"
        cfg.write_text(sites.config_text(
            f"sqlite:///{db}", revisit=STEPS, removal_confirm_after=CONFIRM, max_revisits_per_run=100,
            retries=0, timeout=1.0, deadline=2.0,
        ), "utf-8")
        yield sites, cfg, db


def fetch(cfg: Path, cwd: Path) -> None:
    proc = run("--config", str(cfg), "fetch", "qk3", cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


def state(db: Path) -> dict[str, tuple[str, str | None, int, int, str | None]]:
    """role -> (status, pending_reason, edits, revisits, removed_at)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT url, status, pending_reason, edits, revisits, removed_at FROM articles")
        by_url = {url: rest for url, *rest in rows}
    return {role: tuple(v) for role in ROLES for url, v in by_url.items() if url.endswith(article_path(role))}


def versions(db: Path, role: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [t for (t,) in conn.execute(
            "SELECT body_text FROM article_versions WHERE url LIKE ? ORDER BY seen_from", ["%" + article_path(role)]
        )]


def test_revisits_keep_versions_confirm_removals_and_restore(site, tmp_path: Path) -> None:
    sites, cfg, db = site
    fetch(cfg, tmp_path)
    first = state(db)
    assert set(first) == set(ROLES) and all(v[:4] == ("live", None, 0, 0) for v in first.values())

    # The site changes behind an unchanged listing.
    assert sites.edit_article("qk3", article_path("edit"), EDITED, EDIT_TO) == 1
    sites.remove_route("qk3", article_path("gone404"))
    sites.fault("qk3", article_path("gone410"), status=410)
    sites.redirect_route("qk3", article_path("home"), "/chinh-tri-xa-hoi")  # to its listing
    sites.fault("qk3", article_path("busy503"), status=503)
    sites.fault("qk3", article_path("slow"), delay=4.0)
    time.sleep(1.1)
    sites.clear_hits()
    fetch(cfg, tmp_path)
    # the listing answered 304 (it did not change): only the revisit saw the edit
    assert sites.hits("qk3")[1] == ("GET", "/chinh-tri-xa-hoi", 304)
    second = state(db)
    assert second["edit"][:4] == ("live", None, 1, 1)
    assert versions(db, "edit") and EDITED in versions(db, "edit")[0]
    assert second["gone404"][:2] == ("live", "HTTP 404")
    assert second["gone410"][:2] == ("live", "HTTP 410")
    assert second["home"][0] == "live" and "listing page" in (second["home"][1] or "")
    assert second["plain"][:4] == ("live", None, 0, 1)
    for transient in ("busy503", "slow"):  # a 503 or a timeout is no evidence, and uses no step
        assert second[transient][:4] == ("live", None, 0, 0), transient

    time.sleep(CONFIRM + 0.2)
    fetch(cfg, tmp_path)
    third = state(db)
    for gone in ("gone404", "gone410", "home"):
        assert third[gone][0] == "removed", (gone, third[gone])
        assert third[gone][4] is not None
        assert third[gone][4] < second_seen(db, gone)
    for transient in ("busy503", "slow"):
        assert third[transient][:2] == ("live", None), transient

    # Restored: one as it was, one edited meanwhile; the transient ones recover.
    sites.restore_route("qk3", article_path("gone404"))
    sites.edit_article("qk3", article_path("gone404"), EDITED, EDIT_TO)
    sites.restore_route("qk3", article_path("gone410"))
    sites.restore_route("qk3", article_path("busy503"))
    sites.restore_route("qk3", article_path("slow"))
    time.sleep(1.1)
    fetch(cfg, tmp_path)
    fourth = state(db)
    assert fourth["gone404"][:3] == ("live", None, 1) and fourth["gone404"][4] is None
    assert fourth["gone410"][:3] == ("live", None, 0)
    assert fourth["home"][0] == "removed"
    assert fourth["busy503"][:3] == ("live", None, 0) and fourth["busy503"][3] >= 1
    assert fourth["slow"][:3] == ("live", None, 0) and fourth["slow"][3] >= 1

    # Nothing else was ever lost: one row per article, the GUIDs as first stored.
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0] >= len(ROLES)


def second_seen(db: Path, role: str) -> str:
    """When the article was last seen (the removal is dated by its first evidence, before that)."""
    with sqlite3.connect(db) as conn:
        ((changed,),) = conn.execute(
            "SELECT changed_at FROM articles WHERE url LIKE ?", ["%" + article_path(role)]
        ).fetchall()
    return changed


def test_history_json_field_by_field(site, tmp_path: Path) -> None:
    sites, cfg, db = site
    fetch(cfg, tmp_path)
    sites.edit_article("qk3", article_path("edit"), EDITED, EDIT_TO)
    time.sleep(1.1)
    fetch(cfg, tmp_path)
    url = sites.url("qk3", article_path("edit"))
    proc = run("--config", str(cfg), "history", url, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert set(got) == {"url", "guid", "status", "removed_at", "versions"}
    assert got["url"] == url and got["guid"].startswith("urn:uuid:")
    assert got["status"] == "live" and got["removed_at"] is None
    assert len(got["versions"]) == 2
    old, new = got["versions"]
    for v in (old, new):
        assert set(v) == {"seen_from", "seen_until", "title", "published", "authors", "body_text"}
        assert v["title"] == f"{TEMPLATE_TITLE} (bài edit)"
        assert v["published"] == "2024-01-09T10:20:00Z" or v["published"].endswith("Z")
        assert isinstance(v["authors"], list)
        assert v["seen_from"].endswith("Z")
    assert EDITED in old["body_text"] and EDIT_TO in new["body_text"]
    assert old["seen_until"] == new["seen_from"] and new["seen_until"] is None
    assert old["seen_from"] < old["seen_until"]
    # the GUID finds the same history; an unknown one is a one-line error
    by_guid = run("--config", str(cfg), "history", got["guid"], "--json", cwd=tmp_path)
    assert json.loads(by_guid.stdout) == got
    text = run("--config", str(cfg), "history", got["guid"], cwd=tmp_path)
    assert text.returncode == 0 and "2 versions" in text.stdout and "live" in text.stdout
    missing = run("--config", str(cfg), "history", "https://example.org/none", cwd=tmp_path)
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
