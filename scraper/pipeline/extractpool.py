"""Extraction of fetched pages in worker processes, for backfills.

A backfill is CPU-bound in one interpreter: parsing, the extractor's rules,
normalization and the MinHash cost ~4 ms of the ~7.5 ms an article takes, and
the GIL keeps threads from sharing that (``asyncio.to_thread`` was measured
slower).  ``prepare`` is that pure part — page text in, picklable ``Prepared``
out — and ``ExtractPool`` runs it, and ``read_listing`` for listing pages, in
``[fetch] extract_workers`` processes while the event loop goes on fetching
and storing (``loop.run_in_executor``).  Opt-in (the default is 0): with the
shipped per-host delay a backfill waits on the 1 s spacing, not on the CPU,
and each worker costs 60–90 MB (README, "Benchmarks" → Backfill).

Why ``concurrent.futures.ProcessPoolExecutor`` with a wrapper: the executor
does the queueing and result passing; what it leaves to us is written here.

- Workers are *spawned* (not forked from the pipeline, which holds a store,
  sockets and the loop): a fresh interpreter that imports the extraction
  modules and, as spawn does, the main script (``run.py`` imports little at
  the top): ~58 MB at work, numpy included.  Spawning also starts
  multiprocessing's resource tracker (~15 MB).
- A worker that dies (a crash in a C parser, the OOM killer) breaks the
  executor and every task in flight in it: the pool is replaced and each of
  those pages is tried once more in the new one, one page at a time; a page
  that kills a worker twice fails with ``WorkerDied`` (logged and counted
  like any broken article, and tried again on a later run), alone.  The run
  goes on.
- A worker exits when the pipeline process does, even on SIGKILL: a thread
  waits on the parent's sentinel (the executor alone would leave it blocked
  on its queue).
- Exceptions come back as raised (``ExtractError`` stays ``ExtractError``,
  with the worker's traceback attached); one that would not unpickle in the
  pipeline (it would break the executor) comes back as a ``RuntimeError``
  naming it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import pickle
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from scraper.config import SourceConfig
from scraper.dedup.syndication import ClusterKey, cluster_key
from scraper.errors import QkfeedError
from scraper.extract import listing
from scraper.extract.article import extract_article
from scraper.models import Article
from scraper.normalize.article import normalize

__all__ = ["ExtractPool", "Prepared", "WorkerDied", "prepare", "read_listing"]

ATTEMPTS = 2  # a page whose worker died is tried once more in a new pool
_T = TypeVar("_T")


class WorkerDied(QkfeedError):
    """An extraction worker process died (twice) while extracting a page."""


@dataclass
class Prepared:
    """What the pipeline stores for one page, and the profile selectors that matched nothing."""

    article: Article
    key: ClusterKey | None
    failed_selectors: dict[str, str] = field(default_factory=dict)


def prepare(html: str, url: str, source: SourceConfig) -> Prepared:
    """Extract, normalize and key one page (the pure part of an article's way to the store)."""
    raw = extract_article(html, url, source)
    article = normalize(raw, source)
    return Prepared(article, cluster_key(article), dict(raw.failed_selectors))


def read_listing(html: str, url: str, source: SourceConfig, page_no: int) -> tuple[list[str], str | None]:
    """A listing page's article links and the URL of the next listing page, if it names one."""
    return listing.read_listing(html, url, source, page_no)


def _prepare_in_worker(html: str, url: str, source: SourceConfig) -> Prepared:
    try:
        prepared = prepare(html, url, source)
    except Exception as exc:
        raise _portable(exc) from None
    if prepared.key is not None:
        prepared.key.computed()  # the MinHash here, not on the pipeline's event loop
    return prepared


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling both ways, else a RuntimeError saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _worker_init() -> None:
    """In each worker: exit when the pipeline process is gone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="qkfeed-parent-watch", daemon=True).start()


def _ready() -> None:
    """A first task: the worker starts and imports the extraction modules before any page comes."""


class ExtractPool:
    """``prepare`` and ``read_listing`` in ``workers`` spawned processes, started when a user
    takes the pool (``using``) and stopped when the last one leaves.  ``active`` tells the
    caller whether to use it (else it extracts in its own process, as without workers: while
    the workers start, or start again after one died)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._users = 0
        self._executor: ProcessPoolExecutor | None = None
        self._started: list[Future[None]] = []  # the workers' first tasks
        self._retrying = asyncio.Lock()

    @property
    def active(self) -> bool:
        """Whether pages should go to the workers: someone uses the pool and they have started
        (while they start, ~0.5 s, the caller extracts pages itself rather than wait)."""
        return self.workers > 0 and self._users > 0 and all(f.done() for f in self._started)

    @asynccontextmanager
    async def using(self) -> AsyncIterator[ExtractPool]:
        """Workers for the time of the block; shared by concurrent users, stopped when the
        last one leaves."""
        if self._users == 0:
            self._retrying = asyncio.Lock()  # of this event loop
        self._users += 1
        if self.workers > 0:
            self._running()  # the workers start now, while the first listing pages are fetched
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0 and self._executor is not None:
                executor, self._executor = self._executor, None
                await asyncio.shield(asyncio.to_thread(executor.shutdown, True, cancel_futures=True))

    async def prepare(self, html: str, url: str, source: SourceConfig) -> Prepared:
        """``prepare(html, url, source)`` in a worker."""
        return await self._run(url, _prepare_in_worker, html, url, source)

    async def read_listing(self, html: str, url: str, source: SourceConfig, page_no: int) -> tuple[list[str], str | None]:
        """``read_listing(html, url, source, page_no)`` in a worker."""
        return await self._run(url, read_listing, html, url, source, page_no)

    async def _run(self, url: str, fn: Callable[..., _T], *args: object) -> _T:
        try:
            return await self._submit(fn, *args)
        except BrokenProcessPool:
            pass
        # Tried again one page at a time: with only one retried page in a pool at once, a page
        # that kills its worker again takes no other page's last attempt with it.
        async with self._retrying:
            try:
                return await self._submit(fn, *args)
            except BrokenProcessPool:
                raise WorkerDied(f"{url}: the extraction worker died ({ATTEMPTS} times)") from None

    async def _submit(self, fn: Callable[..., _T], *args: object) -> _T:
        executor = self._running()
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        except BrokenProcessPool:
            if self._executor is executor:  # the first task to notice replaces it
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise

    def _running(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )
            # the executor spawns a worker per task submitted
            self._started = [self._executor.submit(_ready) for _ in range(self.workers)]
        return self._executor
