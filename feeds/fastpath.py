"""Prebuilt HTTP/1.1 answers for cached feed documents, replayed below ASGI.

Why: a cached feed costs ~300 µs through uvicorn's ASGI cycle, Starlette's
routing and the metrics middleware, ten times what writing the same bytes
straight from the connection's protocol costs.  So the protocol
(``feeds.fastproto``) answers repeated requests from this table and only the
first of each kind goes through the app.

How it stays exact: the protocol computes, for a request it can vouch for
(GET or HEAD, no body, only headers known not to change a feed answer), a
``Key`` of everything a feed answer depends on — method, the request target's
bytes, Host, Accept-Encoding, If-None-Match, If-Modified-Since — and puts it in
the ASGI scope (``KEY_EXTENSION``).  The app answers through its normal path
(routing, filters, render cache, ``conditional_response``) and then ``offer``s
the answer it sent, with the store version it was rendered for.  A later
request with the same key gets those exact bytes (status line, uvicorn's Date
and Server headers of this second, the app's headers, the body) while the
store version is unchanged and fresh (``feeds.version``).  No HTTP semantics
live here: a 304 is replayed only for the exact validator text the app
answered 304 to, a gzip body only for the exact Accept-Encoding text it was
sent for.

Hand-written: no library serves precomputed answers from inside uvicorn's
protocol; an external cache (nginx, Varnish) would be a second process to run.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from .metrics import Metrics
from .version import StoreVersion

__all__ = ["DEFAULT_ENTRIES", "KEY_EXTENSION", "FastPath", "Key", "Prebuilt", "key_of"]

DEFAULT_ENTRIES = 256  # request keys remembered (LRU); cleared when the store version changes
KEY_EXTENSION = "qkfeed.fastpath_key"  # scope["extensions"] entry the protocol sets
CLOSE = b"connection: close\r\n"

# (method, request target, Host, Accept-Encoding, If-None-Match, If-Modified-Since)
Key = tuple[bytes, bytes, bytes | None, bytes | None, bytes | None, bytes | None]


def key_of(scope: Mapping[str, Any]) -> Key | None:
    """The fast-path key the protocol put in ``scope`` (None: not eligible, or no fast path)."""
    extensions = scope.get("extensions")
    return extensions.get(KEY_EXTENSION) if extensions else None


class Prebuilt:
    """One answer as uvicorn would write it, its bytes rebuilt when the Date header changes."""

    __slots__ = ("status", "head", "body", "count_key", "_defaults", "_wire", "__weakref__")

    def __init__(
        self,
        status: int,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
        count_key: tuple[str, int],
    ) -> None:
        self.status = status
        self.head = b"".join(name.lower() + b": " + value + b"\r\n" for name, value in headers)
        self.body = body
        self.count_key = count_key  # (metrics path label, status)
        self._defaults: object = None
        self._wire = b""

    def wire(self, default_headers: list[tuple[bytes, bytes]], keep_alive: bool) -> bytes:
        """The bytes to write: ``default_headers`` is uvicorn's list (Date, Server) of this second.

        uvicorn replaces that list once a second, so its identity says when to rebuild.
        """
        if not keep_alive:
            return self._build(default_headers, CLOSE)
        if default_headers is not self._defaults:
            self._wire = self._build(default_headers, b"")
            self._defaults = default_headers
        return self._wire

    def _build(self, default_headers: list[tuple[bytes, bytes]], connection: bytes) -> bytes:
        # the order of uvicorn's RequestResponseCycle.send: defaults, the app's, then close
        defaults = b"".join(name + b": " + value + b"\r\n" for name, value in default_headers)
        return b"".join(
            (STATUS_LINE[self.status], defaults, self.head, connection, b"\r\n", self.body)
        )


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
        # equal answers (same status, headers and body) share one Prebuilt and its wire bytes
        self._interned: MutableMapping[tuple[int, bytes, int, tuple[str, int]], Prebuilt] = (
            weakref.WeakValueDictionary()
        )

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
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        """Remember the answer the app just sent for ``scope``, if the protocol keyed it."""
        key = key_of(scope)
        if key is None or status not in (200, 304):
            return
        if scope["method"] == "HEAD" or status == 304:
            body = b""
        head = b"".join(name.lower() + b": " + value + b"\r\n" for name, value in headers)
        ident = (status, head, id(body), (label, status))
        answer = self._interned.get(ident)
        if answer is None or answer.body is not body:
            answer = Prebuilt(status, headers, body, (label, status))
            self._interned[ident] = answer
        self._entries[key] = (version, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def clear(self, *_: object) -> None:
        """Forget every answer (the store version changed)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
