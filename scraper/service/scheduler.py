"""One APScheduler job per source: never overlapping, never dropped, never fatal.

Settings per job: ``max_instances=1`` (a source never runs twice at once),
``coalesce=True`` (missed runs collapse into one), ``misfire_grace_time`` = the
source's interval (a late run still happens; APScheduler's 1-second default
would silently skip it) and jitter so sources do not hit at the same second.
A source whose run fails backs off exponentially (capped at ``BACKOFF_CAP``)
and keeps being retried; it is never parked for good.

With ``leases`` (``scraper.service.leases``; the service always passes them) several
workers share one database: a job first takes the source's lease and, when
another worker holds it or ran the source less than an interval ago, skips
the run and moves its next try to when the source is due; the lease is renewed
during the run and released after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from scraper.config import Config, SourceConfig
from scraper.logs import event, get_logger
from scraper.pipeline.runner import SourceRunner
from scraper.schedule import BACKOFF_CAP, MAX_JITTER, backoff_delay  # noqa: F401  (re-exported)
from scraper.service.leases import SourceLeases

log = get_logger("scheduler")



def jitter_for(interval: float) -> float:
    return min(MAX_JITTER, interval * 0.1)


class SourceScheduler:
    """Schedules ``runner.run_source`` for every enabled source."""

    def __init__(self, config: Config, runner: SourceRunner, *, leases: SourceLeases | None = None) -> None:
        self.config = config
        self.runner = runner
        self.leases = leases
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.failures: dict[str, int] = {}
        self.running: set[asyncio.Task] = set()
        self.runs_done = 0

    def start(self, *, first_run_now: bool = True) -> None:
        now = datetime.now(UTC)
        for source in self.config.selected(None):
            self.scheduler.add_job(
                self._job,
                "interval",
                seconds=source.interval,
                jitter=jitter_for(source.interval),
                args=[source],
                id=source.id,
                name=f"fetch {source.id}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=int(max(1, source.interval)),
                next_run_time=now if first_run_now else None,
                replace_existing=True,
            )
        self.scheduler.start()
        event(log, "scheduler_started", sources=len(self.scheduler.get_jobs()))

    async def _claim(self, source: SourceConfig) -> bool:
        """Take the source's lease; when refused, move the job's next run to when it is due."""
        assert self.leases is not None
        try:
            claim = await self.leases.take(source)
        except Exception as exc:  # the store is unreachable: a run could not record anything either
            event(log, "lease_failed", logging.ERROR, source=source.id, error=str(exc)[:200])
            return False
        if claim.taken:
            return True
        job = self.scheduler.get_job(source.id)
        if job is not None and claim.retry_at is not None:
            job.modify(next_run_time=claim.retry_at)
        event(log, "source_skipped", logging.DEBUG, source=source.id, holder=claim.holder, reason=claim.reason)
        return False

    async def _job(self, source: SourceConfig) -> None:
        try:
            if self.leases is not None and not await self._claim(source):
                return
        except asyncio.CancelledError:  # shut down while asking for the lease: no run to stop
            event(log, "job_cancelled", source=source.id)
            return
        task = asyncio.current_task()
        keeper = None
        if task is not None:
            self.running.add(task)
            if self.leases is not None:
                keeper = asyncio.create_task(self.leases.keep(source, task))
        started, ran = datetime.now(UTC), None
        try:
            result = await self.runner.run_source(source)
            ok, ran = result.ok, started
        except asyncio.CancelledError:
            event(log, "job_cancelled", source=source.id)
            return
        except Exception:  # run_source does not raise; this is the last line of defence
            event(log, "job_failed", logging.ERROR, exc_info=True, source=source.id)
            ok, ran = False, started
        finally:
            if keeper is not None:
                keeper.cancel()
            if self.leases is not None:
                # a second cancellation (APScheduler's shutdown and ours) must not turn the
                # release into a traceback: the lease then simply expires
                with contextlib.suppress(asyncio.CancelledError):
                    await self.leases.release(source, ran=ran)
            if task is not None:
                self.running.discard(task)
            self.runs_done += 1
        if ok:
            self.failures.pop(source.id, None)
            return
        failures = self.failures.get(source.id, 0) + 1
        self.failures[source.id] = failures
        delay = backoff_delay(source.interval, failures)
        job = self.scheduler.get_job(source.id)
        if job is not None and delay.total_seconds() > source.interval:
            job.modify(next_run_time=datetime.now(UTC) + delay)
        event(log, "source_backoff", logging.WARNING, source=source.id, failures=failures,
              next_in_s=int(max(delay.total_seconds(), source.interval)))

    async def stop(self, grace: float = 5.0) -> None:
        """Stop scheduling; let running jobs finish their current write, cancel them after ``grace``."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        tasks = list(self.running)
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()  # cancellation lands on a network await; store writes are synchronous transactions
        if pending:
            await asyncio.wait(pending, timeout=grace)
