"""The fast path (feeds/fastpath.py: FeedFront) in the real service, over raw sockets.

``run.py run`` serves a SQLite store the test fills (its sources are disabled, nothing
is fetched).  A request with a header the fast path does not vouch for (``X-Normal``)
always takes the normal path through Starlette, so every fast answer is compared with the
normal path's answer to the same request: same status, same body bytes, same headers
in the same order (the Date value aside).  ``qkfeed_http_fast_path_total`` in /metrics
says which path answered.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from server_thread import server_in_thread
from service_proc import RUN_PY, ServiceProcess, child_env, free_port

from feeds.app import DEFAULT_VERSION_CHECK, create_app
from feeds.version import StoreVersion
from scraper.config_load import config_from_dict
from scraper.models import Article
from scraper.service.server import _WriteNotifyingStore
from storage import open_store

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
FAST = re.compile(rb"^qkfeed_http_fast_path_total (\d+)$", re.M)
LAZY_READER_MB = 15  # growth allowed for a client that does not read (~2 MB measured)
SLACK = 2.0  # seconds on top of the documented staleness bound, for a busy machine


def _article(n: int) -> Article:
    return Article(
        url=f"https://quankhu3.vn/chinh-tri-xa-hoi/bai-{n}",
        source_id="qk3",
        title=f"Bài số {n} về huấn luyện",
        published=T0 + timedelta(hours=n),
        body_html="<p>Nội dung huấn luyện chiến sĩ mới.</p>" * 20,
        body_text="Nội dung huấn luyện chiến sĩ mới. " * 20,
        fingerprint=f"f{n}",
    )


def _config_text(db: Path, port: int) -> str:
    return (
        f'[storage]\nurl = "sqlite:///{db}"\n\n[server]\nhost = "127.0.0.1"\nport = {port}\n\n'
        '[feed]\nmax_entries = 20\n\n'
        '[sources.qk3]\nname = "Quân khu 3"\nstart_urls = ["https://quankhu3.vn/chinh-tri-xa-hoi"]\n'
        "enabled = false\n"
    )


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]  # in order, names as sent
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return next((v for n, v in self.headers if n.lower() == name), None)

    def without_date(self) -> list[tuple[bytes, bytes]]:
        return [(n, v) for n, v in self.headers if n.lower() != b"date"]


class Conn:
    """One HTTP/1.1 connection: raw requests out, answers parsed by hand (nothing normalized)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def _fill(self) -> bool:
        data = self.sock.recv(1 << 20)
        self.buf += data
        return bool(data)

    def answer(self, *, head_only: bool = False) -> Answer:
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), f"connection closed mid-answer: {self.buf[:200]!r}"
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *lines = head.split(b"\r\n")
        status = int(status_line.split(b" ")[1])
        headers = [tuple(line.split(b": ", 1)) for line in lines]
        answer = Answer(status, headers, b"")  # type: ignore[arg-type]
        length = int(answer.header(b"content-length") or 0)
        if head_only or status == 304:
            length = 0
        while len(self.buf) < length:
            assert self._fill(), "connection closed mid-body"
        answer.body, self.buf = self.buf[:length], self.buf[length:]
        return answer

    def closed_by_server(self) -> bool:
        """True once the server closed the connection (after any answers left in the buffer)."""
        self.sock.settimeout(5)
        try:
            while self._fill():
                pass
        except TimeoutError:
            return False
        return True


def request(path: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Served:
    svc: ServiceProcess
    db: Path

    @property
    def port(self) -> int:
        return self.svc.port

    def ask(self, raw: bytes, *, head_only: bool = False) -> Answer:
        conn = Conn(self.port)
        try:
            conn.send(raw)
            return conn.answer(head_only=head_only)
        finally:
            conn.close()

    def fast_count(self) -> int:
        found = FAST.search(self.svc.fetch("/metrics"))
        assert found, "no qkfeed_http_fast_path_total in /metrics"
        return int(found.group(1))

    def fast(self, raw: bytes, *, head_only: bool = False) -> Answer:
        """The fast path's answer to ``raw`` (asked until the fast path, not ASGI, answers it)."""
        for _ in range(20):  # a version that aged out sends one request the normal way
            before = self.fast_count()
            answer = self.ask(raw, head_only=head_only)
            if self.fast_count() == before + 1:
                return answer
        raise AssertionError(f"the fast path never answered {raw!r}")

    def normal(self, raw: bytes, *, head_only: bool = False) -> Answer:
        """The normal (ASGI) path's answer to ``raw``: an extra header it does not vouch for."""
        forced = raw[:-2] + b"X-Normal: 1\r\n\r\n"
        before = self.fast_count()
        answer = self.ask(forced, head_only=head_only)
        assert self.fast_count() == before
        return answer


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("fastpath")
    db = tmp / "q.db"
    with open_store(f"sqlite:///{db}") as store:
        for n in range(30):
            store.upsert_article(_article(n), now=T0 + timedelta(minutes=n))
    with ServiceProcess(_config_text(db, free_port()), tmp / "svc") as svc:
        yield Served(svc, db)
        log = svc.log()
        assert svc.terminate() == 0
    assert "Traceback" not in log and "level=error" not in log


def _same(fast: Answer, normal: Answer) -> None:
    assert fast.status == normal.status
    assert fast.body == normal.body
    assert fast.without_date() == normal.without_date()
    assert fast.header(b"date") is not None and normal.header(b"date") is not None


# -- the same answers as the normal path -------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        ("Accept-Encoding: gzip",),
        (),
        ("Accept-Encoding: gzip, deflate, br", "User-Agent: newsboat/2.30", "Accept: */*"),
        ("Accept-Encoding: gzip;q=0",),
    ],
    ids=["gzip", "plain", "browser-like", "gzip-refused"],
)
@pytest.mark.parametrize("path", ["/feed.atom", "/feed.json", "/sources/qk3/feed.rss?limit=5"])
def test_fast_answers_equal_the_normal_path(served: Served, path: str, headers: tuple[str, ...]) -> None:
    raw = request(path, *headers)
    normal = served.normal(raw)
    fast = served.fast(raw)
    _same(fast, normal)
    assert fast.status == 200 and fast.header(b"vary") == b"Accept-Encoding"
    assert fast.header(b"cache-control") and fast.header(b"last-modified")
    gzipped = fast.header(b"content-encoding") == b"gzip"
    assert gzipped == ("gzip" in " ".join(headers) and "q=0" not in " ".join(headers))
    assert int(fast.header(b"content-length") or -1) == len(fast.body)
    if gzipped:
        gzip.decompress(fast.body)


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_head_equals_the_normal_path(served: Served, encoding: str) -> None:
    raw = request("/feed.atom", f"Accept-Encoding: {encoding}", method="HEAD")
    normal = served.normal(raw, head_only=True)
    fast = served.fast(raw, head_only=True)
    _same(fast, normal)
    get = served.ask(request("/feed.atom", f"Accept-Encoding: {encoding}"))
    assert fast.body == b"" and fast.header(b"content-length") == str(len(get.body)).encode()
    assert fast.header(b"etag") == get.header(b"etag")


def test_conditional_answers_equal_the_normal_path(served: Served) -> None:
    plain = served.ask(request("/feed.atom"))
    packed = served.ask(request("/feed.atom", "Accept-Encoding: gzip"))
    etag, gz_etag = plain.header(b"etag"), packed.header(b"etag")
    assert etag and gz_etag and etag != gz_etag
    modified = plain.header(b"last-modified")
    assert modified
    later = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    earlier = format_datetime(T0 - timedelta(days=1), usegmt=True)
    cases = [
        (("If-None-Match: " + etag.decode(),), 304),
        (("Accept-Encoding: gzip", "If-None-Match: " + gz_etag.decode()), 304),
        (("If-None-Match: " + gz_etag.decode(),), 304),  # the other encoding's tag: same content
        ((f'If-None-Match: "nope", W/{etag.decode()}',), 304),
        (("If-None-Match: *",), 304),
        (('If-None-Match: "stale"',), 200),
        (("If-Modified-Since: " + modified.decode(),), 304),
        (("If-Modified-Since: " + later,), 304),
        (("If-Modified-Since: " + earlier,), 200),
        (("If-Modified-Since: not a date",), 200),
        (('If-None-Match: "stale"', "If-Modified-Since: " + later), 200),  # INM wins
    ]
    for headers, status in cases:
        raw = request("/feed.atom", *headers)
        normal = served.normal(raw)
        fast = served.fast(raw)
        _same(fast, normal)
        assert fast.status == status, headers
        if status == 304:
            assert fast.body == b"" and fast.header(b"content-length") is None


def test_metrics_count_fast_answers(served: Served) -> None:
    raw = request("/sources/qk3/feed.json")
    served.fast(raw)
    text = served.svc.fetch("/metrics").decode()
    line = next(ln for ln in text.splitlines() if 'path="/sources/{source_id}/feed.json"' in ln)
    count = int(line.rsplit(" ", 1)[1])
    served.fast(raw)
    text = served.svc.fetch("/metrics").decode()
    assert f'qkfeed_http_requests_total{{path="/sources/{{source_id}}/feed.json",status="200"}} {count + 1}' in text


# -- connections ---------------------------------------------------------------------------------


def test_connection_close_is_honoured(served: Served) -> None:
    served.fast(request("/feed.rss"))  # the key is in the table
    before = served.fast_count()
    conn = Conn(served.port)
    try:
        conn.send(request("/feed.rss", "Connection: close") + request("/feed.rss"))
        answer = conn.answer()
        assert answer.status == 200 and answer.headers[-1] == (b"connection", b"close")
        assert conn.closed_by_server()
        assert conn.buf == b""  # the request after the close was not answered
    finally:
        conn.close()
    assert served.fast_count() in (before, before + 1)  # fast unless the version aged out


def test_http_1_0_gets_an_answer_and_a_close(served: Served) -> None:
    raw = request("/feed.atom", "Accept-Encoding: gzip", version="1.0")
    normal = served.normal(raw)
    conn = Conn(served.port)
    try:
        served.fast(raw)
        conn.send(raw)
        answer = conn.answer()
        _same(answer, normal)
        assert answer.header(b"connection") == b"close"
        assert conn.closed_by_server()
    finally:
        conn.close()


def test_keep_alive_serves_many_fast_answers_on_one_connection(served: Served) -> None:
    raw = request("/feed.atom", "Accept-Encoding: gzip")
    first = served.fast(raw)
    before = served.fast_count()
    conn = Conn(served.port)
    try:
        for _ in range(50):
            conn.send(raw)
            answer = conn.answer()
            assert answer.body == first.body and answer.header(b"connection") is None
    finally:
        conn.close()
    assert served.fast_count() >= before + 40  # a version read may send a few the normal way


def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    atom, rss = request("/feed.atom", "Accept-Encoding: gzip"), request("/feed.rss")
    served.fast(atom)
    served.fast(rss)
    etag = served.ask(rss).header(b"etag")
    assert etag
    not_modified = request("/feed.rss", "If-None-Match: " + etag.decode())
    served.fast(not_modified)
    sequence = [
        (atom, "atom"),
        (request("/healthz"), "health"),  # the normal path, between fast ones
        (rss, "rss"),
        (not_modified, "304"),
        (request("/opml"), "opml"),
        (atom, "atom"),
        (request("/sources/nope/feed.atom"), "404"),
        (rss, "rss"),
    ]
    conn = Conn(served.port)
    try:
        conn.send(b"".join(raw for raw, _ in sequence))
        got = [conn.answer() for _ in sequence]
    finally:
        conn.close()
    kinds = []
    for a in got:
        ctype = (a.header(b"content-type") or b"").decode()
        kinds.append(
            "304" if a.status == 304 else "404" if a.status == 404 else
            "atom" if "atom" in ctype else "rss" if "rss" in ctype else
            "health" if "json" in ctype else "opml" if "opml" in ctype or "xml" in ctype else ctype
        )
    assert kinds == [kind for _, kind in sequence]


def _rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024  # type: ignore[union-attr]


def test_a_client_that_does_not_read_does_not_grow_the_server(served: Served) -> None:
    raw = request("/feed.atom")  # ~the whole plain feed per answer
    size = len(served.fast(raw).body)
    count = 2000  # answers worth ~size * count bytes (~85 MB), far more than the bound below
    assert served.svc.proc is not None
    pid = served.svc.proc.pid
    before = _rss_mb(pid)
    conn = Conn(served.port)
    try:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sender = threading.Thread(target=conn.send, args=(raw * count,), daemon=True)
        sender.start()
        time.sleep(1.5)  # the server answers until its writes pause, then stops reading
        grown = _rss_mb(pid) - before
        assert grown < LAZY_READER_MB, f"the server grew {grown:.0f} MB for a client that does not read"
        got = 0
        while got < count:  # now read: every answer arrives, complete and in order
            answer = conn.answer()
            assert answer.status == 200 and len(answer.body) == size
            got += 1
        sender.join(10)
    finally:
        conn.close()
    assert size * count > 4 * LAZY_READER_MB * 1024 * 1024


# -- what the fast path leaves to the normal path --------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        request("/feed.atom", "Range: bytes=0-10"),
        request("/feed.atom", "Host: evil.example"),  # two Host headers
        request("/feed.atom", "Content-Length: 3")[:-4] + b"\r\n\r\nabc",
        request("/feed.atom", "Transfer-Encoding: chunked")[:-4] + b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        request("/feed.atom", "Expect: 100-continue", "Content-Length: 0"),
        request("/feed.atom", "X-Forwarded-Proto: https"),
        request("/feed.atom", "Cookie: a=b"),
        request("/feed.atom", method="POST"),
        request("/feed.atom", method="OPTIONS"),
        request("/feed.atom", "Connection: Upgrade", "Upgrade: websocket"),
    ],
    ids=["range", "two-hosts", "body", "chunked-body", "expect", "forwarded", "cookie", "post",
         "options", "upgrade"],
)
def test_requests_it_cannot_vouch_for_take_the_normal_path(served: Served, raw: bytes) -> None:
    served.fast(request("/feed.atom"))
    for _ in range(2):
        before = served.fast_count()
        answer = served.ask(raw)
        assert served.fast_count() == before
    assert answer.status in (200, 400, 405, 426)
    served.svc.check_alive()


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /feed.atom HTTP/1.1\r\nHost: \xff\xfe<script>\r\n\r\n",
        b"GET /feed.atom HTTP/1.1\r\nHost: a" + b"a" * 4000 + b"\r\n\r\n",
        b"GET /feed.atom HTTP/1.1\r\n\r\n",  # no Host at all
        b"GET http://evil.example/feed.atom HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /feed.atom?limit=5&limit=6 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /feed.atom?q=%00%ff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /sources/%2e%2e/feed.atom HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /feed.atom#frag HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ],
    ids=["binary-host", "long-host", "no-host", "absolute-form", "two-limits", "nul-query",
         "dotdot", "encoded-dotdot", "fragment"],
)
def test_hostile_hosts_and_paths_get_what_the_normal_path_gives(served: Served, raw: bytes) -> None:
    normal = served.normal(raw)
    again = [served.ask(raw) for _ in range(3)]  # the first of these may fill the table
    for answer in again:
        _same(answer, normal)
    if normal.status == 200:  # self links come from [server] base_url, never from Host
        body = normal.body.decode("utf-8")
        assert "evil" not in body and "script" not in body
    served.svc.check_alive()


# -- freshness --------------------------------------------------------------------------------------


def test_a_new_article_shows_within_the_bound(served: Served) -> None:
    raw = request("/feed.atom", "Accept-Encoding: gzip")
    served.fast(raw)
    with open_store(f"sqlite:///{served.db}") as store:  # another writer, as another worker
        store.upsert_article(
            Article(
                url="https://quankhu3.vn/chinh-tri-xa-hoi/tin-moi-nhat",
                source_id="qk3",
                title="Tin mới nhất của quân khu",
                published=T0 + timedelta(days=30),
                body_text="Mới.",
                fingerprint="new",
            )
        )
        written = time.monotonic()
    conn = Conn(served.port)
    try:
        while True:
            conn.send(raw)
            answer = conn.answer()
            elapsed = time.monotonic() - written
            if "Tin mới nhất của quân khu" in gzip.decompress(answer.body).decode("utf-8"):
                break
            assert elapsed < DEFAULT_VERSION_CHECK + SLACK, "the new article did not show in time"
            time.sleep(0.02)
    finally:
        conn.close()
    # and the new answer is served fast again, equal to the normal path's
    _same(served.fast(raw), served.normal(raw))


# -- the front in process: keyed answers, one Starlette pass ------------------------------------------


def test_the_front_answers_repeats_without_starlette(tmp_path: Path) -> None:
    """The first request fills the table, the repeat on the same connection is a table hit."""
    config = config_from_dict({"sources": {"qk3": {"name": "Q", "start_urls": ["https://q.vn/"]}}})
    with open_store(f"sqlite:///{tmp_path / 'q.db'}") as store:
        store.upsert_article(_article(1))
        app = create_app(config, store, base_url="http://feeds.test", version_check=5)
        with server_in_thread(app) as port:
            conn = Conn(port)
            try:
                raw = request("/feed.atom")
                conn.send(raw)
                first = conn.answer()
                conn.send(raw)
                second = conn.answer()
                _same(second, first)
                assert app.state.metrics.fast_hits == 1
                assert len(app.state.fastpath) == 1
                conn.send(request("/feed.atom", "X-Normal: 1"))  # not vouched for: Starlette
                third = conn.answer()
                _same(third, first)
                assert app.state.metrics.fast_hits == 1
                conn.send(raw.replace(b"HTTP/1.1", b"HTTP/1.0"))  # 1.0: the same key, closed after
                fourth = conn.answer()
                assert fourth.status == 200 and fourth.body == first.body
                assert app.state.metrics.fast_hits == 2
            finally:
                conn.close()


# -- StoreVersion ------------------------------------------------------------------------------------


def test_store_version_reads_at_most_once_per_interval_and_after_a_write(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'v.db'}") as store:
        store.upsert_article(_article(1))
        reads: list[str] = []

        def read() -> str:
            reads.append(threading.current_thread().name)
            return store.version()

        async def scenario() -> None:
            every = StoreVersion(read, 0)
            first = await every.get()
            assert await every.get() == first and len(reads) == 2  # interval 0: every call reads
            assert every.fresh() is None  # the fast path never trusts it

            changes: list[str] = []
            versions = StoreVersion(read, 60, on_change=changes.append)
            reads.clear()
            v1 = await versions.get()
            assert [await versions.get() for _ in range(5)] == [v1] * 5
            assert versions.fresh() == v1 and len(reads) == 1
            assert changes == [v1]
            # a write of this process (the scheduler's store is wrapped like this)
            writes = _WriteNotifyingStore(store, versions.invalidate)
            writes.upsert_article(_article(2))
            assert versions.fresh() is None
            v2 = await versions.get()
            assert v2 != v1 and changes == [v1, v2] and len(reads) == 2
            # concurrent callers share one read
            versions.invalidate()
            got = await asyncio.gather(*(versions.get() for _ in range(20)))
            assert set(got) == {v2} and len(reads) == 3

        asyncio.run(scenario())
        assert all(name != threading.main_thread().name for name in reads)  # never on the loop


# -- Host allowlist and IPv6 self links in the real service ----------------------------------------


def test_only_allowed_hosts_are_answered(served: Served) -> None:
    for path in ("/metrics", "/healthz", "/feed.atom"):
        raw = f"GET {path} HTTP/1.1\r\nHost: rebind.evil.example\r\n\r\n".encode()
        assert served.ask(raw).status == 421  # a DNS-rebinding page cannot read the server
    for host in ("127.0.0.1", f"127.0.0.1:{served.port}", f"localhost:{served.port}"):
        raw = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        assert served.ask(raw).status == 200


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_run_on_ipv6_writes_bracketed_self_links(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    with open_store(f"sqlite:///{db}") as store:
        store.upsert_article(_article(1))
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "c.toml"
    config.write_text(_config_text(db, port), encoding="utf-8")
    log = (tmp_path / "log").open("wb")
    proc = subprocess.Popen([sys.executable, str(RUN_PY), "--config", str(config), "run",
                             "--host", "::1", "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=log, env=child_env())
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("::1", port), timeout=2) as sock:
                    sock.sendall(f"GET /feed.atom HTTP/1.1\r\nHost: [::1]:{port}\r\n"
                                 "Connection: close\r\n\r\n".encode())
                    data = b""
                    while chunk := sock.recv(65536):
                        data += chunk
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        assert data.startswith(b"HTTP/1.1 200 ")
        assert f'href="http://[::1]:{port}/feed.atom"'.encode() in data
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        log.close()
