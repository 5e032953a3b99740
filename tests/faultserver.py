"""A real HTTP server on 127.0.0.1 with misbehaving endpoints, for anyone's tests.

    with FaultServer() as server:
        page = await fetcher.get(server.url("/ok"))
        assert server.hits("/ok") == 1

Each instance listens on its own port and keeps its own counters and request
log, so tests do not see each other.  Every response closes its connection.
Hanging endpoints are released when the server stops.

Endpoints (GET only; ``n`` below is a query parameter):

    /ok, /robots-ok-page    a small UTF-8 HTML page
    /etag                   ETag "v1" + Last-Modified; 304 to a matching conditional GET
    /hang-headers?s=10      accepts, then sends nothing for ``s`` seconds
    /hang-body?s=10         headers and a few bytes, then nothing
    /drip?interval=0.1&n=200  Content-Length n, one byte every ``interval`` seconds
    /slow?delay=0.3         a page after ``delay`` seconds (for limiter tests)
    /status/CODE?times=n    CODE the first n times (per path and query), then /ok;
                            without ``times`` always CODE (e.g. /status/404)
    /retry-after?seconds=3&times=1   429 with Retry-After in seconds, then /ok
    /retry-after?date=3&times=1      429 with Retry-After as an HTTP date 3 s ahead
                            (``status=503`` for a 503 instead)
    /reset                  headers and part of the body, then a TCP reset
    /truncated              Content-Length 1000, 100 bytes sent, connection closed
    /broken-chunked         chunked encoding with an invalid chunk size
    /big-length             Content-Length 100 MiB (a little is sent)
    /big-chunked?size=N     N bytes of chunked body (default 20 MiB)
    /gzip                   a small gzip-encoded page
    /gzip-bomb              BOMB_SIZE bytes of zeros gzip-encoded (~50 KB on the wire)
    /loop/a, /loop/b        redirect to each other
    /chain/N                redirects N times before reaching /ok
    /redirect?to=URL        302 to URL (e.g. another host)
    /to-localhost           302 to http://localhost:PORT/ok (another host name)
    /empty                  200 with an empty body
    /charset/utf8-as-1258   UTF-8 bytes, header and <meta> say windows-1258
    /charset/1258-as-utf8   windows-1258 bytes, header and <meta> say utf-8
    /charset/1258-undeclared  windows-1258 bytes, no charset anywhere
    /nfd                    UTF-8 Vietnamese text in NFD
    /robots.txt             ROBOTS (disallows /private/); see FaultServer(robots_status=)
    /private/...            a page robots.txt disallows
    /ua                     echoes the User-Agent header as text/plain

Pages of your own: ``FaultServer(pages={"/news": html})`` or ``server.add_page(path,
body, content_type)`` serve ``body`` with status 200 (and an ETag; 304 to a matching
If-None-Match) at exactly that path and query (checked before the endpoints above), so a
listing can link to articles and to the nasty endpoints alike.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import socket
import struct
import threading
import time
import unicodedata
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

__all__ = ["FaultServer", "Hit", "VI_TEXT", "ROBOTS", "BOMB_SIZE", "to_cp1258"]

BOMB_SIZE = 50 * 1024 * 1024
MAX_HANG = 10.0  # seconds a hanging endpoint waits unless the server stops first
VI_TEXT = (
    "Quân khu 7 tổ chức hội nghị tổng kết công tác quân sự, quốc phòng năm 2024. "
    "Đồng chí Thiếu tướng phát biểu chỉ đạo; lực lượng vũ trang được nâng cao về mọi mặt, "
    "sẵn sàng chiến đấu, bảo vệ vững chắc chủ quyền biên giới và biển đảo của Tổ quốc."
)
ROBOTS = "User-agent: *\nDisallow: /private/\n"
ETAG = '"v1"'
LAST_MODIFIED = "Mon, 06 Jan 2025 08:00:00 GMT"
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def to_cp1258(text: str) -> bytes:
    """Windows-1258 bytes of Vietnamese text: base letters precomposed, tones combining."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
        tones = "".join(c for c in parts if c in _TONES)
        out.append(base.encode("cp1258") + tones.encode("cp1258"))
    return b"".join(out)


def html(body: str, charset: str | None = "utf-8") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return f"<!doctype html><html><head>{meta}<title>Tin</title></head><body><p>{body}</p></body></html>"


@functools.cache
def gzip_bomb() -> bytes:
    """BOMB_SIZE zeros, gzipped once per process (~50 KB)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [comp.compress(block) for _ in range(BOMB_SIZE // len(block))]
    parts.append(comp.flush())
    return b"".join(parts)


@dataclass
class Hit:
    """One request as the server saw it."""

    path: str  # path and query
    headers: dict[str, str]  # lower-case names
    start: float  # time.monotonic() when the request line was read
    responded: float = 0.0  # when the status line was about to be written (0: never)
    end: float = 0.0  # when the handler finished


@dataclass
class _State:
    robots_status: int
    robots: str
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hits: list[Hit] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    pages: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # path -> (body, type)
    port: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    _hit: Hit

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    # -- helpers

    @property
    def state(self) -> _State:
        return self.server.state

    def _head(self, status: int, headers: list[tuple[str, str]], reason: str = "X") -> None:
        if not self._hit.responded:
            self._hit.responded = time.monotonic()
        lines = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/html; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        hdrs = list(headers or [])
        if content_type:
            hdrs.append(("Content-Type", content_type))
        hdrs.append(("Content-Length", str(len(body))))
        self._head(status, hdrs)
        self.wfile.write(body)

    def _ok(self) -> None:
        self._send(200, html("Trang thử nghiệm: " + VI_TEXT).encode())

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send(status, b"", headers=[("Location", location)])

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server stops; False when it stopped."""
        return not self.state.stop.wait(min(seconds, MAX_HANG))

    def _count(self) -> int:
        with self.state.lock:
            n = self.state.counters.get(self.path, 0) + 1
            self.state.counters[self.path] = n
        return n

    # -- dispatch

    def do_GET(self) -> None:  # noqa: N802
        hit = Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
        self._hit = hit
        with self.state.lock:
            self.state.hits.append(hit)
        self.close_connection = True
        try:
            self._dispatch()
            self.wfile.flush()
        except (OSError, ValueError):
            pass  # the client went away: that is what several endpoints are about
        finally:
            hit.end = time.monotonic()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        simple = {
            "/ok": self._ok,
            "/etag": self._etag,
            "/hang-headers": lambda: self._wait(float(q.get("s", MAX_HANG))),
            "/hang-body": lambda: self._hang_body(float(q.get("s", MAX_HANG))),
            "/drip": lambda: self._drip(float(q.get("interval", 0.1)), int(q.get("n", 200))),
            "/slow": lambda: self._wait(float(q.get("delay", 0.3))) and self._ok(),
            "/retry-after": lambda: self._retry_after(q),
            "/reset": self._reset,
            "/truncated": self._truncated,
            "/broken-chunked": self._broken_chunked,
            "/big-length": self._big_length,
            "/big-chunked": lambda: self._big_chunked(int(q.get("size", 20 * 1024 * 1024))),
            "/gzip": self._gzip,
            "/gzip-bomb": self._gzip_bomb,
            "/loop/a": lambda: self._redirect("/loop/b"),
            "/loop/b": lambda: self._redirect("/loop/a"),
            "/redirect": lambda: self._redirect(q["to"]),
            "/to-localhost": lambda: self._redirect(f"http://localhost:{self.state.port}/ok"),
            "/empty": lambda: self._send(200, b""),
            "/robots.txt": self._robots,
            "/ua": lambda: self._send(
                200, self.headers.get("User-Agent", "").encode(), "text/plain; charset=utf-8"
            ),
            "/charset/utf8-as-1258": lambda: self._send(
                200, html(VI_TEXT, "windows-1258").encode(), "text/html; charset=windows-1258"
            ),
            "/charset/1258-as-utf8": lambda: self._send(
                200, to_cp1258(html(VI_TEXT, "utf-8")), "text/html; charset=utf-8"
            ),
            "/charset/1258-undeclared": lambda: self._send(
                200, to_cp1258(html(VI_TEXT, None)), "text/html"
            ),
            "/nfd": lambda: self._send(
                200,
                html(unicodedata.normalize("NFD", VI_TEXT)).encode(),
                "text/html; charset=utf-8",
            ),
        }
        with self.state.lock:
            page = self.state.pages.get(self.path)
        if page is not None:
            etag = f'"{hashlib.sha256(page[0]).hexdigest()[:16]}"'
            if self.headers.get("If-None-Match") == etag:
                self._head(304, [("ETag", etag)])
            else:
                self._send(200, page[0], page[1], [("ETag", etag)])
        elif path in simple:
            simple[path]()
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            times = q.get("times")
            if times is None or self._count() <= int(times):
                self._send(code, f"status {code}".encode(), "text/plain")
            else:
                self._ok()
        elif path.startswith("/chain/"):
            n = int(path.rsplit("/", 1)[1])
            self._redirect(f"/chain/{n - 1}" if n > 1 else "/ok")
        elif path.startswith("/private/"):
            self._ok()
        else:
            self._send(404, b"not found", "text/plain")

    # -- endpoints

    def _etag(self) -> None:
        validators = [("ETag", ETAG), ("Last-Modified", LAST_MODIFIED)]
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if (inm is not None and ETAG in inm) or (inm is None and ims == LAST_MODIFIED):
            self._head(304, validators)
        else:
            self._send(200, html(VI_TEXT).encode(), headers=validators)

    def _hang_body(self, seconds: float) -> None:
        self._head(200, [("Content-Type", "text/html"), ("Content-Length", "1000")])
        self.wfile.write(b"<html>")
        self.wfile.flush()
        self._wait(seconds)

    def _drip(self, interval: float, n: int) -> None:
        self._head(200, [("Content-Type", "text/plain"), ("Content-Length", str(n))])
        for _ in range(n):
            self.wfile.write(b"x")
            self.wfile.flush()
            if not self._wait(interval):
                return

    def _retry_after(self, q: dict[str, str]) -> None:
        status = int(q.get("status", 429))
        if self._count() > int(q.get("times", 1)):
            return self._ok()
        if "date" in q:
            value = formatdate(time.time() + float(q["date"]), usegmt=True)
        else:
            value = q.get("seconds", "1")
        self._send(status, b"slow down", "text/plain", [("Retry-After", value)])

    def _reset(self) -> None:
        self._head(200, [("Content-Type", "text/html"), ("Content-Length", "10000")])
        self.wfile.write(b"<html>" + b"x" * 100)
        self.wfile.flush()
        time.sleep(0.05)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()  # RST instead of FIN

    def _truncated(self) -> None:
        self._head(200, [("Content-Type", "text/html"), ("Content-Length", "1000")])
        self.wfile.write(b"x" * 100)

    def _broken_chunked(self) -> None:
        self._head(200, [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")])
        self.wfile.write(b"5\r\nhello\r\nZZZ-not-a-size\r\nxxxx\r\n")

    def _big_length(self) -> None:
        self._head(200, [("Content-Type", "text/html"), ("Content-Length", str(100 * 1024 * 1024))])
        self.wfile.write(b"x" * 1024)
        self.wfile.flush()
        self._wait(1.0)

    def _big_chunked(self, size: int) -> None:
        self._head(200, [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
        chunk = b"x" * 65536
        sent = 0
        while sent < size and not self.state.stop.is_set():
            part = chunk[: size - sent]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            sent += len(part)
        self.wfile.write(b"0\r\n\r\n")

    def _gzip(self) -> None:
        body = gzip.compress(html(VI_TEXT).encode())
        self._send(200, body, headers=[("Content-Encoding", "gzip")])

    def _gzip_bomb(self) -> None:
        self._send(200, gzip_bomb(), "text/html", [("Content-Encoding", "gzip")])

    def _robots(self) -> None:
        self._send(self.state.robots_status, self.state.robots.encode(), "text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up mid-response is the point of this server


class FaultServer:
    """Context manager: a FaultServer on 127.0.0.1, on a free port, in a thread."""

    def __init__(
        self,
        *,
        robots: str = ROBOTS,
        robots_status: int = 200,
        pages: Mapping[str, str | bytes] | None = None,
    ) -> None:
        self._state = _State(robots_status=robots_status, robots=robots)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        for path, body in (pages or {}).items():
            self.add_page(path, body)

    def add_page(
        self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8"
    ) -> None:
        """Serve ``body`` (a str is sent as UTF-8) at exactly ``path`` (path and query)."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._state.lock:
            self._state.pages[path] = (data, content_type)

    def __enter__(self) -> FaultServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.state = self._state
        self._state.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state.stop.set()
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def port(self) -> int:
        return self._state.port

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def requests(self) -> list[Hit]:
        with self._state.lock:
            return list(self._state.hits)

    def hits(self, path: str) -> int:
        """How many requests had exactly this path (and query)."""
        return sum(1 for h in self.requests if h.path == path)

    def max_concurrency(self, prefix: str = "/") -> int:
        """Most requests (with paths starting with ``prefix``) being served at once.

        A request counts from its arrival until its status line was written, so
        a client that starts the next request on receiving a response is never
        counted twice.
        """
        events = []
        for h in self.requests:
            if h.path.startswith(prefix):
                events.append((h.start, 1))
                events.append((h.responded or h.end, -1))
        current = best = 0
        for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
            current += delta
            best = max(best, current)
        return best
