"""A PostgreSQL outage under two workers: feeds keep being served, health says so at once.

Two ``run.py run`` workers share one database on a cluster of this test's own.
Once both serve a rendered ``/feed.atom``, the cluster is stopped for
``OUTAGE`` seconds while a client keeps asking both workers for it, and for
``/healthz``:

- every cached feed answer is a 200 with the ETag it had before the outage and
  comes fast (a stall behind a store call waiting for a connection took 10 s
  and more before; the bound is generous so a busy machine does not fail it);
- ``/healthz`` answers 503 naming storage within a second of the outage;
- an address never rendered before answers 503 quickly;
- after the cluster is back, every source runs again, and no article is stored twice.
"""

from __future__ import annotations

import statistics
import threading
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pg_server
from fixture_sites import FixtureSites
from service_proc import ServiceProcess, service_config, start_service, wait_for

INTERVAL = 2.0  # seconds, every source
OUTAGE = 20.0  # seconds the cluster is down
FAST = 1.0  # seconds: a cached answer slower than this waited on the store
HEALTH_WITHIN = 1.0  # seconds after the outage starts


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(sql)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description is not None else []


def _timed_get(svc: ServiceProcess, path: str, timeout: float = 30.0) -> tuple[float, int, dict[str, str]]:
    t0 = time.monotonic()
    status, headers, _ = svc.get(path, timeout=timeout)
    return time.monotonic() - t0, status, headers


def test_feeds_are_served_and_health_is_honest_during_a_database_outage(tmp_path: Path) -> None:
    with pg_server.own_cluster() as (cluster, admin_url), FixtureSites() as sites:
        _query(admin_url, "CREATE DATABASE qkfeed_outage")
        url = admin_url.rsplit("/", 1)[0] + "/qkfeed_outage"
        text = sites.config_text(url)
        sources = sorted(tomllib.loads(text)["sources"])
        workers: list[ServiceProcess] = []
        try:
            for n in range(2):
                workers.append(start_service(lambda port: service_config(text, port=port, interval=INTERVAL),
                                             tmp_path / f"w{n}"))
            for w in workers:
                w.wait_healthy(lambda doc: all(s["last_success"] for s in doc["sources"].values()),
                               timeout=60, what="every source fetched once")
            etags = {}
            for w in workers:
                _, status, headers = _timed_get(w, "/feed.atom")
                assert status == 200
                etags[w.base_url] = headers["etag"]

            cluster.pause()
            outage_started = time.monotonic()
            first_503: dict[str, float] = {}
            feed_times: list[float] = []
            problems: list[str] = []

            def poll(w: ServiceProcess) -> None:
                while time.monotonic() - outage_started < OUTAGE:
                    took, status, headers = _timed_get(w, "/healthz")
                    if status == 503 and w.base_url not in first_503:
                        first_503[w.base_url] = time.monotonic() - outage_started
                    if took > FAST:
                        problems.append(f"{w.base_url} /healthz took {took:.1f} s")
                    took, status, headers = _timed_get(w, "/feed.atom")
                    feed_times.append(took)
                    if status != 200 or headers.get("etag") != etags[w.base_url]:
                        problems.append(f"{w.base_url} /feed.atom answered {status} {headers.get('etag')}")
                    if took > FAST:
                        problems.append(f"{w.base_url} /feed.atom took {took:.1f} s")
                    time.sleep(0.1)

            threads = [threading.Thread(target=poll, args=(w,)) for w in workers]
            for t in threads:
                t.start()
            time.sleep(3)
            # a document never rendered before: 503 at once, not after a connection timeout
            for w in workers:
                took, status, _ = _timed_get(w, "/feed.rss?limit=7")
                assert status == 503, status
                assert took < FAST, f"uncached feed took {took:.1f} s during the outage"
            for t in threads:
                t.join()
            cluster.resume()

            assert not problems, problems[:10]
            assert sorted(first_503) == sorted(w.base_url for w in workers), first_503
            assert max(first_503.values()) <= HEALTH_WITHIN + 0.5, first_503
            print(f"cached feed during the outage: median {statistics.median(feed_times) * 1000:.1f} ms, "
                  f"max {max(feed_times) * 1000:.1f} ms over {len(feed_times)} requests")
            ((back_at,),) = _query(url, "SELECT clock_timestamp()")

            def every_source_ran_again() -> bool:
                rows = _query(url, f"SELECT DISTINCT source_id FROM runs WHERE started > '{back_at.isoformat()}'")
                return set(sources) <= {sid for (sid,) in rows} and all(
                    w.healthz()["_http_status"] == 200 for w in workers)

            wait_for(every_source_ran_again, 60, "every source to run again after the outage",
                     on_fail=lambda: "".join(w.log_tail(1500) for w in workers))
            for w in workers:
                assert w.terminate() == 0, w.log_tail()
        finally:
            for w in workers:
                w.close()
        urls = Counter(u for (u,) in _query(url, "SELECT url FROM articles"))
        assert urls and max(urls.values()) == 1
