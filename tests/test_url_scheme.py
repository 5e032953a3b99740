"""Article keys keep the scheme of the page (a site served only over http stays http), and an
archive keyed https before that still matches its articles: nothing is stored twice."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from fixture_sites import FixtureSites

from scraper.config import Profile, SourceConfig
from scraper.extract.listing import extract_links

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = "/chinh-tri-xa-hoi/bo-tham-muu-quan-khu-tong-ket-cong-tac-dang-cong-tac-chinh-tri-nam-2023-4048"


def fetch(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "fetch", "qk3"],
                          cwd=cfg.parent, capture_output=True, text=True, timeout=120)


def keys(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(url for (url,) in conn.execute("SELECT url FROM articles"))


def test_an_http_site_keeps_http_keys_and_an_https_keyed_archive_is_matched(
    fresh_sites: FixtureSites, tmp_path: Path
) -> None:
    db = tmp_path / "q.db"
    cfg = tmp_path / "config.toml"
    cfg.write_text(fresh_sites.config_text(f"sqlite:///{db}"), encoding="utf-8")
    first = fetch(cfg)
    assert first.returncode == 0, first.stdout + first.stderr
    stored = keys(db)
    assert stored and all(k.startswith("http://127.0.0.1:") for k in stored)  # not forced to https

    # an archive from before keys kept the scheme: the same rows keyed https
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE articles SET url = 'https://' || substr(url, 8)")
    fresh_sites.edit_article("qk3", ARTICLE, "Bộ Tham mưu Quân khu", "Bộ Tham mưu Quân khu 3")
    marker = "<!-- fixture:listing-top -->"
    fresh_sites.edit_article("qk3", "/chinh-tri-xa-hoi", marker, marker + " ")  # the listing changed too
    again = fetch(cfg)
    assert again.returncode == 0, again.stdout + again.stderr
    line = again.stdout.splitlines()[0]
    assert "new=0 updated=1" in line, again.stdout  # the edit found its row, nothing stored twice
    assert keys(db) == sorted("https://" + k[len("http://"):] for k in stored)


def test_http_and_https_links_to_one_page_are_one_listing_entry() -> None:
    source = SourceConfig(id="x", name="x", start_urls=("http://a.vn/tin",), profile=Profile(links="a"))
    html = ('<html><body><a href="http://a.vn/tin/bai-viet-12">a</a>'
            '<a href="https://www.a.vn/tin/bai-viet-12#top">b</a><a href="http://a.vn/tin/bai-khac-13">c</a></body></html>')
    assert extract_links(html, "http://a.vn/tin", source) == ["http://a.vn/tin/bai-viet-12", "http://a.vn/tin/bai-khac-13"]
