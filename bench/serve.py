"""Serving the cached combined feed: requests per second against nginx serving the same bytes.

    python bench/serve.py [--duration 10] [--connections 50] [--articles 10000] [--rounds 1]

Needs ``wrk`` and ``nginx`` (Debian packages ``wrk`` and ``nginx``).

qkfeed runs as shipped: ``python run.py run`` (granian embedded, one process, the
scheduler included; its sources are disabled so nothing is fetched) over a
SQLite store of ``--articles`` synthetic articles (``_common.fill_sqlite``).
Its ``/feed.atom`` is fetched once, plain and gzip-encoded, and those exact
bytes become static files of an nginx started here as a child process
(``daemon off``, one worker process like qkfeed's one process, access log
off like qkfeed's, ``sendfile``, ``gzip_static`` for the gzip copy).  Then
``wrk`` (one thread, ``--connections`` keep-alive connections, loopback)
measures each case on qkfeed and then on nginx, ``--rounds`` times taking
turns (both servers run throughout, so a change in the machine's load hits
both alike; the table shows medians):

- ``feed, gzip``: ``GET /feed.atom`` with ``Accept-Encoding: gzip`` (what
  feed readers send): the cached gzip body;
- ``feed, plain``: the same without ``Accept-Encoding``;
- ``304``: ``If-None-Match`` with the server's own ETag of the plain feed.

qkfeed answers repeated feed requests from prebuilt ASGI messages in front
of Starlette (``feeds/fastpath.py``); the line after the table says how many
of its requests that fast path answered (``qkfeed_http_fast_path_total``
against ``qkfeed_http_requests_total`` in its ``/metrics``).  "qkfeed CPU
µs/request" is the qkfeed process's CPU time (all threads: granian's Rust
ones and Python's) over the requests wrk completed: a figure the machine's
load changes far less than requests per second.

Goal: qkfeed at least 0.5× nginx's requests per second in each case.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT, Goal, fill_sqlite, free_port, print_goals, print_table, prose_pool

GOAL_RATIO = 0.5
FEED_PATH = "/feed.atom"
START_TIMEOUT = 60.0
WARMUP_FROM = 5.0  # runs at least this long get a one-second warm-up run first
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_ERRORS = re.compile(r"Socket errors:.*")
_FAST = re.compile(r"^qkfeed_http_fast_path_total (\d+)$", re.M)
_REQUESTS = re.compile(r"^qkfeed_http_requests_total\{[^}]*\} (\d+)$", re.M)


class Missing(Exception):
    """wrk or nginx is not installed."""


def tools() -> tuple[str, str]:
    """Paths of wrk and nginx; Missing names what to install."""
    wrk = shutil.which("wrk")
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    missing = [name for name, path in (("wrk", wrk), ("nginx", nginx)) if path is None]
    if missing:
        raise Missing(f"install the Debian package(s): {' '.join(missing)}")
    assert wrk is not None and nginx is not None
    return wrk, nginx


def _config_text(db: Path, port: int) -> str:
    sources = "\n".join(
        f'[sources.s{n}]\nname = "Nguồn thử {n}"\nstart_urls = ["https://s{n}.bench.example/tin-tuc"]\n'
        "enabled = false\n"
        for n in range(20)
    )
    return (
        f'[storage]\nurl = "sqlite:///{db}"\n\n[server]\nhost = "127.0.0.1"\nport = {port}\n\n'
        f"[feed]\nmax_entries = 50\n\n{sources}"
    )


@contextlib.contextmanager
def qkfeed_server(tmp: Path, articles: int) -> Iterator[tuple[str, int]]:
    """``run.py run`` on a free port over a filled store; yields its base URL and pid."""
    from storage import open_store

    db = tmp / "serve.db"
    open_store(f"sqlite:///{db}").close()
    fill_sqlite(str(db), 1, articles + 1, prose_pool())
    port = free_port()
    cfg = tmp / "serve.toml"
    cfg.write_text(_config_text(db, port), "utf-8")
    log = (tmp / "qkfeed.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "run"],
        cwd=tmp, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base + FEED_PATH, proc, tmp / "qkfeed.log")
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _nginx_conf(root: Path, www: Path, port: int) -> str:
    temp = root / "nginx-temp"
    return f"""
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    types {{ application/atom+xml atom; }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 65;
    server {{
        listen 127.0.0.1:{port};
        root {www};
        gzip_static on;
    }}
}}
"""


@contextlib.contextmanager
def nginx_server(nginx: str, tmp: Path, plain: bytes, packed: bytes) -> Iterator[str]:
    """nginx serving ``plain`` (and ``packed`` to gzip clients) at FEED_PATH; yields its base URL."""
    www = tmp / "www"
    www.mkdir()
    (www / FEED_PATH.lstrip("/")).write_bytes(plain)
    (www / (FEED_PATH.lstrip("/") + ".gz")).write_bytes(packed)
    (tmp / "nginx-temp").mkdir()
    for path in (tmp, www, tmp / "nginx-temp", *www.iterdir()):  # workers may run as nobody
        path.chmod(0o755 if path.is_dir() else 0o644)
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(_nginx_conf(tmp, www, port), "utf-8")
    proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "nginx-error.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base + FEED_PATH, proc, tmp / "nginx-error.log")
        yield base
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful stop of master and worker
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text("utf-8", "replace")[-2000:] if log.exists() else ""
            raise SystemExit(f"bench/serve.py: {url} server exited ({proc.returncode}):\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass

        time.sleep(0.1)
    tail = log.read_text("utf-8", "replace")[-2000:] if log.exists() else ""
    raise SystemExit(f"bench/serve.py: {url} did not answer 200 within {START_TIMEOUT:g} s:\n{tail}")


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[bytes, dict[str, str]]:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read(), {k.lower(): v for k, v in resp.headers.items()}


@dataclass
class Run:
    rps: float
    bad: int  # non-2xx/3xx answers
    errors: str  # wrk's socket error line, if any


def wrk(wrk_path: str, url: str, headers: dict[str, str], seconds: float, connections: int,
        expect_status: int) -> Run:
    """Requests per second of ``url``; the answers are checked once first."""
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status != expect_status:
        raise SystemExit(f"bench/serve.py: {url} with {headers} answered {status}, not {expect_status}")
    args = [wrk_path, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    if seconds >= WARMUP_FROM:  # a second of load first: connections open, caches warm
        subprocess.run([*args[:3], "-d1s", *args[4:], url], capture_output=True, text=True, timeout=60)
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60)
    m = _RPS.search(done.stdout)
    if done.returncode != 0 or m is None:
        raise SystemExit(f"bench/serve.py: wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    bad = _NON_2XX.search(done.stdout)
    errors = _ERRORS.search(done.stdout)
    return Run(float(m.group(1)), int(bad.group(1)) if bad else 0, errors.group(0) if errors else "")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=50, help="wrk keep-alive connections")
    parser.add_argument("--articles", type=int, default=10_000, help="articles in the store")
    parser.add_argument("--rounds", type=int, default=1,
                        help="qkfeed and nginx take turns this many times per case (medians are shown)")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.connections < 1 or args.articles < 50 or args.rounds < 1:
        parser.error("--duration >= 1, --connections >= 1, --articles >= 50, --rounds >= 1")
    try:
        wrk_path, nginx = tools()
    except Missing as exc:
        print(f"bench/serve.py: {exc}")
        print("not measured: wrk or nginx missing")
        return 0
    print(f"serve: {FEED_PATH} (50 entries), wrk -t1 -c{args.connections} -d{args.duration:g}s on loopback; "
          f"qkfeed = run.py run (one process, granian embedded), nginx = one worker, static files", flush=True)
    cases: list[tuple[str, float, float, int, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="qkfeed-bench-") as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)  # nginx's workers may run as nobody
        (tmp / "q").mkdir()
        (tmp / "n").mkdir()
        with qkfeed_server(tmp / "q", args.articles) as (qk, pid):
            plain, plain_headers = _get(qk + FEED_PATH)
            packed, packed_headers = _get(qk + FEED_PATH, {"Accept-Encoding": "gzip"})
            if packed_headers.get("content-encoding") != "gzip" or gzip.decompress(packed) != plain:
                raise SystemExit("bench/serve.py: qkfeed's gzip answer is not the plain feed compressed")
            with nginx_server(nginx, tmp / "n", plain, packed) as ng:
                body, ng_headers = _get(ng + FEED_PATH)
                if body != plain:
                    raise SystemExit("bench/serve.py: nginx does not serve the feed bytes")
                specs = [  # case, qkfeed headers, nginx headers, status
                    ("feed, gzip", {"Accept-Encoding": "gzip"}, {"Accept-Encoding": "gzip"}, 200),
                    ("feed, plain", {}, {}, 200),
                    ("304 (If-None-Match)", {"If-None-Match": plain_headers["etag"]},
                     {"If-None-Match": ng_headers["etag"]}, 304),
                ]
                for case, q_headers, n_headers, status in specs:
                    q_rps, n_rps, cpu_us, bad = [], [], [], 0
                    for _ in range(args.rounds):  # taking turns: a load change hits both alike
                        cpu = cpu_seconds(pid)
                        run = wrk(wrk_path, qk + FEED_PATH, q_headers, args.duration, args.connections,
                                  status)
                        cpu = cpu_seconds(pid) - cpu
                        peer = wrk(wrk_path, ng + FEED_PATH, n_headers, args.duration, args.connections,
                                   status)
                        q_rps.append(run.rps)
                        n_rps.append(peer.rps)
                        # per request of the timed run (a warm-up run, if any, is in the CPU too)
                        seconds = max(1, round(args.duration)) + (1 if args.duration >= WARMUP_FROM else 0)
                        cpu_us.append(cpu / max(run.rps * seconds, 1) * 1e6)
                        bad += run.bad + peer.bad
                        for who, r in (("qkfeed", run), ("nginx", peer)):
                            if r.errors:
                                print(f"note: {who} {case}: {r.errors}", file=sys.stderr)
                    size = len(packed if "gzip" in case else plain)
                    cases.append((case, statistics.median(q_rps), statistics.median(n_rps), bad, size,
                                  statistics.median(cpu_us)))
            metrics = _get(qk + "/metrics")[0].decode("utf-8")
            fast = sum(int(n) for n in _FAST.findall(metrics))
            total = sum(int(n) for n in _REQUESTS.findall(metrics))
    print_table(
        ["case", "body bytes", "qkfeed req/s", "nginx req/s", "qkfeed / nginx",
         "qkfeed CPU µs/request", "bad answers"],
        [[c, size if "304" not in c else 0, f"{q:,.0f}", f"{n:,.0f}", f"{q / n:.2f}×", f"{cpu:.0f}", bad]
         for c, q, n, bad, size, cpu in cases],
    )
    print(f"qkfeed's fast path answered {fast:,} of its {total:,} requests ({fast / max(total, 1):.1%})")
    print_goals([Goal(f"{c}: qkfeed / nginx requests per second", q / n, GOAL_RATIO, at_most=False, unit="×")
                 for c, q, n, _, _, _ in cases])
    return 0


if __name__ == "__main__":
    sys.exit(main())
