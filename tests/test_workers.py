"""Several workers: three ``run.py run`` processes on one PostgreSQL database, one killed with SIGKILL.

Every source must keep being fetched (the dead worker's sources are taken over),
a source's runs never overlap in time across workers (``runs``: started/finished
per source), the work is shared, and no article is stored twice.
"""

from __future__ import annotations

import re
import signal
import tomllib
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pg_server
import pytest
from fixture_sites import FixtureSites
from service_proc import ServiceProcess, service_config, start_service, wait_for

INTERVAL = 3.0  # seconds, every source (the lease lasts one interval)
WORKERS = 3
ROUNDS = 2  # runs of every source before the kill, and after it
TIMEOUT = 40  # seconds for each wait


@pytest.fixture
def pg_url() -> Any:
    with pg_server.fresh_database() as url:
        yield url


def query(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def runs_since(url: str, since: datetime | None) -> Counter[str]:
    import psycopg.errors

    try:
        rows = query(
            url,
            "SELECT source_id, COUNT(*) FROM runs WHERE %s::timestamptz IS NULL OR started > %s"
            " GROUP BY source_id",
            since,
            since,
        )
    except psycopg.errors.UndefinedTable:  # the first worker is still migrating the database
        return Counter()
    return Counter({sid: n for sid, n in rows})


def test_three_workers_share_sources_and_survive_a_sigkill(tmp_path: Path, pg_url: str) -> None:
    with FixtureSites() as sites:
        text = sites.config_text(pg_url)
        sources = sorted(tomllib.loads(text)["sources"])
        workers: list[ServiceProcess] = []
        try:
            for n in range(WORKERS):
                workers.append(
                    start_service(
                        lambda port: service_config(text, port=port, interval=INTERVAL),
                        tmp_path / f"w{n}",
                    )
                )

            def every_source(since: datetime | None) -> bool:
                for w in workers:
                    if w.returncode is None:
                        w.check_alive()
                counts = runs_since(pg_url, since)
                return all(counts[s] >= ROUNDS for s in sources)

            wait_for(lambda: every_source(None), TIMEOUT, f"{ROUNDS} runs of every source",
                     on_fail=lambda: "".join(w.log_tail(1500) for w in workers))

            # Kill a worker while it holds a lease (in the middle of a run), if one does.
            def holding() -> ServiceProcess | None:
                holders = [h for (h,) in query(pg_url, "SELECT holder FROM source_leases WHERE holder IS NOT NULL")]
                for w in workers:
                    assert w.proc is not None
                    if any(h.split(":")[-2] == str(w.proc.pid) for h in holders):
                        return w
                return None

            victim = wait_for(holding, 10, "a worker holding a lease", interval=0.02)
            assert victim.proc is not None
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait(timeout=10)
            ((killed_at,),) = query(pg_url, "SELECT clock_timestamp()")
            alive = [w for w in workers if w is not victim]

            # Every source goes on being fetched, the dead worker's ones included.
            wait_for(lambda: every_source(killed_at), TIMEOUT, f"{ROUNDS} runs of every source after the kill",
                     on_fail=lambda: "".join(w.log_tail(1500) for w in alive))
            for w in alive:
                assert w.terminate() == 0, w.log_tail()
            logs = {w.proc.pid: w.log() for w in workers if w.proc is not None}
        finally:
            for w in workers:
                w.close()

    # A source's runs never overlap, whichever worker ran them.
    runs = query(pg_url, "SELECT source_id, started, finished FROM runs ORDER BY source_id, started")
    previous: dict[str, tuple[datetime, datetime]] = {}
    for sid, started, finished in runs:
        assert started <= finished
        if sid in previous:
            assert started >= previous[sid][1], f"{sid}: a run started at {started} overlaps {previous[sid]}"
        previous[sid] = (started, finished)
    # ... nor come closer than the gap after a finished run (interval - slack)
    starts: dict[str, list[datetime]] = {}
    for sid, started, _ in runs:
        starts.setdefault(sid, []).append(started)
    for sid, times in starts.items():
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) >= INTERVAL * 0.9 - 0.05, (sid, gaps)

    # The work was shared (the first worker to start takes every source at first, and who
    # wins a due source afterwards is a race, so not necessarily by all three).
    done = {pid: len(re.findall(r"event=source_done", text)) for pid, text in logs.items()}
    assert sum(1 for n in done.values() if n > 0) >= 2, done
    for text in logs.values():
        assert "Traceback" not in text, text[-3000:]

    # Nothing stored twice; every source stored its articles.
    ((total, urls, guids),) = query(
        pg_url, "SELECT COUNT(*), COUNT(DISTINCT url), COUNT(DISTINCT guid) FROM articles"
    )
    assert total == urls == guids > 0
    stored = {sid for (sid,) in query(pg_url, "SELECT DISTINCT source_id FROM articles")}
    assert stored == set(sources)
    leases = query(pg_url, "SELECT source_id, holder FROM source_leases WHERE holder IS NOT NULL")
    assert leases == []  # the live workers released theirs on SIGTERM; the dead one's expired or were taken
