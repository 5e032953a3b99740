"""A PostgreSQL server for the tests: a given one, or a throwaway cluster started here.

Where the server comes from, in order:

1. ``QKFEED_TEST_PG`` (or else ``DATABASE_URL`` when it is a ``postgres[ql]://``
   URL): an existing server whose user may ``CREATE DATABASE``; ``QKFEED_TEST_PG=off``:
   none (the PostgreSQL tests are skipped);
2. otherwise ``initdb`` + ``pg_ctl`` (``/usr/lib/postgresql/*/bin`` or ``PATH``)
   start a cluster in a temporary directory, listening on a free port of
   127.0.0.1 only, with ``trust`` authentication and fsync off (it is thrown
   away).  As root it runs as the ``postgres`` user (``initdb`` refuses root).

Every test gets a database of its own (``fresh_database``), dropped afterwards.
The server is started once per test process and stopped at exit.

Without PostgreSQL the tests that need it are skipped (``tests/conftest.py`` says so,
and why, in one line at the start of the run: ``availability``), except where
``QKFEED_REQUIRE_PG=1`` (set by ``.ci/run``) or ``CI`` is set: there they fail, and
the run stops at its start when no server can be had (CI installs the
``postgresql`` package).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV_URLS = ("QKFEED_TEST_PG", "DATABASE_URL")
PG_SCHEMES = ("postgresql://", "postgres://")
BIN_GLOB = "/usr/lib/postgresql/*/bin"
START_ATTEMPTS = 3
START_TIMEOUT = 60  # seconds pg_ctl waits for the server
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
}
DB_PREFIX = "qkfeed_test_"


REQUIRE_ENV = ("QKFEED_REQUIRE_PG", "CI")  # either set (non-empty, not "0"): no PostgreSQL is a failure


def required() -> bool:
    """Whether a missing PostgreSQL must fail the run instead of skipping its tests."""
    return any(os.environ.get(name, "") not in ("", "0") for name in REQUIRE_ENV)


def availability() -> str | None:
    """Why the PostgreSQL tests will be skipped here, or None when a server looks within reach.

    Cheap (no server is started): psycopg, a given URL, else the server binaries and a
    user to run them as; a cluster that then fails to start is reported by ``server()``.
    """
    if os.environ.get("QKFEED_TEST_PG", "") == "off":
        return "QKFEED_TEST_PG=off"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    if any(os.environ.get(name, "").startswith(PG_SCHEMES) for name in ENV_URLS):
        return None
    try:
        _find_bindir()
        _unprivileged_user()
    except PgUnavailable as exc:
        return str(exc)
    return None


class PgUnavailable(Exception):
    """No PostgreSQL server can be had here (the message says why)."""


class PgServer:
    """A server and the admin URL used to create and drop test databases."""

    def __init__(self, admin_url: str, cluster: _Cluster | None = None) -> None:
        self.admin_url = admin_url
        self._cluster = cluster

    @property
    def throwaway(self) -> bool:
        """True for the cluster started here: any role logs in, passwords are ignored."""
        return self._cluster is not None

    def url(self, dbname: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + dbname))

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = DB_PREFIX + uuid.uuid4().hex[:12]
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None


class _Cluster:
    """A throwaway cluster in a temporary directory, owned by ``user``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.user = _unprivileged_user()
        # Another user must be able to reach the directory: $TMPDIR may sit under /root.
        base = "/tmp" if self.user is not None and os.path.isdir("/tmp") else None
        self.root = Path(tempfile.mkdtemp(prefix="qkfeed-pg-", dir=base))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.running = False
        if self.user is not None:
            shutil.chown(self.root, self.user, self.user)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(
            cmd, cwd=self.root, capture_output=True, text=True, timeout=START_TIMEOUT + 30
        )

    def start(self) -> str:
        done = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        if done.returncode != 0:
            raise PgUnavailable(f"initdb failed: {_tail(done.stderr or done.stdout)}")
        options = " ".join(f"-c {k}='{v}'" for k, v in SERVER_SETTINGS.items())
        last = ""
        for _ in range(START_ATTEMPTS):  # a free port may be taken before the server binds it
            self.port = _free_port()
            done = self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                str(START_TIMEOUT),
                "-o",
                f"-p {self.port} {options}",
                "start",
            )
            if done.returncode == 0:
                self.running = True
                return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
            last = _tail(self.log.read_text(errors="replace") if self.log.exists() else done.stderr)
        raise PgUnavailable(f"pg_ctl start failed: {last}")

    def pause(self) -> None:
        """Stop the server but keep its data (an outage); ``resume`` starts it again."""
        if self.running:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.running = False

    def resume(self) -> None:
        """Start a paused server again on the same port."""
        options = " ".join(f"-c {k}='{v}'" for k, v in SERVER_SETTINGS.items())
        done = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                         "-t", str(START_TIMEOUT), "-o", f"-p {self.port} {options}", "start")
        if done.returncode != 0:
            raise PgUnavailable(f"pg_ctl start failed: {_tail(done.stderr or done.stdout)}")
        self.running = True

    def stop(self) -> None:
        self.pause()
        shutil.rmtree(self.root, ignore_errors=True)


def with_user(url: str, user: str, password: str | None = None) -> str:
    """``url`` logging in as ``user`` (with ``password``) instead."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    login = user + (f":{password}" if password is not None else "")
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


def _unprivileged_user() -> str | None:
    """Who runs the cluster: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PgUnavailable("running as root and there is no postgres or nobody user for initdb")


def _find_bindir() -> Path:
    for candidate in sorted(glob.glob(BIN_GLOB), reverse=True):  # newest version first
        if Path(candidate, "initdb").is_file() and Path(candidate, "pg_ctl").is_file():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    raise PgUnavailable(
        f"no PostgreSQL server: set QKFEED_TEST_PG or install the postgresql package ({BIN_GLOB}/initdb)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"


def _start() -> PgServer:
    if os.environ.get("QKFEED_TEST_PG", "") == "off":
        raise PgUnavailable("QKFEED_TEST_PG=off")
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise PgUnavailable("psycopg is not installed (pip install -e '.[test]')") from exc
    for name in ENV_URLS:
        value = os.environ.get(name, "")
        if value.startswith(PG_SCHEMES):
            return PgServer(value)
    cluster = _Cluster(_find_bindir())
    try:
        url = cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return PgServer(url, cluster)


_server: PgServer | None = None
_failure: str | None = None


def server() -> PgServer:
    """The process-wide server; fails in CI, skips elsewhere, when there is none."""
    global _server, _failure
    if _server is None and _failure is None:
        try:
            _server = _start()
            atexit.register(_server.stop)
        except PgUnavailable as exc:
            _failure = str(exc)
    if _server is None:
        assert _failure is not None
        if required():
            pytest.fail(f"PostgreSQL is required here (QKFEED_REQUIRE_PG or CI set): {_failure}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {_failure}")
    return _server


@contextlib.contextmanager
def own_cluster() -> Iterator[tuple[_Cluster, str]]:
    """A throwaway cluster of the caller's own (to stop and start: outages), and its admin URL.

    Skips (fails in CI) where no PostgreSQL server binaries are installed.
    """
    try:
        if os.environ.get("QKFEED_TEST_PG", "") == "off":
            raise PgUnavailable("QKFEED_TEST_PG=off")
        cluster = _Cluster(_find_bindir())
        url = cluster.start()
    except PgUnavailable as exc:
        if required():
            pytest.fail(f"PostgreSQL is required here (QKFEED_REQUIRE_PG or CI set): {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield cluster, url
    finally:
        cluster.stop()


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new empty database, dropped afterwards."""
    srv = server()
    name = srv.create_database()
    try:
        yield srv.url(name)
    finally:
        srv.drop_database(name)
