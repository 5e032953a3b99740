"""Scheduler: one job per source, never overlapping, late runs kept, failures back off, never fatal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from scraper.config_load import config_from_dict
from scraper.pipeline.runner import RunResult
from scraper.service.scheduler import BACKOFF_CAP, SourceScheduler, backoff_delay

CONFIG = config_from_dict({"sources": {
    "a": {"name": "A", "start_urls": ["https://a.vn/x"], "interval": 60},
    "b": {"name": "B", "start_urls": ["https://b.vn/x"], "interval": "2h"},
    "off": {"name": "Off", "start_urls": ["https://c.vn/x"], "enabled": False},
}})


class FakeRunner:
    """Stands in for SourceRunner: scripted outcomes, counts concurrent runs per source."""

    def __init__(self, outcomes: dict[str, list[object]]) -> None:
        self.outcomes = outcomes
        self.calls: list[str] = []
        self.active: dict[str, int] = {}
        self.max_active = 0

    async def run_source(self, source):
        self.calls.append(source.id)
        self.active[source.id] = self.active.get(source.id, 0) + 1
        self.max_active = max(self.max_active, self.active[source.id])
        try:
            await asyncio.sleep(0.05)
            outcome = self.outcomes.get(source.id, [True]).pop(0) if self.outcomes.get(source.id) else True
            if isinstance(outcome, BaseException):
                raise outcome
            result = RunResult(source.id)
            if outcome:
                result.listings_ok = 1
            else:
                result.listings_failed = 1
            return result
        finally:
            self.active[source.id] -= 1


def test_backoff_grows_and_is_capped() -> None:
    assert backoff_delay(60, 1) == timedelta(seconds=60)
    assert backoff_delay(60, 2) == timedelta(seconds=120)
    assert backoff_delay(60, 3) == timedelta(seconds=240)
    assert backoff_delay(60, 50) == BACKOFF_CAP
    # an interval longer than the cap is never shortened, and never parked for good
    assert backoff_delay(86400, 9) == timedelta(days=1)


def test_jobs_are_configured_for_safety() -> None:
    async def go() -> None:
        sched = SourceScheduler(CONFIG, FakeRunner({}))  # type: ignore[arg-type]
        sched.start(first_run_now=False)
        try:
            jobs = {j.id: j for j in sched.scheduler.get_jobs()}
            assert set(jobs) == {"a", "b"}  # disabled sources are not scheduled
            for sid, job in jobs.items():
                assert job.max_instances == 1
                assert job.coalesce is True
                assert job.misfire_grace_time == int(CONFIG.sources[sid].interval)
                assert job.trigger.interval == timedelta(seconds=CONFIG.sources[sid].interval)
                assert 0 < job.trigger.jitter <= 60
        finally:
            await sched.stop()

    asyncio.run(go())


def test_exceptions_never_escape_and_failures_back_off() -> None:
    async def go() -> None:
        runner = FakeRunner({"a": [RuntimeError("boom"), False, True], "b": [True]})
        sched = SourceScheduler(CONFIG, runner)  # type: ignore[arg-type]
        sched.start(first_run_now=False)
        try:
            source = CONFIG.sources["a"]
            before = datetime.now(UTC)
            await sched._job(source)  # raises inside: contained
            assert sched.failures["a"] == 1
            await sched._job(source)  # failed run: second failure backs off beyond the interval
            assert sched.failures["a"] == 2
            next_run = sched.scheduler.get_job("a").next_run_time
            assert next_run >= before + backoff_delay(source.interval, 2) - timedelta(seconds=1)
            await sched._job(source)  # success resets
            assert "a" not in sched.failures
            assert sched.scheduler.running
        finally:
            await sched.stop()

    asyncio.run(go())


def test_a_source_never_runs_twice_at_once() -> None:
    async def go() -> None:
        runner = FakeRunner({})
        sched = SourceScheduler(config_from_dict({"sources": {
            "fast": {"name": "F", "start_urls": ["https://f.vn/x"], "interval": 0.02}}}), runner)  # type: ignore[arg-type]
        sched.start()
        await asyncio.sleep(0.6)
        await sched.stop()
        assert runner.calls, "the job never ran"
        assert runner.max_active == 1

    asyncio.run(go())


def test_stop_cancels_a_stuck_job_after_the_grace_period() -> None:
    async def go() -> None:
        class Stuck(FakeRunner):
            async def run_source(self, source):
                await asyncio.sleep(3600)

        sched = SourceScheduler(CONFIG, Stuck({}))  # type: ignore[arg-type]
        sched.start()
        await asyncio.sleep(0.2)
        assert sched.running
        started = asyncio.get_running_loop().time()
        await sched.stop(grace=0.3)
        assert asyncio.get_running_loop().time() - started < 2
        await asyncio.sleep(0)
        assert not sched.running

    asyncio.run(go())
