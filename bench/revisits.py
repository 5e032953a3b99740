"""The revisit query (issue 12): what finding a run's due revisits costs as the archive grows.

    python bench/revisits.py [--sizes 1000,100000] [--runs 30]

SQLite archives of N articles of one source, a minute apart, in the steady
state of a running service (rows written straight into a migrated database:
1/3 backfilled, every step whose time has come done, the newest 10 due), then
per run what ``scraper/pipeline/revisit.py`` asks the store:
``retire_revisits`` and ``due_revisits`` (at most 20).  The peer is the first
design of that query, one statement with an OR of the steps (``OR_QUERY``),
on the same archive: SQLite walks every article of the source for it.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import Goal, int_list, median_time, print_goals, print_table

from storage import open_store

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEPS = [3600.0, 21600.0, 86400.0, 259200.0, 604800.0]  # the default [fetch] revisit
LIMIT = 20
GOAL_RATIO = 0.2  # at most a fifth of the OR query's time on the largest archive
OR_QUERY = (
    "SELECT url, original_url FROM articles WHERE source_id = ? AND ((({steps})"
    " AND (stored_by = 'fetch' OR published >= ?)) OR (pending_since IS NOT NULL AND pending_since <= ?))"
    " ORDER BY first_seen, id LIMIT ?"
)


def build(path: Path, size: int) -> datetime:
    """A migrated archive of ``size`` articles first stored a minute apart; the time "now"."""
    with open_store(f"sqlite:///{path}"):
        pass
    conn = sqlite3.connect(path)
    rows = []
    for i in range(size):
        t = (T0 + timedelta(minutes=i)).isoformat(timespec="microseconds")
        age = (size - i) * 60.0
        backfill = i % 3 == 0
        done = sum(1 for step in STEPS if step <= age)
        if backfill and age > STEPS[-1]:
            done = len(STEPS)  # retired
        step = 0 if size - i <= 10 else done  # the newest ten: due now (their first step is past)
        rows.append((f"https://x.vn/{i}", f"urn:{i}", "qdnd", "t", t, "[]", "[]", "[]", "", "", "", "fp", "", "",
                     t, t, i + 1, t, t, t, "backfill" if backfill else "fetch", step))
    conn.executemany(
        "INSERT INTO articles (url, guid, source_id, title, published, authors, agencies, categories, body_html,"
        " body_text, summary, fingerprint, original_url, search_text, first_seen, updated, change_seq, changed_at,"
        " last_seen, current_since, stored_by, revisit_step) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return T0 + timedelta(minutes=size + 60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int_list, default=[1000, 100_000])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    rows, ratios = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"{size}.db"
            now = build(path, size)
            with open_store(f"sqlite:///{path}") as store:

                def ours(store=store, now=now) -> int:
                    store.retire_revisits("qdnd", STEPS, now=now)
                    return len(store.due_revisits("qdnd", STEPS, now=now, limit=LIMIT, confirm_after=21600))

                due = ours()
                seconds = median_time(ours, args.runs)
            conn = sqlite3.connect(path)
            ts = [(now - timedelta(seconds=s)).isoformat(timespec="microseconds") for s in STEPS]
            sql = OR_QUERY.format(steps=" OR ".join(["(revisit_step = ? AND first_seen <= ?)"] * len(STEPS)))
            params = ["qdnd", *(v for i, t in enumerate(ts) for v in (i, t)), ts[-1], ts[1], LIMIT]
            assert len(conn.execute(sql, params).fetchall()) == due
            peer = median_time(lambda conn=conn, sql=sql, params=params: conn.execute(sql, params).fetchall(),
                               args.runs)
            conn.close()
            ratios.append(seconds / peer)
            rows.append((f"{size:,}", due, seconds * 1e3, peer * 1e3, seconds / peer))
    print_table(["articles", "due", "per run ms (retire + due)", "OR query ms", "ratio"], rows)
    print_goals([Goal(f"per-run revisit query vs the OR query, {args.sizes[-1]:,} articles", ratios[-1],
                      GOAL_RATIO, unit="x")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
