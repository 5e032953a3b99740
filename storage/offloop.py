"""Calling the (synchronous) Store from async code without ever blocking the event loop.

Every Store method is a blocking call: a SQLite transaction, or a PostgreSQL
round trip that during an outage waits for a pool connection for many
seconds.  The service's event loop also answers HTTP, so a store call made on
it stalls every client.  ``off_loop`` runs the call on a small dedicated
thread pool and gives up waiting after ``timeout`` seconds with
:class:`StoreTimeout` (a StorageError); the thread itself finishes whenever
the store lets it, and ``on_late`` gets the result of a call that completed
after its caller stopped waiting (so a lease taken too late can be handed
back).

The pool is dedicated (not asyncio's default executor) so that calls stuck
in an outage never starve unrelated ``to_thread`` work, and bounded so that
an outage cannot pile up threads: calls beyond it wait in the queue and time
out like the others.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

from scraper.errors import StorageError
from scraper.logs import event, get_logger

__all__ = ["STORE_CALL_TIMEOUT", "StoreTimeout", "off_loop"]

T = TypeVar("T")

log = get_logger("storage")

STORE_CALL_TIMEOUT = 5.0  # seconds a service-side store call may take before it counts as failed
MAX_THREADS = 4  # store calls in flight at once from one process's event loop

_executor = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="qkfeed-store")


class StoreTimeout(StorageError):
    """A store call did not finish within its timeout (the database is slow or unreachable)."""


async def off_loop(
    fn: Callable[..., T],
    *args: Any,
    timeout: float = STORE_CALL_TIMEOUT,
    on_late: Callable[[T], None] | None = None,
    executor: Executor | None = None,
    **kwargs: Any,
) -> T:
    """``fn(*args, **kwargs)`` on the store thread pool (or ``executor``: a one-thread executor
    keeps a caller's calls in order even when one times out); StoreTimeout after ``timeout`` s."""
    future: Future[T] = (executor or _executor).submit(functools.partial(fn, *args, **kwargs))
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except TimeoutError:
        if on_late is not None:
            future.add_done_callback(functools.partial(_deliver_late, on_late))
        name = getattr(fn, "__name__", "store call")
        raise StoreTimeout(f"{name} took more than {timeout:g} s (storage slow or unreachable)") from None


def _deliver_late(on_late: Callable[[T], None], future: Future[T]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    try:
        on_late(future.result())
    except Exception as exc:  # a late clean-up must never raise into the pool thread
        event(log, "late_store_call_failed", logging.WARNING, error=str(exc)[:200])
