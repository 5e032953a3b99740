"""The shared SQL for source leases: one conditional write each.

Of several workers taking the same free lease exactly one gets it, because
the take is a single ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` whose
condition is evaluated by the database under its row lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ._sqlcore import SQLStoreCore
from .base import LeaseState, utc


class LeaseQueries(SQLStoreCore):
    """``take_lease`` / ``renew_lease`` / ``release_lease`` for both SQL backends."""

    def take_lease(
        self,
        source_id: str,
        holder: str,
        *,
        ttl: float,
        min_gap: float,
        steal_from: str | None = None,
        now: datetime | None = None,
    ) -> LeaseState:
        with self._writing() as conn:
            when = self._clock(conn, now)
            run = self._runner(conn)
            taken = run(
                "INSERT INTO source_leases (source_id, holder, expires, last_run, last_holder)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (source_id) DO UPDATE SET holder = EXCLUDED.holder,"
                " expires = EXCLUDED.expires, last_run = EXCLUDED.last_run,"
                " last_holder = EXCLUDED.last_holder"
                " WHERE (source_leases.holder IS NULL OR source_leases.expires <= ?"
                " OR source_leases.holder IN (?, ?))"
                " AND (source_leases.last_run IS NULL OR source_leases.last_run <= ?)"
                " RETURNING source_id",
                [
                    source_id,
                    holder,
                    self._ts(when + timedelta(seconds=ttl)),
                    self._ts(when),
                    holder,
                    self._ts(when),
                    holder,
                    steal_from or holder,
                    self._ts(when - timedelta(seconds=min_gap)),
                ],
            )
            ((current, expires, last_run),) = run(
                "SELECT holder, expires, last_run FROM source_leases WHERE source_id = ?",
                [source_id],
            )
        return LeaseState(bool(taken), current, self._dt(expires), self._dt(last_run), when)

    def renew_lease(
        self, source_id: str, holder: str, *, ttl: float, now: datetime | None = None
    ) -> bool:
        with self._writing() as conn:
            when = self._clock(conn, now)
            rows = self._runner(conn)(
                "UPDATE source_leases SET expires = ? WHERE source_id = ? AND holder = ?"
                " RETURNING source_id",
                [self._ts(when + timedelta(seconds=ttl)), source_id, holder],
            )
        return bool(rows)

    def release_lease(
        self,
        source_id: str,
        holder: str,
        *,
        last_run: datetime | None,
        now: datetime | None = None,
    ) -> None:
        ran = self._ts(utc(last_run, "last_run")) if last_run is not None else None
        with self._writing() as conn:
            if ran is None:
                self._runner(conn)(
                    "UPDATE source_leases SET holder = NULL, expires = NULL"
                    " WHERE source_id = ? AND holder = ?",
                    [source_id, holder],
                )
            else:
                self._runner(conn)(
                    "UPDATE source_leases SET holder = NULL, expires = NULL, last_run = ?,"
                    " last_holder = holder WHERE source_id = ? AND holder = ?",
                    [ran, source_id, holder],
                )
