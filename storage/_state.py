"""The shared SQL for what the store keeps about sources: HTTP validators, runs, health, backfill.

Each is a small keyed table; the run history and ``source_state`` make up
``source_health`` (the ``sources`` command, ``/healthz``, the metrics).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from scraper.errors import StorageError
from scraper.models import SourceHealth

from ._sqlcore import SQLStoreCore
from .base import utc, utc_now

LAST_DAY = timedelta(hours=24)


class SourceStateQueries(SQLStoreCore):
    """Store methods for the conditional-GET cache, run history, health and backfill state."""

    # -- conditional GET ---------------------------------------------------

    def http_cache_get(self, url: str) -> tuple[str | None, str | None]:
        with self._reading() as conn:
            rows = self._runner(conn)(
                "SELECT etag, last_modified FROM http_cache WHERE url = ?", [url]
            )
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    def http_cache_put(self, url: str, etag: str | None, last_modified: str | None) -> None:
        with self._writing() as conn:
            self._runner(conn)(
                "INSERT INTO http_cache (url, etag, last_modified, stored_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET etag = EXCLUDED.etag,"
                " last_modified = EXCLUDED.last_modified, stored_at = EXCLUDED.stored_at",
                [url, etag, last_modified, self._ts(utc_now())],
            )

    # -- runs and health ---------------------------------------------------

    def record_run(
        self,
        source_id: str,
        *,
        started: datetime,
        finished: datetime,
        ok: bool,
        new: int,
        updated: int,
        errors: int,
        message: str | None = None,
        degraded: str | None = None,
        feed_problem: str | None = None,
    ) -> None:
        started_at = self._ts(utc(started, "started"))
        finished_at = self._ts(utc(finished, "finished"))
        with self._writing() as conn:
            run = self._runner(conn)
            run(
                "INSERT INTO runs (source_id, started, finished, ok, new_count, updated_count,"
                " error_count, message, degraded, feed_problem) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [source_id, started_at, finished_at, bool(ok), new, updated, errors, message, degraded,
                 feed_problem],
            )
            # The inserted consecutive_failures is 0 for an ok run and 1 for a failure.
            run(
                "INSERT INTO source_state (source_id, last_run, last_success, last_errors,"
                " consecutive_failures, last_error, degraded, feed_problem) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (source_id) DO UPDATE SET"
                " last_run = EXCLUDED.last_run,"
                " last_success = COALESCE(EXCLUDED.last_success, source_state.last_success),"
                " last_errors = EXCLUDED.last_errors,"
                " consecutive_failures = CASE WHEN EXCLUDED.consecutive_failures = 0 THEN 0"
                " ELSE source_state.consecutive_failures + 1 END,"
                " last_error = EXCLUDED.last_error,"
                " degraded = EXCLUDED.degraded,"
                " feed_problem = EXCLUDED.feed_problem",
                [
                    source_id,
                    started_at,
                    started_at if ok else None,
                    errors,
                    0 if ok else 1,
                    message,
                    degraded,
                    feed_problem,
                ],
            )

    def set_degraded(self, source_id: str, degraded: str | None) -> None:
        with self._writing() as conn:
            self._runner(conn)(
                "UPDATE source_state SET degraded = ? WHERE source_id = ? RETURNING source_id",
                [degraded, source_id],
            )

    def source_health(
        self, source_ids: Iterable[str], *, now: datetime | None = None
    ) -> list[SourceHealth]:
        ids = list(dict.fromkeys(source_ids))
        day_ago = (utc(now, "now") if now is not None else utc_now()) - LAST_DAY
        with self._reading() as conn:
            counts, states = self._health_rows(conn, ids, day_ago)
        health = []
        for sid in ids:
            total, last_day = counts.get(sid, (0, 0))
            last_run, last_success, errors, failures, last_error, degraded, feed_problem = states.get(
                sid, (None, None, 0, 0, None, None, None)
            )
            health.append(
                SourceHealth(
                    source_id=sid,
                    last_run=self._dt(last_run),
                    last_success=self._dt(last_success),
                    articles=total,
                    errors=int(errors),
                    consecutive_failures=int(failures),
                    last_error=last_error,
                    degraded=degraded,
                    feed_problem=feed_problem,
                    articles_last_day=last_day,
                )
            )
        return health

    # -- backfill ----------------------------------------------------------

    def backfill_state_get(self, source_id: str) -> dict[str, Any] | None:
        with self._reading() as conn:
            rows = self._runner(conn)(
                "SELECT state FROM backfill_state WHERE source_id = ?", [source_id]
            )
        if not rows:
            return None
        state = self._load_json(rows[0][0])
        if not isinstance(state, dict):
            raise StorageError(
                f"{self._label}: backfill state of {source_id} is not a JSON object"
            )
        return state

    def backfill_state_put(self, source_id: str, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            raise TypeError(f"backfill state must be a dict, got {type(state).__name__}")
        text = json.dumps(state, ensure_ascii=False, sort_keys=True)
        with self._writing() as conn:
            self._runner(conn)(
                "INSERT INTO backfill_state (source_id, state, updated_at)"
                f" VALUES (?, {self.JSON_PARAM}, ?)"
                " ON CONFLICT (source_id) DO UPDATE SET state = EXCLUDED.state,"
                " updated_at = EXCLUDED.updated_at",
                [source_id, text, self._ts(utc_now())],
            )

    def backfill_state_clear(self, source_id: str) -> None:
        with self._writing() as conn:
            self._runner(conn)("DELETE FROM backfill_state WHERE source_id = ?", [source_id])
