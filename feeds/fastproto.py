"""uvicorn's httptools protocol with the fast path (``feeds.fastpath``) in front of ASGI.

    uvicorn.Config(app, http=fast_protocol(app.state.fastpath), ...)

A request is answered from the table, right in the parser's callbacks, only
when nothing about it or the connection needs uvicorn's machinery:

- GET or HEAD, HTTP/1.0 or 1.1, no upgrade, no body, and only headers in
  ``HARMLESS`` or in the key (each of those at most once);
- no ASGI cycle in progress and none queued (pipelined answers stay in order),
  writing not paused (a client that does not read gets nothing more until it
  does: uvicorn's flow control takes over), access log off;
- the table has the key at the current, fresh store version.

Anything else goes to uvicorn as usual, the key (when the request is eligible)
in its scope so the app can fill the table.  Keep-alive follows uvicorn's
rule (HTTP/1.0 or ``Connection: close`` answers ``connection: close`` and
closes); requests pipelined after that close are dropped, as uvicorn drops
them.

This subclasses uvicorn internals (``HttpToolsProtocol``'s parser callbacks and
per-connection attributes), so pyproject pins uvicorn's version range and
``tests/test_fastpath.py`` checks those internals are still there.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .fastpath import KEY_EXTENSION, FastPath, Prebuilt

__all__ = ["HARMLESS", "FastPathProtocol", "fast_protocol"]

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
METHODS = frozenset({b"GET", b"HEAD"})
VERSIONS = frozenset({"1.1", "1.0"})
_DROP = object()  # a request after this connection was told to close


class FastPathProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` answering table hits itself; ``fastpath`` is set by ``fast_protocol``."""

    fastpath: FastPath

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast: tuple[Prebuilt, bool] | object | None = None  # answer + keep-alive, or _DROP
        self._fast_served = False

    def on_headers_complete(self) -> None:
        if self.transport.is_closing():
            self._fast = _DROP
            return
        key = self._key()
        if key is not None:
            answer = self.fastpath.lookup(key)
            if answer is not None:
                version = self.parser.get_http_version()
                self._fast = (answer, version != "1.0" and self.parser.should_keep_alive())
                return
            self.scope["extensions"] = {KEY_EXTENSION: key}
        super().on_headers_complete()

    def _key(
        self,
    ) -> tuple[bytes, bytes, bytes | None, bytes | None, bytes | None, bytes | None] | None:
        """The fast-path key of the request just parsed, or None if it is not eligible."""
        if (
            (self.cycle is not None and not self.cycle.response_complete)
            or self.pipeline
            or self.flow.write_paused
            or self.access_log
        ):
            return None
        parser = self.parser
        method = parser.get_method()
        if method not in METHODS or parser.get_http_version() not in VERSIONS:
            return None
        if parser.should_upgrade():
            return None
        keyed: list[bytes | None] = [None, None, None, None]
        for name, value in self.headers:
            if name in HARMLESS:
                continue
            at = KEYED.get(name)
            if at is None or keyed[at] is not None:
                return None
            keyed[at] = value
        return (method, self.url, keyed[0], keyed[1], keyed[2], keyed[3])

    def on_body(self, body: bytes) -> None:
        if self._fast is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        fast = self._fast
        if fast is None:
            super().on_message_complete()
            return
        self._fast = None
        if fast is _DROP:
            return
        answer, keep_alive = fast  # type: ignore[misc]
        self.transport.write(answer.wire(self.server_state.default_headers, keep_alive))
        self.server_state.total_requests += 1
        if keep_alive:
            self._fast_served = True
        else:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._fast_served:
            # what on_response_complete does after an ASGI answer: arm the keep-alive timeout
            self._fast_served = False
            if (
                self.timeout_keep_alive_task is None
                and not self.transport.is_closing()
                and (self.cycle is None or self.cycle.response_complete)
                and not self.pipeline
            ):
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self.timeout_keep_alive_handler
                )


def fast_protocol(fastpath: FastPath) -> type[FastPathProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` answering from ``fastpath``."""
    return type("BoundFastPathProtocol", (FastPathProtocol,), {"fastpath": fastpath})
