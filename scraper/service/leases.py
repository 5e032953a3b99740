"""Source leases: several ``run.py run`` workers on one database, each source fetched by one of them.

Before a scheduled run a worker takes the source's lease in the store (one
conditional upsert of a ``source_leases`` row, so of several workers exactly
one gets it); it renews the lease while the run goes on and releases it after,
recording when the run started.  Settings, per source:

- ``ttl_for(interval)``: a lease lasts one interval (at least ``MIN_TTL``), so a
  worker that dies mid-run (SIGKILL, power) loses its sources within one
  interval; a live one renews every ``RENEW_FRACTION`` of that;
- ``min_gap_for(interval)``: a source whose last run, by any worker, started
  less than interval − slack ago (slack: the scheduler's jitter) is skipped, so
  workers do not fetch a source again right after another one did (nor right
  after a worker died in the middle of a run);
- a worker that is refused learns when to try again (when the lease expires,
  or one gap after the last run) and the scheduler moves its next run there,
  so a dead worker's sources are taken over as soon as they are due.

Worker id: ``host:pid:random`` (``worker_id()``).  A lease held by a process of
this host that no longer exists (a worker restarted after SIGKILL) is taken at
once instead of after it expires; this assumes host names are unique among
machines (and containers) sharing the database.

One-off commands (``run.py fetch``, ``run.py backfill``) take the same lease
through ``SourceLeases.exclusive``: they ignore the gap (the user asked for a
run now) but never overlap a run of the same source by a worker or by another
command; they wait up to ``wait`` seconds for the holder to finish, then give
up with ``SourceBusy``.  A backfill keeps the lease for its whole length, so
the workers skip that source meanwhile (the backfill reads its newest listing
page too).  A finished one-off run records its start like a scheduled one, so
the workers do not fetch the source again right after it.

The store's clock decides (PostgreSQL: the server's), so workers on machines
whose clocks differ still agree on expiry.

Every store call runs off the event loop (``storage.offloop``) with a short
timeout, so a database outage never stalls the feed server sharing the loop:
a lease that cannot be taken in time is a skipped run.  A worker's lease
calls run on one thread of their own, in the order they were made, so a call
that timed out still lands before the next one (a late release can never
free a lease taken after it).  Should a timed-out take
succeed after all, the lease is simply held unused until it expires: this
worker's next take gets it again at once (it is the holder), and handing it
back from the late thread could release a lease a newer run of ours holds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from scraper.config import SourceConfig
from scraper.errors import QkfeedError
from scraper.logs import event, get_logger
from storage.offloop import off_loop

__all__ = [
    "Claim",
    "LeaseLost",
    "SourceBusy",
    "SourceLeases",
    "min_gap_for",
    "ttl_for",
    "worker_id",
]

T = TypeVar("T")

log = get_logger("leases")

MIN_TTL = 1.0  # seconds
RENEW_FRACTION = 1 / 3  # of the TTL between renewals
BUSY_POLL = 1.0  # seconds between tries of a one-off command waiting for a lease
MAX_SLACK = 60.0  # seconds
SLACK_FRACTION = 0.1  # of the interval


def worker_id() -> str:
    """``host:pid:random``: unique per process, readable in the database."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def ttl_for(interval: float) -> float:
    return max(MIN_TTL, interval)


def slack_for(interval: float) -> float:
    return min(MAX_SLACK, interval * SLACK_FRACTION)


def min_gap_for(interval: float) -> float:
    return max(0.0, interval - slack_for(interval))


class SourceBusy(QkfeedError):
    """A one-off command could not take a source's lease: someone else is running it."""

    def __init__(self, source_id: str, holder: str | None, since: datetime | None) -> None:
        # who and since when, not the lease's expiry: a run takes seconds, its lease 30 min
        started = f" since {since.astimezone(UTC):%H:%M:%S} UTC" if since else ""
        self.detail = (
            f"being fetched by {holder or 'another worker'}{started}; "
            "try again later or pass --wait SECONDS"
        )
        super().__init__(f"{source_id}: {self.detail}")
        self.source_id = source_id
        self.holder = holder


class LeaseLost(QkfeedError):
    """The lease of a one-off run expired or was taken while the run went on; it was stopped."""


@dataclass(frozen=True)
class Claim:
    """The answer to "may I run this source now?"."""

    taken: bool
    holder: str | None = None  # who holds the lease when refused
    retry_at: datetime | None = None  # local time to ask again when refused
    since: datetime | None = None  # when the holder took the lease (refused because "held")
    reason: str = ""


class SourceLeases:
    """Takes, keeps and releases source leases in ``store`` for one worker."""

    def __init__(self, store: object, holder: str | None = None) -> None:
        self.store = store  # storage.base.Store
        self.holder = holder or worker_id()
        self._calls = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qkfeed-leases")

    async def take(self, source: SourceConfig, *, ignore_gap: bool = False) -> Claim:
        ttl = ttl_for(source.interval)
        gap = 0.0 if ignore_gap else min_gap_for(source.interval)
        take_lease = self.store.take_lease  # type: ignore[attr-defined]
        state = await off_loop(take_lease, source.id, self.holder, ttl=ttl, min_gap=gap, executor=self._calls)
        if not state.taken and state.holder and _dead_here(state.holder):
            event(log, "lease_taken_over", logging.WARNING, source=source.id, dead=state.holder)
            state = await off_loop(take_lease, source.id, self.holder, ttl=ttl, min_gap=gap,
                                   steal_from=state.holder, executor=self._calls)
        if state.taken:
            return Claim(True)
        due = state.now
        reason, since = "ran recently", None
        if state.holder is not None and state.expires is not None:
            due, reason = max(due, state.expires), "held"
            since = state.last_run  # a take sets last_run: the start of the holder's run
        if state.last_run is not None:
            due = max(due, state.last_run + timedelta(seconds=gap))
        delay = (due - state.now).total_seconds() + random.uniform(0, slack_for(source.interval))
        retry_at = datetime.now(UTC) + timedelta(seconds=max(delay, 0.05))
        return Claim(False, state.holder, retry_at, since=since, reason=reason)

    async def keep(self, source: SourceConfig, task: asyncio.Task[object]) -> None:
        """Renew the lease until cancelled; cancel ``task`` (the run) if the lease was lost."""
        ttl = ttl_for(source.interval)
        while True:
            await asyncio.sleep(ttl * RENEW_FRACTION)
            try:
                kept = await off_loop(self.store.renew_lease, source.id, self.holder, ttl=ttl, executor=self._calls)  # type: ignore[attr-defined]
            except Exception as exc:  # the store is down: the run will find out too
                event(log, "lease_renew_failed", logging.WARNING, source=source.id, error=str(exc))
                continue
            if not kept:
                event(log, "lease_lost", logging.ERROR, source=source.id, holder=self.holder)
                task.cancel()
                return

    async def exclusive(
        self, source: SourceConfig, run: Callable[[], Awaitable[T]], *, wait: float = 0.0
    ) -> T:
        """``run()`` while holding the source's lease, for a one-off command.

        Waits up to ``wait`` seconds for a current holder to finish, then raises
        ``SourceBusy``; raises ``LeaseLost`` if the lease is lost mid-run (the run
        is cancelled, as a worker's would be).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, wait)
        while True:
            claim = await self.take(source, ignore_gap=True)
            if claim.taken:
                break
            left = deadline - loop.time()
            if left <= 0:
                raise SourceBusy(source.id, claim.holder, claim.since)
            event(log, "lease_wait", source=source.id, holder=claim.holder)
            await asyncio.sleep(min(BUSY_POLL, left))
        started, ran = datetime.now(UTC), None
        task: asyncio.Task[T] = asyncio.ensure_future(run())
        keeper = asyncio.create_task(self.keep(source, task))  # type: ignore[arg-type]
        try:
            result = await task
            ran = started
            return result
        except asyncio.CancelledError:
            if keeper.done() and not keeper.cancelled():  # keep() cancelled the run
                raise LeaseLost(f"{source.id}: lost its lease during the run; stopped") from None
            raise
        except Exception:
            ran = started  # a failed run still counts as a run, as the scheduler's do
            raise
        finally:
            keeper.cancel()
            if not task.done():
                task.cancel()
            await self.release(source, ran=ran)

    async def release(self, source: SourceConfig, *, ran: datetime | None) -> None:
        """Free the lease; ``ran`` (the start of a finished run) keeps others away for a gap."""
        try:
            await off_loop(self.store.release_lease, source.id, self.holder, last_run=ran, executor=self._calls)  # type: ignore[attr-defined]
        except Exception as exc:  # it expires on its own
            event(log, "lease_release_failed", logging.WARNING, source=source.id, error=str(exc))


def _dead_here(holder: str) -> bool:
    """Whether ``holder`` is a worker of this host whose process is gone."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False
