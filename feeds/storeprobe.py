"""Is the store usable right now?  One shared answer for /healthz, /metrics and the feeds.

During a database outage every store call blocks until the driver gives up
(a PostgreSQL pool waits for a connection for seconds), so endpoints must not
each ask on their own.  ``StoreProbe`` runs the store's cheap
``check_health()`` off the event loop, at most one at a time, and answers from
its last result while that is younger than ``max_age``; a check that does not
answer within ``timeout`` counts as "storage unreachable" at once, so
``/healthz`` says 503 within a second however long the check itself hangs.
Endpoints that see a store call fail report it with ``mark_down``, so the
next health answer knows without asking.

``lost`` is set when the store says its file was deleted or replaced
(``storage.base.StoreLost``): nothing written from then on would survive a
restart, so the service stops and its supervisor starts it again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from storage.base import StoreLost
from storage.offloop import off_loop

__all__ = ["PROBE_TIMEOUT", "StoreProbe"]

PROBE_TIMEOUT = 0.5  # seconds a health check may take before storage counts as unreachable
PROBE_MAX_AGE = 0.5  # seconds a result is reused
CHECK_TIMEOUT = 30.0  # seconds the check itself may go on in its thread (its answer still counts)


class StoreProbe:
    """The store's health as last checked: ``reason`` None when usable, else why not."""

    def __init__(
        self,
        check: Callable[[], str | None],
        *,
        timeout: float = PROBE_TIMEOUT,
        max_age: float = PROBE_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self.timeout = timeout
        self.max_age = max_age
        self._clock = clock
        self.reason: str | None = None
        self.lost = False
        self._checked_at = -float("inf")
        self._pending: asyncio.Task[None] | None = None
        # a thread of its own: a check never queues behind the requests' store reads, so
        # under heavy load it measures the store, not the queue in front of it
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qkfeed-probe")

    @property
    def up(self) -> bool:
        """Whether the last answer (checked or reported) said the store is usable."""
        return self.reason is None

    def mark_down(self, reason: str) -> None:
        """A store call just failed: say so until the next check finds otherwise."""
        self.reason = f"storage: {reason}"
        self._checked_at = self._clock()

    def refresh(self) -> None:
        """Start a check in the background unless the last answer is fresh or one is under way."""
        if self._clock() - self._checked_at >= self.max_age and self._pending is None:
            self._pending = asyncio.create_task(self._run())

    async def check(self, *, fresh: bool = False) -> str | None:
        """None when the store is usable, else a one-line reason; never waits past ``timeout``.

        ``fresh``: do not answer from the last result (but share a check under way).
        """
        if not fresh and self._clock() - self._checked_at < self.max_age:
            return self.reason
        if self._pending is None:
            self._pending = asyncio.create_task(self._run())
        done, _ = await asyncio.wait({self._pending}, timeout=self.timeout)
        if not done:
            self.mark_down(f"no answer within {self.timeout:g} s")
        return self.reason

    async def _run(self) -> None:
        try:
            reason = await off_loop(self._check, timeout=CHECK_TIMEOUT, executor=self._thread)
        except StoreLost as exc:
            self.lost = True
            reason = f"storage: {exc}"
        except Exception as exc:  # a failing check is the answer, not an error of ours
            reason = f"storage: {str(exc)[:200]}"
        else:
            reason = f"storage: {reason}" if reason else None
        finally:
            self._pending = None
        self.reason = reason
        self._checked_at = self._clock()
