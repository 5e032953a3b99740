"""Rendered documents (both encodings and their validators), the LRU that keeps them, and
the renders in flight (``SharedRenders``: one render shared by every request that missed).

A document is rendered once per store version and kept with its gzip form and
strong ETags, so a cache hit costs no rendering, compressing or hashing.

Settings: ``DEFAULT_CACHE_SIZE`` documents and ``DEFAULT_CACHE_BYTES`` of bodies;
documents of at least ``GZIP_MIN_BYTES`` are compressed at ``GZIP_LEVEL``.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from starlette.concurrency import run_in_threadpool

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "DEFAULT_CACHE_SIZE",
    "RenderCache",
    "Rendered",
    "SharedRenders",
    "strong_etag",
]

DEFAULT_CACHE_SIZE = 256  # rendered documents kept (LRU)
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024  # and at most this many body bytes (both encodings)
GZIP_MIN_BYTES = 512  # smaller documents are sent as they are
GZIP_LEVEL = 6
ETAG_HEX_CHARS = 32


def strong_etag(body: bytes) -> str:
    """A strong ETag of ``body`` (a hash, so equal bytes give the same tag in every process)."""
    return '"' + hashlib.sha256(body).hexdigest()[:ETAG_HEX_CHARS] + '"'


@dataclass(frozen=True)
class Rendered:
    """A rendered document in both encodings, with its validators."""

    body: bytes
    content_type: str
    etag: str  # strong ETag of ``body``
    last_modified: datetime | None
    gzip_body: bytes | None  # None when the body is too small to be worth compressing
    gzip_etag: str | None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzip_body or b"")

    @classmethod
    def of(cls, body: bytes, content_type: str, last_modified: datetime | None) -> Rendered:
        packed = gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        return cls(
            body=body,
            content_type=content_type,
            etag=strong_etag(body),
            last_modified=last_modified.replace(microsecond=0) if last_modified else None,
            gzip_body=packed,
            gzip_etag=strong_etag(packed) if packed is not None else None,
        )


class RenderCache:
    """LRU of ``Rendered`` documents, each valid for one store-version stamp.

    Settings: ``maxsize`` documents (``DEFAULT_CACHE_SIZE``) and ``max_bytes``
    of bodies (``DEFAULT_CACHE_BYTES``); a document larger than ``max_bytes``
    is served but not kept.

    A key is (kind, path parameters, normalized query, base URL); the stamp
    (the store version, plus run state for the page) is stored with the
    document, so a new version replaces the old render instead of piling up
    beside it.  Thread-safe.
    """

    def __init__(
        self, maxsize: int = DEFAULT_CACHE_SIZE, max_bytes: int = DEFAULT_CACHE_BYTES
    ) -> None:
        if maxsize < 1 or max_bytes < 1:
            raise ValueError("cache size and byte budget must be at least 1")
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._docs: OrderedDict[Hashable, tuple[Hashable, Rendered]] = OrderedDict()
        self._bytes = 0
        self._seen: tuple[str, datetime] | None = None

    def get(self, key: Hashable, stamp: Hashable) -> Rendered | None:
        with self._lock:
            found = self._docs.get(key)
            if found is None or found[0] != stamp:
                return None
            self._docs.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, stamp: Hashable, doc: Rendered) -> None:
        with self._lock:
            old = self._docs.pop(key, None)
            if old is not None:
                self._bytes -= old[1].size
            if doc.size > self.max_bytes:
                return
            self._docs[key] = (stamp, doc)
            self._bytes += doc.size
            while len(self._docs) > self.maxsize or self._bytes > self.max_bytes:
                _, (_, evicted) = self._docs.popitem(last=False)
                self._bytes -= evicted.size

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()
            self._bytes = 0

    @property
    def bytes(self) -> int:
        """Body bytes held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._docs)

    def version_seen_at(self, version: str) -> datetime:
        """When this process first saw store ``version``: never earlier than the change itself.

        The Last-Modified of a document with no entries (which has no entry times).
        """
        with self._lock:
            if self._seen is None or self._seen[0] != version:
                self._seen = (version, datetime.now(UTC).replace(microsecond=0))
            return self._seen[1]


class SharedRenders:
    """A document rendered at most once per (key, stamp), however many requests miss it.

    When the store changes, every open connection misses at once; they all wait
    for the same render (in the thread pool) instead of each rendering it again.
    ``on_hit``/``on_render`` count the answers (``feeds.metrics``).
    """

    def __init__(self, cache: RenderCache, on_hit: Callable[[], None], on_render: Callable[[], None]) -> None:
        self.cache = cache
        self._on_hit = on_hit
        self._on_render = on_render
        self.in_flight: dict[tuple[Hashable, Hashable], asyncio.Task[Rendered]] = {}

    async def get(self, key: Hashable, stamp: Hashable, build: Callable[[], Rendered]) -> Rendered:
        """The cached document, or the render under way for it, or a new one."""
        doc = self.cache.get(key, stamp)
        if doc is not None:
            self._on_hit()
            return doc
        flight = (key, stamp)
        task = self.in_flight.get(flight)
        if task is None:
            task = asyncio.create_task(self._render(key, stamp, build))
            self.in_flight[flight] = task
            task.add_done_callback(partial(self._landed, flight))
        else:
            self._on_hit()
        # shielded: a client that hangs up does not cancel the others' render
        return await asyncio.shield(task)

    async def _render(self, key: Hashable, stamp: Hashable, build: Callable[[], Rendered]) -> Rendered:
        doc = await run_in_threadpool(build)
        self._on_render()
        self.cache.put(key, stamp, doc)
        return doc

    def _landed(self, flight: tuple[Hashable, Hashable], task: asyncio.Task[Rendered]) -> None:
        self.in_flight.pop(flight, None)
        if not task.cancelled():
            task.exception()  # retrieved here, in case every waiter has gone
