"""The README's exit-code table, case by case, each as a real ``run.py`` subprocess.

The rule: 2 for what the command line or the config file gets wrong (caught before any
work), 3 for a store that is named right but fails when used, 1 for something that
failed while the command ran (a source, a listing, an article, a taken port), 0 when
nothing did — a backfill that walks one page past the end of the pagination (a 404)
included.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fixture_sites import FixtureSites

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """\
[storage]
url = "{url}"

[fetch]
allow_private_networks = true
retries = 0

[server]
host = "127.0.0.1"
port = 0

[sources.qk3]
name = "Quân khu 3"
start_urls = ["http://127.0.0.1:9/chinh-tri-xa-hoi"]
"""


def run(*args: str, cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(config), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def write_config(tmp: Path, url: str | None = None, extra: str = "") -> Path:
    cfg = tmp / "config.toml"
    cfg.write_text(CONFIG.format(url=url or f"sqlite:///{tmp / 'q.db'}") + extra, encoding="utf-8")
    return cfg


def _blocked_store(tmp: Path) -> list[str]:
    """``sources`` on a store whose folder is a regular file: a runtime storage failure."""
    (tmp / "afile").write_text("not a folder", encoding="utf-8")
    return ["sources"]


def _taken_port(tmp: Path) -> tuple[list[str], socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return ["run", "--port", str(sock.getsockname()[1])], sock


# (what, config storage URL or None, extra config, argv builder, exit code, text in stderr)
CASES: list[tuple[str, str | None, str, Callable[[Path], list[str]], int, str]] = [
    ("--port out of range", None, "", lambda t: ["run", "--port", "99999"], 2, "ports are 0 to 65535"),
    ("--port not a number", None, "", lambda t: ["run", "--port", "80abc"], 2, "not a port number"),
    ("demo --port out of range", None, "", lambda t: ["demo", "--port", "-1"], 2, "ports are 0 to 65535"),
    ("unknown storage scheme", "mysql://u:secret@db/x", "", lambda t: ["sources"], 2, "storage.url"),
    ("sqlite URL without a path", "sqlite:///", "", lambda t: ["sources"], 2, "storage.url"),
    ("copy --to an unknown scheme", None, "", lambda t: ["copy", "--to", "mysql://u:secret@db/x"], 2,
     "unsupported storage URL"),
    ("copy --to sqlite:/// without a path", None, "", lambda t: ["copy", "--to", "sqlite:///"], 2,
     "a SQLite storage URL is"),
    ("invalid CSS selector", None, '\n[sources.qk3.profile]\ntitle = "h1[[["\n', lambda t: ["sources"], 2,
     "sources.qk3.profile.title: invalid CSS selector 'h1[[['"),
    ("start_urls not a list", None, "", lambda t: ["sources"], 2, "must be a list of URLs"),
    ("feed -o into a missing folder", None, "", lambda t: ["feed", "-o", str(t / "nonexistent" / "dir" / "x.atom")],
     2, "cannot write"),
    ("extract a file without its URL", None, "", lambda t: ["extract", str(t / "config.toml")], 2,
     "the page's URL is unknown"),
    ("search without a word", None, "", lambda t: ["search", "*"], 2, "has no word to search for"),
    ("search ''", None, "", lambda t: ["search", ""], 2, "has no word to search for"),
    ("a store that cannot be opened", "sqlite:///{tmp}/afile/q.db", "", _blocked_store, 3,
     "error: "),
    ("a PostgreSQL server that is not there", "postgresql://u:secret@127.0.0.1:1/x", "", lambda t: ["sources"], 3,
     "cannot open PostgreSQL database"),
]


@pytest.mark.parametrize(("what", "url", "extra", "argv", "code", "text"), CASES, ids=[c[0] for c in CASES])
def test_exit_code_table(tmp_path: Path, what: str, url: str | None, extra: str,
                         argv: Callable[[Path], list[str]], code: int, text: str) -> None:
    cfg = write_config(tmp_path, url.format(tmp=tmp_path) if url else None, extra)
    if what == "start_urls not a list":
        cfg.write_text(cfg.read_text("utf-8").replace('start_urls = ["http://127.0.0.1:9/chinh-tri-xa-hoi"]',
                                                      'start_urls = "http://127.0.0.1:9/x"'), "utf-8")
    args = argv(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    proc = run(*args, cwd=tmp_path, config=cfg)
    assert proc.returncode == code, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert text in lines[0], lines[0]
    assert "secret" not in proc.stderr
    if code == 2:  # nothing was created: no database, no folder
        assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_taken_port_is_a_failure_not_a_usage_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    args, sock = _taken_port(tmp_path)
    with sock:
        proc = run(*args, cwd=tmp_path, config=cfg)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: cannot listen on 127.0.0.1:") and len(proc.stderr.splitlines()) == 1


# --- the pipeline's failures and non-failures ------------------------------------------------


def _sites_config(sites: FixtureSites, tmp: Path) -> Path:
    cfg = tmp / "config.toml"
    cfg.write_text(sites.config_text(f"sqlite:///{tmp / 'q.db'}", retries=0), encoding="utf-8")
    return cfg


def test_a_backfill_past_the_end_of_the_pagination_is_ok(fixture_sites: FixtureSites, tmp_path: Path) -> None:
    # qk3 has two listing pages; the third (?page=2) answers 404: the walk's end, not an error
    cfg = _sites_config(fixture_sites, tmp_path)
    fixture_sites.clear_hits("qk3")
    proc = run("backfill", "qk3", "--pages", "3", "--quiet", cwd=tmp_path, config=cfg)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "errors=0" in proc.stdout.splitlines()[0], proc.stdout
    assert any(status == 404 and "page=2" in path for _, path, status in fixture_sites.hits("qk3"))
    assert "event=listing_end" in proc.stderr


def test_a_backfill_whose_first_page_is_missing_fails(fixture_sites: FixtureSites, tmp_path: Path) -> None:
    cfg = _sites_config(fixture_sites, tmp_path)
    text = cfg.read_text("utf-8").replace("/chinh-tri-xa-hoi\"", "/khong-co-trang-nay\"")
    cfg.write_text(text, "utf-8")
    proc = run("backfill", "qk3", "--pages", "2", "--quiet", cwd=tmp_path, config=cfg)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "errors=1" in proc.stdout


def test_an_article_that_cannot_be_extracted_fails_the_fetch(fresh_sites: FixtureSites, tmp_path: Path) -> None:
    fresh_sites.add_article("qk3", "/chinh-tri-xa-hoi/trang-trong-9999",
                            "<html><head><title>x</title></head><body><p>-</p></body></html>",
                            "/chinh-tri-xa-hoi", title="Trang trống")
    cfg = _sites_config(fresh_sites, tmp_path)
    proc = run("fetch", "qk3", cwd=tmp_path, config=cfg)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = proc.stdout.splitlines()[0]
    assert line.split()[:2] == ["qk3", "ok"] and "errors=1" in line, proc.stdout  # the rest was stored
    assert "new=" in line and "new=0" not in line
    proc = run("backfill", "qk3", "--pages", "2", "--quiet", "--restart", cwd=tmp_path, config=cfg)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # skipped by the walk, still a failure
    assert "errors=1" in proc.stdout.splitlines()[0]


def test_backfill_counts_an_article_on_two_listing_pages_once(fresh_sites: FixtureSites, tmp_path: Path) -> None:
    # the newest article of page 1 also listed on page 2 (a site's "featured" block, a shifted list)
    article = "/chinh-tri-xa-hoi/dang-uy-quan-su-tinh-hung-yen-trien-khai-nhiem-vu-nam-2024-4057"
    marker = "<!-- fixture:listing-top -->"
    row = (f'{marker}\n<div class="views-row"><div class="views-field views-field-title"><h3 class="field-content">'
           f'<a href="{article}" hreflang="vi">Đảng ủy Quân sự tỉnh Hưng Yên</a></h3></div></div>')
    fresh_sites.edit_article("qk3", "/chinh-tri-xa-hoi?page=1", marker, row)
    cfg = _sites_config(fresh_sites, tmp_path)
    first = run("backfill", "qk3", "--pages", "2", "--quiet", cwd=tmp_path, config=cfg)
    assert first.returncode == 0, first.stdout + first.stderr
    stored = int(first.stdout.split("new=")[1].split()[0])
    again = run("backfill", "qk3", "--pages", "2", "--quiet", "--restart", cwd=tmp_path, config=cfg)
    assert again.returncode == 0, again.stdout + again.stderr
    summary = again.stdout.splitlines()[0]
    assert f"new=0 updated=0 unchanged={stored} errors=0" in summary, (first.stdout, again.stdout)
