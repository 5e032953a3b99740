"""How fresh the served store version is: ``store.version()`` read at most every ``interval`` seconds.

Every feed answer depends on the store version (the render cache and the fast
path are keyed by it), but asking the database on every request costs an
executor hop and a query.  ``StoreVersion`` keeps the last value with the time
its read *started*, and

- ``get()`` (async, the normal path) returns it while it is younger than
  ``interval``, else reads again in the default executor; concurrent callers
  share one read, as long as that read started within ``interval`` of them;
- ``fresh()`` (sync, the fast path) returns it only while it is younger than
  ``interval`` and, past half of it, starts a read in the background, so a
  busy server refreshes before the value expires and never waits for it;
- ``invalidate()`` (any thread) marks it stale at once: the service calls it
  after each write of its own scheduler, so those show on the next request.

Staleness bound: an answer reflects every change committed at least
``interval`` seconds before the request arrived (changes by other workers on a
shared database; in-process writes are seen on the next request).
``interval = 0`` reads the store for every request, as the app did before.
The event loop never blocks on the database: reads run in the executor.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

__all__ = ["StoreVersion"]


class StoreVersion:
    """The store version as last read, and whether it may still be served."""

    def __init__(
        self,
        read: Callable[[], str],
        interval: float,
        *,
        on_change: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval < 0 or not math.isfinite(interval):
            raise ValueError(f"version check interval must be 0 or more seconds, got {interval!r}")
        self.interval = interval
        self._read = read
        self.on_change = on_change  # called with the new value when a read finds it changed
        self._clock = clock
        self.value: str | None = None
        self._value_from = -math.inf  # when the read that gave ``value`` started
        self._read_at = -math.inf  # the same, or -inf once a write made ``value`` stale
        self._invalid_since = -math.inf  # reads started before this are stale on arrival
        self._pending: tuple[float, asyncio.Future[str]] | None = None

    def fresh(self) -> str | None:
        """The version if it may be served without asking the store now, else None.

        Past half the interval a background read is started (needs a running loop).
        """
        age = self._clock() - self._read_at
        if age >= self.interval:
            return None
        if age >= self.interval / 2 and self._pending is None:
            self._start_read()
        return self.value

    async def get(self) -> str:
        """The version, read again if the last read is older than the interval."""
        now = self._clock()
        if now - self._read_at < self.interval and self.value is not None:
            if now - self._read_at >= self.interval / 2 and self._pending is None:
                self._start_read()
            return self.value
        pending = self._pending
        loop = asyncio.get_running_loop()
        if (
            pending is None
            or pending[1].get_loop() is not loop
            or pending[0] <= now - self.interval  # interval 0: never share an earlier read
            or pending[0] < self._invalid_since
        ):
            pending = self._start_read()
        return await asyncio.shield(pending[1])

    def invalidate(self) -> None:
        """The store was just written: the next request reads the version again."""
        self._invalid_since = self._clock()
        self._read_at = -math.inf

    def _start_read(self) -> tuple[float, asyncio.Future[str]]:
        started = self._clock()
        future = asyncio.get_running_loop().run_in_executor(None, self._read)
        pending = (started, future)
        self._pending = pending
        future.add_done_callback(lambda f: self._landed(pending, f))
        return pending

    def _landed(
        self, pending: tuple[float, asyncio.Future[str]], future: asyncio.Future[str]
    ) -> None:
        if self._pending is pending:
            self._pending = None
        if future.cancelled() or future.exception() is not None:
            return  # the waiters get the error; the value stays as it was (and ages out)
        started, value = pending[0], future.result()
        if started < self._value_from:
            return  # a later read already landed
        changed = value != self.value
        self.value, self._value_from = value, started
        # a read that started before the last in-process write may have missed it
        self._read_at = started if started >= self._invalid_since else -math.inf
        if changed and self.on_change is not None:
            self.on_change(value)
