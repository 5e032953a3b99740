"""Run the real service (``python run.py run``) as a subprocess, for tests that talk to it over HTTP.

::

    text = service_config(sites.config_text(storage_url), port=free_port(), interval=2)
    with ServiceProcess(text, workdir=tmp) as svc:
        svc.wait_healthy(lambda doc: all(s["last_success"] for s in doc["sources"].values()))
        status, headers, body = svc.get("/feed.atom")
        code = svc.terminate()          # SIGTERM, then the exit code (waits at most 10 s)

Every wait has a timeout and fails with the tail of the service's log (stderr is written
to a file, so a chatty service can never block on a full pipe).  ``close()`` — also run by
``__exit__`` — kills the process if it is still alive.  Every request goes to 127.0.0.1,
through an opener without proxies (``http_proxy`` in the environment is ignored).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fixture_sites import toml_dumps

__all__ = ["ServiceError", "ServiceProcess", "free_port", "service_config", "start_service", "wait_for"]

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "run.py"
HOST = "127.0.0.1"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# Environment variables that would send a child's traffic elsewhere than 127.0.0.1.
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy",
              "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "FTP_PROXY", "NO_PROXY")


class ServiceError(AssertionError):
    """The service did not start, answer or stop as expected (message ends with its log)."""


def free_port(host: str = HOST) -> int:
    """A port that was free a moment ago (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = HOST) -> int:
    """A port P such that P … P+count-1 were all free a moment ago (``demo`` puts its sample
    sites on the ports after its own)."""
    for _ in range(50):
        first = free_port(host)
        if first + count > 65535:
            continue
        socks = []
        try:
            for port in range(first, first + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sock)
                sock.bind((host, port))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        return first
    raise RuntimeError(f"no {count} free ports in a row")


def service_config(text: str, *, port: int, interval: float | str | None = None,
                   host: str = HOST, base_url: str | None = None,
                   feed: dict[str, Any] | None = None) -> str:
    """``text`` (a TOML config) with ``[server] host/port`` set and, if given, every source's
    interval, ``[server] base_url`` and keys of ``[feed]``."""
    data = tomllib.loads(text)
    server = dict(data.get("server", {}))
    server.update(host=host, port=port)
    if base_url is not None:
        server["base_url"] = base_url
    data["server"] = server
    if feed:
        data["feed"] = {**data.get("feed", {}), **feed}
    if interval is not None:
        data["sources"] = {sid: {**src, "interval": interval} for sid, src in data.get("sources", {}).items()}
    return toml_dumps(data)


def child_env(**extra: str) -> dict[str, str]:
    """The test's environment without proxy variables, UTF-8, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.update(extra)
    return env


def wait_for(check: Callable[[], Any], timeout: float, what: str, *, interval: float = 0.2,
             on_fail: Callable[[], str] | None = None) -> Any:
    """Poll ``check()`` until it returns something truthy; ServiceError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except ServiceError:
            raise
        except Exception as exc:  # noqa: BLE001 - remembered for the failure message
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            extra = on_fail() if on_fail else ""
            raise ServiceError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r}){extra}")
        time.sleep(interval)


class ServiceProcess:
    """``run.py --config FILE run`` in ``workdir``, with stderr captured to ``workdir/service.log``."""

    def __init__(self, config_text: str, workdir: Path, *, start_timeout: float = 30.0,
                 args: tuple[str, ...] = (), nofile: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "service.toml"
        self.config_path.write_text(config_text, encoding="utf-8")
        server = tomllib.loads(config_text).get("server", {})
        self.host = server.get("host", HOST)
        self.port = int(server.get("port", 8080))
        if self.host != HOST:
            raise ValueError(f"tests serve on {HOST} only, not {self.host}")
        self.base_url = f"http://{self.host}:{self.port}"
        self.log_path = self.workdir / "service.log"
        self.out_path = self.workdir / "service.out"
        self.start_timeout = start_timeout
        self.args = args
        self.nofile = nofile  # RLIMIT_NOFILE (soft and hard) of the service, to provoke EMFILE
        self.proc: subprocess.Popen[bytes] | None = None
        self._files: list[Any] = []

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> ServiceProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the process and wait until ``/healthz`` answers (any status)."""
        err = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        out = open(self.out_path, "wb")  # noqa: SIM115
        self._files += [err, out]
        cmd = [sys.executable, str(RUN_PY), "--config", str(self.config_path), "--log-level", "info",
               "run", *self.args]
        limit = self.nofile
        preexec = None if limit is None else (
            lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)))
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=err, env=child_env(), preexec_fn=preexec)
        try:
            wait_for(self._answers, self.start_timeout, f"{self.base_url}/healthz to answer",
                     on_fail=self.log_tail)
        except BaseException:
            self.close()
            raise

    def _answers(self) -> bool:
        self.check_alive()
        status, _, _ = self.get("/healthz", timeout=2)
        return status in (200, 503)

    def close(self) -> None:
        """Kill the process if it still runs (idempotent)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for f in self._files:
            f.close()
        self._files.clear()

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM; the exit code, or ServiceError if the process is still alive after ``timeout``."""
        assert self.proc is not None, "not started"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"still running {timeout:g}s after SIGTERM{self.log_tail()}") from None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def check_alive(self) -> None:
        if self.proc is None:
            raise ServiceError("the service was not started")
        code = self.proc.poll()
        if code is not None:
            raise ServiceError(f"the service exited with code {code}{self.log_tail()}")

    # -- output ------------------------------------------------------------------
    def log(self) -> str:
        """Everything the service wrote to stderr so far."""
        for f in self._files:
            f.flush()
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, chars: int = 4000) -> str:
        text = self.log()
        return f"\n--- service log ({self.log_path}), last {chars} chars ---\n{text[-chars:]}"

    # -- HTTP ----------------------------------------------------------------------
    def url(self, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return self.base_url + path

    def get(self, path: str, *, headers: dict[str, str] | None = None,
            timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lower-case names, body) of ``GET path``; HTTP errors are returned."""
        req = urllib.request.Request(self.url(path), headers=headers or {})
        try:
            with _NO_PROXY.open(req, timeout=timeout) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()

    def fetch(self, path: str, timeout: float = 10.0) -> bytes:
        """The body of ``GET path``; ServiceError (with the log) unless the answer is 200."""
        status, _, body = self.get(path, timeout=timeout)
        if status != 200:
            raise ServiceError(f"GET {path} answered {status}: {body[:500]!r}{self.log_tail()}")
        return body

    def healthz(self) -> dict[str, Any]:
        status, _, body = self.get("/healthz")
        doc = json.loads(body)
        doc["_http_status"] = status
        return doc

    def wait_healthy(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60.0,
                     what: str = "/healthz to satisfy the condition") -> dict[str, Any]:
        """Poll ``/healthz`` until ``predicate(document)`` holds; the document."""

        def check() -> dict[str, Any] | None:
            self.check_alive()
            doc = self.healthz()
            return doc if predicate(doc) else None

        return wait_for(check, timeout, what, interval=0.25, on_fail=self.log_tail)


def start_service(make_config: Callable[[int], str], workdir: Path, *, attempts: int = 3,
                  start_timeout: float = 30.0) -> ServiceProcess:
    """Start the service on a free port (``make_config(port)`` gives the config text).

    A port picked by :func:`free_port` can be taken by someone else before the service binds
    it; the service then exits at once saying "cannot listen", and another port is tried.
    """
    last: ServiceError | None = None
    for attempt in range(attempts):
        svc = ServiceProcess(make_config(free_port()), Path(workdir) / f"try{attempt}",
                             start_timeout=start_timeout)
        try:
            svc.start()
            return svc
        except ServiceError as exc:
            last = exc
            if "cannot listen" not in svc.log():
                raise
    assert last is not None
    raise last
