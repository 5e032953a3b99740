"""``run.py feed -o TARGET`` (``scraper.cli.output``): what the target is decides how it is written.

A regular file is replaced atomically; a device node, a FIFO or a Unix socket is written in
place and is still a device node, FIFO or socket afterwards (renaming a temp file onto
``/dev/null`` once broke a machine); ``-o -`` is standard output; a directory or a missing
parent directory is a usage error (exit 2) that creates nothing.  Every target lives in a
temp directory, never the machine's own ``/dev``.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from scraper.cli import write_atomically
from scraper.models import Article
from storage import open_store

ROOT = Path(__file__).resolve().parent.parent
TITLE = "Bài một"

CONFIG = """\
[storage]
url = "sqlite:///{db}"

[sources.qk3]
name = "Quân khu 3"
start_urls = ["http://127.0.0.1:9/chinh-tri-xa-hoi"]
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A config whose database holds one article."""
    db = tmp_path / "qk.db"
    (tmp_path / "config.toml").write_text(CONFIG.format(db=db), encoding="utf-8")
    with open_store(f"sqlite:///{db}") as store:
        store.upsert_article(
            Article(
                url="https://qk3.example/bai-1.html",
                source_id="qk3",
                title=TITLE,
                published=datetime(2024, 1, 5, 10, 37, tzinfo=UTC),
                body_html="<p>Nội dung.</p>",
                body_text="Nội dung.",
                fingerprint="f1",
            )
        )
    return tmp_path


def feed(workdir: Path, *args: str, stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, str(ROOT / "run.py"), "--config", str(workdir / "config.toml")]
    return subprocess.run(
        [*cmd, "feed", *args], cwd=workdir, stdout=stdout, stderr=subprocess.PIPE, timeout=60
    )


def titles(data: bytes) -> list[str]:
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.bozo_exception
    return [e.title for e in parsed.entries]


def test_regular_file_is_replaced_and_a_missing_one_created(workdir: Path) -> None:
    out = workdir / "feed.atom"
    proc = feed(workdir, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert titles(out.read_bytes()) == [TITLE]
    old_inode = out.stat().st_ino
    proc = feed(workdir, "--format", "rss", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert titles(out.read_bytes()) == [TITLE] and b"<rss" in out.read_bytes()
    assert out.stat().st_ino != old_inode  # renamed over, not rewritten
    assert sorted(p.name for p in workdir.iterdir()) == ["config.toml", "feed.atom", "qk.db"]


def test_symlink_to_a_regular_file_replaces_the_file_not_the_link(workdir: Path) -> None:
    real = workdir / "real.atom"
    real.write_bytes(b"old")
    link = workdir / "link.atom"
    link.symlink_to(real)
    assert feed(workdir, "-o", str(link)).returncode == 0
    assert link.is_symlink() and titles(real.read_bytes()) == [TITLE]


def test_device_node_is_written_in_place_and_stays_a_device(workdir: Path) -> None:
    node = workdir / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is on Linux
    except (PermissionError, AttributeError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    proc = feed(workdir, "-o", str(node))
    assert proc.returncode == 0, proc.stderr
    info = node.stat()
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(1, 3)
    assert node.read_bytes() == b""  # still a null device: it kept nothing
    assert not [p for p in workdir.iterdir() if p.name.startswith(".null.")]  # no temp file


def test_fifo_is_written_in_place_and_stays_a_fifo(workdir: Path) -> None:
    fifo = workdir / "feed.pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:  # blocks until the writer opens its end
            received.append(fh.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    proc = feed(workdir, "-o", str(fifo))
    thread.join(30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert len(received) == 1 and titles(received[0]) == [TITLE]


def test_unix_socket_is_sent_the_feed_and_stays_a_socket(workdir: Path) -> None:
    path = workdir / "feed.sock"
    received: list[bytes] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)

        def accept() -> None:
            conn, _ = server.accept()
            with conn:
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                received.append(b"".join(chunks))

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        proc = feed(workdir, "-o", str(path))
        thread.join(30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert len(received) == 1 and titles(received[0]) == [TITLE]


def test_dash_is_standard_output(workdir: Path) -> None:
    proc = feed(workdir, "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert titles(proc.stdout) == [TITLE]
    assert sorted(p.name for p in workdir.iterdir()) == ["config.toml", "qk.db"]


def test_dev_stdout_redirected_to_a_file_keeps_the_file(workdir: Path) -> None:
    """/dev/stdout resolving to a regular file (the shell's ``>``) is written, not replaced."""
    log = workdir / "out.log"
    with open(log, "wb") as fh:
        fh.write(b"before\n")
        fh.flush()
        inode = os.fstat(fh.fileno()).st_ino
        proc = feed(workdir, "-o", "/dev/stdout", stdout=fh)
    assert proc.returncode == 0, proc.stderr
    data = log.read_bytes()
    assert log.stat().st_ino == inode
    assert data.startswith(b"before\n") and titles(data[len(b"before\n") :]) == [TITLE]


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("outdir", "it is a directory"),
        ("missing/feed.atom", "directory missing does not exist"),
        ("qk.db/feed.atom", "directory qk.db is not a directory"),
    ],
)
def test_directory_or_missing_parent_is_a_usage_error(
    workdir: Path, target: str, reason: str
) -> None:
    (workdir / "outdir").mkdir()
    before = sorted(p.name for p in workdir.rglob("*"))
    proc = feed(workdir, "-o", target)
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == f"error: {target}: cannot write ({reason})"
    assert sorted(p.name for p in workdir.rglob("*")) == before  # no folder, no temp file


def test_write_atomically_refuses_a_directory_and_keeps_it(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        write_atomically(tmp_path, b"x")
    assert tmp_path.is_dir() and list(tmp_path.iterdir()) == []
