"""Cached feed answers replayed in front of Starlette: a pure ASGI app and its table.

Why: a cached feed through Starlette's routing, the metrics middleware and the
endpoint costs far more Python per request (~270 µs measured with a version
query included, see README "Benchmarks") than looking the request up in a dict
and sending two prebuilt ASGI messages.  So ``FeedFront`` (the app
the server runs) answers repeated feed requests from ``FastPath`` and only the
first request of each kind goes through Starlette.

How it stays exact: for a request it can vouch for (GET or HEAD, only headers
in ``HARMLESS`` or in the key, each key header at most once — so no body, no
``Range``, no ``Cookie``) the front computes a ``Key`` of everything a feed
answer depends on: method, path and query bytes, Host, Accept-Encoding,
If-None-Match, If-Modified-Since.  On a miss it puts the key in the scope
(``KEY_EXTENSION``); the feed endpoint answers through its normal path
(filters, render cache, ``conditional_response``) and ``offer``s the status,
headers and body it sent, with the store version they were rendered for.  A
later request with the same key gets those exact messages while the store
version is unchanged and fresh (``feeds.version``).  No HTTP semantics live
here: a 304 is replayed only for the exact validator text the app answered 304
to, a gzip body only for the exact Accept-Encoding text it was sent for.  The
server adds Date and Server and handles keep-alive, HTTP/1.0 and pipelining,
as for any answer.

The front also applies the guards (``feeds.guard``) before anything else:
heads over ``max_header_bytes`` get 431 and a close, unknown ``Host``s 421.
Both are counted in the metrics like every answer.

Hand-written: no library serves precomputed ASGI answers keyed by request
headers; an external cache (nginx, Varnish) would be a second process to run.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from email.utils import formatdate
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .guard import HostGuard
from .metrics import Metrics, path_label
from .version import StoreVersion

__all__ = [
    "DEFAULT_ENTRIES",
    "HARMLESS",
    "KEY_EXTENSION",
    "FastPath",
    "FeedFront",
    "Key",
    "Prebuilt",
    "key_of",
]

DEFAULT_ENTRIES = 256  # request keys remembered (LRU); cleared when the store version changes
KEY_EXTENSION = "qkfeed.fastpath_key"  # scope["extensions"] entry the front sets on a miss
HEAD_SLACK = 4  # bytes per header line beyond name and value (": " and CRLF)

# Request headers a feed answer does not depend on (the app never reads them).
HARMLESS = frozenset(
    {
        b"user-agent",
        b"accept",
        b"accept-language",
        b"accept-charset",
        b"cache-control",
        b"pragma",
        b"connection",
        b"keep-alive",
        b"referer",
        b"from",
        b"dnt",
        b"upgrade-insecure-requests",
        b"priority",
        b"sec-fetch-dest",
        b"sec-fetch-mode",
        b"sec-fetch-site",
        b"sec-fetch-user",
    }
)
# The headers in the key, by their position in it.
KEYED = {b"host": 0, b"accept-encoding": 1, b"if-none-match": 2, b"if-modified-since": 3}
METHODS = frozenset({"GET", "HEAD"})

SERVER = b"granian"  # the Server header granian itself adds to the answers it completes
CLOSE = (b"connection", b"close")
HTTP_1_0 = frozenset({"1.0", "1"})  # granian 2.x reports HTTP/1.0 as "1"

# (method, path, query, Host, Accept-Encoding, If-None-Match, If-Modified-Since)
Key = tuple[str, bytes, bytes, bytes | None, bytes | None, bytes | None, bytes | None]


def key_of(scope: Mapping[str, Any]) -> Key | None:
    """The fast-path key the front put in ``scope`` (None: not eligible, or no front)."""
    extensions = scope.get("extensions")
    return extensions.get(KEY_EXTENSION) if extensions else None


class _Clock:
    """The Date header of this second, formatted once a second."""

    def __init__(self) -> None:
        self.second = -1
        self.value = b""

    def now(self) -> bytes:
        second = int(time.time())
        if second != self.second:
            self.value = formatdate(second, usegmt=True).encode("ascii")
            self.second = second
        return self.value


_CLOCK = _Clock()


def closing_headers() -> list[tuple[bytes, bytes]]:
    """Date, Server and ``connection: close``, in the order an answer ends with them.

    Why the front writes them: granian appends Server and Date after the app's
    headers, so an app's ``connection: close`` would not be the last line; when
    the app gives Date and Server, granian adds neither and keeps the order.
    """
    return [(b"date", _CLOCK.now()), (b"server", SERVER), CLOSE]


class Prebuilt:
    """One answer as two ASGI messages, built once and sent as they are."""

    __slots__ = ("start", "body", "count_key", "_closing", "_closing_date")

    def __init__(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes, count_key: tuple[str, int]
    ) -> None:
        self.start = {"type": "http.response.start", "status": status, "headers": list(headers)}
        self.body = {"type": "http.response.body", "body": body}
        self.count_key = count_key  # (metrics path label, status)
        self._closing: dict[str, Any] = self.start
        self._closing_date = b""

    def closing(self) -> dict[str, Any]:
        """The start message for a connection that closes after it (rebuilt once a second)."""
        date = _CLOCK.now()
        if date != self._closing_date:
            tail = closing_headers()
            self._closing = {**self.start, "headers": [*self.start["headers"], *tail]}
            self._closing_date = date
        return self._closing


class FastPath:
    """Request keys -> prebuilt answers, each valid for the store version it was rendered from."""

    def __init__(
        self, versions: StoreVersion, metrics: Metrics, maxsize: int = DEFAULT_ENTRIES
    ) -> None:
        if maxsize < 1:
            raise ValueError("the fast path needs room for at least one entry")
        self.versions = versions
        self.metrics = metrics
        self.maxsize = maxsize
        self._entries: OrderedDict[Key, tuple[str, Prebuilt]] = OrderedDict()

    def lookup(self, key: Key) -> Prebuilt | None:
        """The answer for ``key`` if it is current; counts it in the metrics."""
        found = self._entries.get(key)
        if found is None or found[0] != self.versions.fresh():
            return None
        self._entries.move_to_end(key)
        answer = found[1]
        self.metrics.count_fast(answer.count_key)
        return answer

    def offer(
        self,
        scope: MutableMapping[str, Any],
        version: str,
        label: str,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        """Remember the answer the app just sent for ``scope``, if the front keyed it."""
        key = key_of(scope)
        if key is None or status not in (200, 304):
            return
        if scope["method"] == "HEAD" or status == 304:
            body = b""
        self._entries[key] = (version, Prebuilt(status, headers, body, (label, status)))
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def clear(self, *_: object) -> None:
        """Forget every answer (the store version changed)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _plain(status: int, text: str, *, close: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    body = text.encode("utf-8")
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if close:
        headers.append((b"connection", b"close"))
    start = {"type": "http.response.start", "status": status, "headers": headers}
    return start, {"type": "http.response.body", "body": body}


HEAD_TOO_LARGE = _plain(431, "The request head is too large.\n", close=True)
WRONG_HOST = _plain(421, "This server does not answer for that host name.\n")
TWO_HOSTS = _plain(400, "A request has one Host header.\n", close=True)


def _closing_send(send: Send) -> Send:
    """``send`` with ``closing_headers()`` after the app's headers of the answer."""

    async def send_closing(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), *closing_headers()]
            message = {**message, "headers": headers}
        await send(message)

    return send_closing


class FeedFront:
    """The ASGI app the server runs: guards, then table hits, then Starlette.

    ``state`` is the Starlette app's (``app.state.cache`` and the rest).
    """

    def __init__(
        self,
        app: ASGIApp,
        fastpath: FastPath,
        *,
        routes: Sequence[BaseRoute],
        max_header_bytes: int,
        hosts: HostGuard | None,
        state: Any,
    ) -> None:
        self.app = app
        self.fastpath = fastpath
        self.routes = routes
        self.max_header_bytes = max_header_bytes
        self.hosts = hosts
        self.state = state
        self._lookup: Callable[[Key], Prebuilt | None] = fastpath.lookup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        path = scope.get("raw_path") or scope["path"].encode("utf-8")
        query = scope["query_string"]
        size = len(path) + len(query)
        keyed: list[bytes | None] = [None, None, None, None]
        eligible = method in METHODS
        hosts = 0
        connection: bytes | None = None
        for name, value in scope["headers"]:
            size += len(name) + len(value) + HEAD_SLACK
            if name in HARMLESS:
                if name == b"connection":
                    connection = value
            else:
                at = KEYED.get(name)
                if at is None:
                    eligible = False
                elif keyed[at] is not None:
                    eligible = False
                    hosts += at == 0
                else:
                    keyed[at] = value
        if size > self.max_header_bytes:
            await self._refuse(scope, send, HEAD_TOO_LARGE)
            return
        # HTTP/1.0 (keep-alive or not) and "Connection: close" get an answer that says close
        close = scope.get("http_version") in HTTP_1_0 or (
            connection is not None and b"close" in connection.lower()
        )
        key: Key | None = None
        if eligible:
            key = (method, path, query, keyed[0], keyed[1], keyed[2], keyed[3])
            answer = self._lookup(key)  # entries exist only for hosts the guard allowed
            if answer is not None:
                await send(answer.closing() if close else answer.start)
                await send(answer.body)
                return
        if hosts:
            await self._refuse(scope, send, TWO_HOSTS)
            return
        if self.hosts is not None and not self.hosts.allows(keyed[0]):
            await self._refuse(scope, send, WRONG_HOST)
            return
        if key is not None:
            scope["extensions"] = {**(scope.get("extensions") or {}), KEY_EXTENSION: key}
        await self.app(scope, receive, _closing_send(send) if close else send)

    async def _refuse(
        self, scope: Scope, send: Send, answer: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        start, body = answer
        await send(start)
        await send(body if scope["method"] != "HEAD" else {"type": "http.response.body"})
        self.fastpath.metrics.count_request(path_label(self.routes, scope), int(start["status"]))
