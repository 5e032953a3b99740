"""Bad input to ``run.py`` itself: one clear line, a non-zero exit, no traceback, no change.

Every case runs ``run.py`` as a user would, and checks the documented exit code (2 usage or
configuration, 3 storage, 1 the port), that stderr is a single ``error: …`` line, and that
the files of the data directory are byte for byte what they were (no database created, no
``-wal``/``-shm`` left behind, no output file).  Cases covered elsewhere are not repeated:
a wrongly typed config value (test_config.py), ``fetch`` of an unknown source
(test_cli_e2e.py), a port in use on a fresh directory (test_service.py), the store API on a
newer schema (test_storage.py).
"""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scraper.models import Article
from storage import open_store
from storage._migrations import load_migrations

ROOT = Path(__file__).resolve().parent.parent
KNOWN = len(load_migrations())

CONFIG = """\
[storage]
url = "sqlite:///{db}"

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


def run(*args: str, cwd: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(ROOT / "run.py")]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def snapshot(directory: Path) -> dict[str, str]:
    """Everything under ``directory``: relative name -> sha256 of a file's bytes, or "dir"."""
    return {
        str(p.relative_to(directory)): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        )
        for p in sorted(directory.rglob("*"))
    }


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert proc.stdout == ""
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory with a config whose database holds one article."""
    data = tmp_path / "data"
    data.mkdir()
    db = data / "qk.db"
    (tmp_path / "config.toml").write_text(CONFIG.format(db=db), encoding="utf-8")
    article = Article(
        url="https://quankhu3.vn/chinh-tri-xa-hoi/bai-viet-4048",
        source_id="qk3",
        title="Bộ Tham mưu Quân khu tổng kết công tác năm 2023",
        published=datetime(2024, 1, 5, 10, 37, tzinfo=UTC),
        body_html="<p>Nội dung.</p>",
        body_text="Nội dung.",
        fingerprint="f1",
    )
    with open_store(f"sqlite:///{db}") as store:
        store.upsert_article(article)
    return tmp_path


COMMANDS = [
    ("run",),
    ("fetch",),
    ("sources",),
    ("feed", "--format", "rss", "-o", "feed.rss"),  # (a missing -o folder is checked first: exit 2)
    ("backfill", "qk3", "--pages", "1"),
]


# --- a malformed config ---------------------------------------------------------------------

BAD_CONFIGS = {
    "invalid TOML": ("[sources.qk3\nname = 1\n", "invalid TOML"),
    "not UTF-8": (b"[sources.qk3]\nname = \"Qu\xe2n khu\"\n", "not UTF-8"),
    "unknown key": (CONFIG + "colour = 1\n", "sources.qk3.colour: unknown key"),
    "no sources table": (CONFIG.split("[sources.qk3]")[0] + "sources = 3\n", "sources"),
    "port out of range": (CONFIG.replace("port = 0", "port = 70000"), "server.port"),
    "bad storage URL": (CONFIG.replace('url = "sqlite:///{db}"', 'url = "mysql://x"'), "storage.url"),
    "missing start_urls": (CONFIG.replace('start_urls = ["http://127.0.0.1:9/chinh-tri-xa-hoi"]', ""),
                           "sources.qk3.start_urls: required key is missing"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("command", [("run",), ("fetch",)])
def test_malformed_config_is_one_line_exit_2_and_touches_nothing(
    tmp_path: Path, case: str, command: tuple[str, ...]
) -> None:
    text, problem = BAD_CONFIGS[case]
    cfg = tmp_path / "bad.toml"
    body = text.encode("utf-8") if isinstance(text, str) else text
    cfg.write_bytes(body.replace(b"{db}", str(tmp_path / "data" / "qk.db").encode()))
    before = snapshot(tmp_path)
    proc = run(*command, cwd=tmp_path, config=cfg)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert line.startswith(f"error: {cfg}") and problem in line, line
    assert snapshot(tmp_path) == before  # no database, no data directory


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_config_that_is_not_a_file(tmp_path: Path, kind: str) -> None:
    cfg = tmp_path / "config.toml"
    if kind == "directory":
        cfg.mkdir()
    proc = run("sources", cwd=tmp_path, config=cfg)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert str(cfg) in line
    assert [p.name for p in tmp_path.iterdir()] == ([] if kind == "missing" else ["config.toml"])


# --- an unknown source ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("backfill", "nosuch", "--pages", "1"),
        ("feed", "--source", "nosuch", "-o", "out.atom"),
        ("fetch", "qk3", "nosuch"),
        ("extract", "config.toml", "--source", "nosuch"),
    ],
)
def test_unknown_source_is_exit_2_and_changes_nothing(
    workdir: Path, command: tuple[str, ...]
) -> None:
    before = snapshot(workdir)
    proc = run(*command, cwd=workdir, config=workdir / "config.toml")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "sources.nosuch: no such source (known: qk3)" in line
    assert snapshot(workdir) == before


# --- a database that cannot be used -----------------------------------------------------------


def _config_with_db(workdir: Path, db: Path) -> Path:
    cfg = workdir / "other.toml"
    cfg.write_text(CONFIG.format(db=db), encoding="utf-8")
    return cfg


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_database_under_a_regular_file_is_exit_3(workdir: Path, command: tuple[str, ...]) -> None:
    blocker = workdir / "data" / "notes.txt"
    blocker.write_text("a file where a directory should be")
    cfg = _config_with_db(workdir, blocker / "qk.db")
    before = snapshot(workdir)
    proc = run(*command, cwd=workdir, config=cfg)
    assert proc.returncode == 3
    assert str(blocker) in one_error_line(proc)
    assert snapshot(workdir) == before


def test_directory_as_database_is_exit_3(workdir: Path) -> None:
    cfg = _config_with_db(workdir, workdir / "data")
    before = snapshot(workdir)
    for command in COMMANDS[:3]:
        proc = run(*command, cwd=workdir, config=cfg)
        assert proc.returncode == 3
        assert "it is a directory" in one_error_line(proc)
    assert snapshot(workdir) == before


def test_file_that_is_not_a_database_is_exit_3_and_kept(workdir: Path) -> None:
    notes = workdir / "data" / "notes.db"
    notes.write_bytes(b"these are my notes, not a database\n" * 100)
    cfg = _config_with_db(workdir, notes)
    before = snapshot(workdir)
    for command in COMMANDS:
        proc = run(*command, cwd=workdir, config=cfg)
        assert proc.returncode == 3, command
        assert "file is not a database" in one_error_line(proc)
    assert snapshot(workdir) == before


def test_database_from_a_newer_qkfeed_stays_byte_identical(workdir: Path) -> None:
    db = workdir / "data" / "qk.db"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'later')", (KNOWN + 1,)
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = snapshot(workdir)
    assert sorted(before) == ["config.toml", "data", "data/qk.db"]
    expected = (
        f"error: database schema version {KNOWN + 1} is newer than this qkfeed "
        f"(knows {KNOWN}); upgrade qkfeed"
    )
    for command in COMMANDS:
        proc = run(*command, cwd=workdir, config=workdir / "config.toml")
        assert proc.returncode == 3, command
        assert one_error_line(proc) == expected
        assert snapshot(workdir) == before, command


# --- an export that cannot be written --------------------------------------------------------


@pytest.mark.parametrize("target", ["data", "data/qk.db/feed.atom", "config.toml/feed.atom"])
def test_feed_output_that_cannot_be_written_is_exit_2(workdir: Path, target: str) -> None:
    before = snapshot(workdir)
    proc = run("feed", "-o", target, cwd=workdir, config=workdir / "config.toml")
    assert proc.returncode == 2
    assert one_error_line(proc).startswith(f"error: {target}: cannot write (")
    assert snapshot(workdir) == before  # no temp file left, nothing replaced


# --- the port ---------------------------------------------------------------------------------


def test_port_in_use_leaves_the_database_as_it_was(workdir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        before = snapshot(workdir)
        proc = run("run", "--port", str(port), cwd=workdir, config=workdir / "config.toml")
    assert proc.returncode == 1
    assert (
        one_error_line(proc) == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert snapshot(workdir) == before


def test_port_out_of_range_is_one_line(workdir: Path) -> None:
    before = snapshot(workdir)
    proc = run("run", "--port", "99999", cwd=workdir, config=workdir / "config.toml")
    assert proc.returncode == 2  # a usage error, like --port 80abc
    assert one_error_line(proc) == "error: argument --port: ports are 0 to 65535, not 99999 (see run.py run --help)"
    assert snapshot(workdir) == before
