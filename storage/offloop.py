"""Calling the (synchronous) Store from async code without ever blocking the event loop.

Every Store method is a blocking call: a SQLite transaction, or a PostgreSQL
round trip that during an outage waits for a pool connection for many
seconds.  The service's event loop also answers HTTP, so a store call made on
it stalls every client.  ``off_loop`` runs the call on a small dedicated
thread pool and gives up waiting after ``timeout`` seconds with
:class:`StoreTimeout` (a StorageError); the thread itself finishes whenever
the store lets it.

The pool is dedicated (not asyncio's default executor) so that calls stuck
in an outage never starve unrelated ``to_thread`` work, and bounded so that
an outage cannot pile up threads: calls beyond it wait in the queue and time
out like the others.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

from scraper.errors import StorageError

__all__ = ["STORE_CALL_TIMEOUT", "StoreTimeout", "off_loop"]

T = TypeVar("T")

STORE_CALL_TIMEOUT = 5.0  # seconds a service-side store call may take before it counts as failed
MAX_THREADS = 4  # store calls in flight at once from one process's event loop

_executor = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="qkfeed-store")


class StoreTimeout(StorageError):
    """A store call did not finish within its timeout (the database is slow or unreachable)."""


async def off_loop(
    fn: Callable[..., T],
    *args: Any,
    timeout: float = STORE_CALL_TIMEOUT,
    executor: Executor | None = None,
    **kwargs: Any,
) -> T:
    """``fn(*args, **kwargs)`` on the store thread pool (or ``executor``: a one-thread executor
    keeps a caller's calls in order even when one times out); StoreTimeout after ``timeout`` s."""
    future: Future[T] = (executor or _executor).submit(functools.partial(fn, *args, **kwargs))
    waiting = asyncio.wrap_future(future)
    # asyncio.wait, not wait_for: Python 3.11's wait_for swallows a cancellation that
    # arrives as the call completes, and a cancelled lease keeper would then go on renewing.
    try:
        done, _ = await asyncio.wait({waiting}, timeout=timeout)
    except asyncio.CancelledError:
        waiting.cancel()  # a call still queued never runs
        raise
    if done:
        return waiting.result()
    waiting.cancel()
    name = getattr(fn, "__name__", "store call")
    raise StoreTimeout(f"{name} took more than {timeout:g} s (storage slow or unreachable)")
