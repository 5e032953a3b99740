"""Reading a response body within the size cap: Content-Length checked first, then every
decoded byte counted while it is inflated (gzip, deflate, raw deflate).

``read_body(url, resp, cap)`` raises ResponseTooLarge past ``cap`` decoded bytes, or with
``truncate`` returns the first ``cap`` bytes and stops reading (robots.txt: RFC 9309 asks a
crawler to parse at least the first 500 KiB of a larger file rather than ignore it).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import httpx

from scraper.errors import FetchError, ResponseTooLarge

__all__ = ["Inflater", "read_body"]

_DECODABLE: dict[str, Callable[[], Any]] = {
    "identity": lambda: None,
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "deflate": zlib.decompressobj,
}
_UNSUPPORTED = frozenset({"br", "zstd", "compress", "x-compress"})  # never asked for


class Inflater:
    """Content-Encoding decoder that never produces more than ``limit`` + 1 bytes.

    httpx's own decoders inflate a whole network read at once: one 64 KiB read
    of a gzip bomb is 64 MiB.  Here every ``decompress`` call is bounded.  With
    ``truncate`` the output stops at ``limit`` bytes and ``full`` turns true instead
    of ResponseTooLarge.
    """

    def __init__(self, url: str, content_encoding: str, limit: int, *, truncate: bool = False) -> None:
        self._url = url
        self._limit = limit
        self._truncate = truncate
        self._total = 0
        self.full = False
        self._head: bytes | None = b""  # input seen before the first output (to retry deflate as raw)
        # like httpx: unknown tokens (e.g. a bogus "UTF-8") are ignored
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c in _DECODABLE or c in _UNSUPPORTED]
        if len(codings) > 1 or (codings and codings[0] in _UNSUPPORTED):
            raise FetchError(url, f"unsupported Content-Encoding {content_encoding!r}")
        self._encoding = codings[0] if codings else "identity"
        self._zlib = _DECODABLE[self._encoding]()

    def _count(self, data: bytes) -> bytes:
        self._total += len(data)
        if self._total > self._limit:
            if not self._truncate:
                raise ResponseTooLarge(self._url, f"body exceeds the cap of {self._limit} bytes")
            data = data[: len(data) - (self._total - self._limit)]
            self._total = self._limit
            self.full = True
        return data

    def feed(self, data: bytes) -> bytes:
        if self._zlib is None:
            return self._count(data)
        out = []
        try:
            # bytes after the end of the stream (a second gzip member, junk) are ignored,
            # as httpx does
            while data and not self._zlib.eof and not self.full:
                try:
                    chunk = self._zlib.decompress(data, self._limit - self._total + 1)
                except zlib.error:
                    if self._encoding != "deflate" or self._head is None:
                        raise
                    # "deflate" sent without its zlib header: start again as raw deflate
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    data, self._head = self._head + data, None
                    continue
                if self._head is not None:
                    self._head = (
                        None
                        if chunk
                        else self._head + data[: len(data) - len(self._zlib.unconsumed_tail)]
                    )
                out.append(self._count(chunk))
                data = self._zlib.unconsumed_tail
        except zlib.error as exc:
            raise FetchError(self._url, f"corrupt {self._encoding} body: {exc}") from None
        return b"".join(out)

    def flush(self) -> bytes:
        if self._zlib is None or self.full:
            return b""
        return self._count(self._zlib.flush())


async def read_body(url: str, resp: httpx.Response, cap: int, *, truncate: bool = False) -> bytes:
    """The decoded body of ``resp``: at most ``cap`` bytes (ResponseTooLarge, or cut there
    with ``truncate``)."""
    length = resp.headers.get("content-length", "")
    if not truncate and length.strip().isdigit() and int(length) > cap:
        raise ResponseTooLarge(url, f"Content-Length {int(length)} exceeds the cap of {cap} bytes")
    if resp.is_stream_consumed:  # a transport that hands over read responses (MockTransport)
        if len(resp.content) > cap:
            if truncate:
                return resp.content[:cap]
            raise ResponseTooLarge(url, f"body exceeds the cap of {cap} bytes")
        return resp.content
    inflater = Inflater(url, resp.headers.get("content-encoding", ""), cap, truncate=truncate)
    parts = []
    async for raw in resp.aiter_raw():
        parts.append(inflater.feed(raw))
        if inflater.full:
            return b"".join(parts)  # the rest is never read: the connection is closed
    parts.append(inflater.flush())
    return b"".join(parts)
