"""Migration 0004 and the history store methods (issue 12), on SQLite and PostgreSQL.

Versions: a changed extracted field keeps the previous state (with its raw
page); removals: pending, confirmed only by a second revisit far enough apart,
undone by a revisit that finds the page; the revisit schedule.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pg_server
import pytest
from test_storage import T0, Backend, PostgresBackend, SQLiteBackend, make_article

from storage._migrations import load_migrations

HOUR = 3600.0
STEPS = [HOUR, 6 * HOUR, 24 * HOUR]
CONFIRM = 6 * HOUR


@pytest.fixture(params=("sqlite", "postgresql"))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        b: Backend = SQLiteBackend(tmp_path / "qkfeed.db")
        yield b
        b.close()
    else:
        with pg_server.fresh_database() as url:
            b = PostgresBackend(url)
            yield b
            b.close()


def test_an_existing_archive_migrates_with_its_row_as_the_first_version(backend: Backend) -> None:
    before = load_migrations()[:3]
    with backend.make(migrations=before) as old:
        old.migrate()  # an archive of before 0004, written as that qkfeed wrote it
    a = make_article()
    stamp = [t.isoformat(timespec="microseconds") for t in (a.published, T0, T0 + timedelta(hours=2))]
    backend.execute(
        "INSERT INTO articles (url, guid, source_id, title, published, authors, agencies, categories,"
        " body_html, body_text, summary, fingerprint, original_url, search_text, first_seen, updated,"
        " change_seq) VALUES (?, 'urn:uuid:x', 'qdnd', 'Bài số 1 (sửa)', ?, '[]', '[]', '[]', '', '',"
        " '', 'fp', '', '', ?, ?, 1)",
        a.url, *stamp,
    )
    with backend.make() as store:
        store.migrate()
        history = store.article_history(make_article().url)  # type: ignore[attr-defined]
        assert history is not None
        assert history.status == "live" and history.removed_at is None
        assert [v.title for v in history.versions] == ["Bài số 1 (sửa)"]
        assert history.versions[0].seen_from == T0 + timedelta(hours=2)
        assert history.versions[0].seen_until is None
        # how it came is unknown: treated as backfilled (revisited only if recently published)
        assert backend.rows("SELECT stored_by, edits FROM articles") == [("backfill", 0)]
        recent = T0 + timedelta(hours=1) + timedelta(hours=2)  # published T0+1h, within the last step
        assert store.due_revisits("qdnd", STEPS, now=recent, limit=10, confirm_after=CONFIRM) == [  # type: ignore[attr-defined]
            (make_article().url, make_article().url)
        ]
        late = T0 + timedelta(days=30)
        assert store.due_revisits("qdnd", STEPS, now=late, limit=10, confirm_after=CONFIRM) == []  # type: ignore[attr-defined]
        # the sweep a run makes: kept while recently published, retired once outside the span
        assert store.retire_revisits("qdnd", STEPS, now=recent) == 0  # type: ignore[attr-defined]
        assert store.retire_revisits("qdnd", STEPS, now=late) == 1  # type: ignore[attr-defined]
        assert store.retire_revisits("qdnd", STEPS, now=late) == 0  # type: ignore[attr-defined]
        assert backend.rows("SELECT revisit_step FROM articles") == [(len(STEPS),)]


def test_a_changed_field_keeps_the_previous_state_as_a_version(backend: Backend) -> None:
    with backend.make() as store:
        store.migrate()
        first = make_article(body_text="Nội dung đầu", fingerprint="fp-a")
        store.upsert_article(first, raw_html=b"<html>one</html>", now=T0)
        guid = store.get_article(first.url).guid  # type: ignore[union-attr]
        # same extracted fields (the fingerprint ignores whitespace): nothing kept
        assert store.upsert_article(first, raw_html=b"<html> one </html>", now=T0 + timedelta(hours=1)) == "unchanged"
        second = make_article(body_text="Nội dung sửa", fingerprint="fp-b")
        assert store.upsert_article(second, raw_html=b"<html>two</html>", now=T0 + timedelta(hours=2)) == "updated"
        third = make_article(body_text="Nội dung sửa", fingerprint="fp-b", summary="Lead mới")
        assert store.upsert_article(third, now=T0 + timedelta(hours=3)) == "updated"

        stored = store.get_article(first.url)
        assert stored is not None and stored.guid == guid and stored.edits == 2
        history = store.article_history(guid)  # type: ignore[attr-defined]
        assert history is not None and history.guid == guid and history.edits == 2
        assert [v.body_text for v in history.versions] == ["Nội dung đầu", "Nội dung sửa", "Nội dung sửa"]
        assert [v.summary for v in history.versions] == ["Tóm tắt", "Tóm tắt", "Lead mới"]
        assert [(v.seen_from, v.seen_until) for v in history.versions] == [
            (T0, T0 + timedelta(hours=2)),
            (T0 + timedelta(hours=2), T0 + timedelta(hours=3)),
            (T0 + timedelta(hours=3), None),
        ]
        assert store.article_history(str(stored.id)) == history  # type: ignore[attr-defined]
        # the raw page of each earlier state is kept with it, compressed
        pages = backend.rows("SELECT html FROM article_versions ORDER BY seen_from")
        assert [zlib.decompress(bytes(h)) if h is not None else None for (h,) in pages] == [
            b"<html>one</html>", b"<html>two</html>"
        ]
        edits = store.edits(limit=10)  # type: ignore[attr-defined]
        assert [(e.before.summary, e.after.summary) for e in edits] == [("Tóm tắt", "Lead mới"), ("Tóm tắt", "Tóm tắt")]
        assert [(e.before.body_text, e.after.body_text) for e in edits][1] == ("Nội dung đầu", "Nội dung sửa")
        assert edits[0].seen_at == T0 + timedelta(hours=3) and edits[0].after.seen_until is None
        assert edits[1].after.seen_until == T0 + timedelta(hours=3)
        assert store.edits(source_id="other") == []  # type: ignore[attr-defined]
        counts = store.history_counts(["qdnd", "none"])  # type: ignore[attr-defined]
        assert (counts["qdnd"].edits, counts["none"].edits) == (2, 0)


def test_a_removal_needs_two_revisits_far_enough_apart_and_a_find_undoes_it(backend: Backend) -> None:
    with backend.make() as store:
        store.migrate()
        url = make_article().url
        store.upsert_article(make_article(), now=T0)
        args = {"steps": STEPS, "confirm_after": CONFIRM}
        v0 = store.version()
        assert store.record_revisit(url, now=T0 + timedelta(hours=1), evidence="HTTP 404", **args) == "pending"  # type: ignore[attr-defined]
        assert store.record_revisit(url, now=T0 + timedelta(hours=6), evidence="HTTP 404", **args) == "pending"  # type: ignore[attr-defined]
        assert store.get_article(url).status == "live"  # type: ignore[union-attr]
        assert store.version() == v0  # nothing a feed shows changed yet
        # a pending removal is due again once confirm_after has passed, even past the last step
        late = T0 + timedelta(days=5)
        assert store.due_revisits("qdnd", STEPS, now=late, limit=5, confirm_after=CONFIRM) == [(url, make_article().original_url)]  # type: ignore[attr-defined]
        assert store.record_revisit(url, now=T0 + timedelta(hours=7), evidence="HTTP 410", **args) == "removed"  # type: ignore[attr-defined]
        stored = store.get_article(url)
        assert stored is not None and stored.status == "removed" and stored.removed_at == T0 + timedelta(hours=1)
        assert store.version() != v0
        assert [s.article.url for s in store.removed()] == [url]  # type: ignore[attr-defined]
        assert store.due_revisits("qdnd", STEPS, now=late, limit=5, confirm_after=CONFIRM) == [(url, make_article().original_url)]  # type: ignore[attr-defined]
        assert store.record_revisit(url, now=T0 + timedelta(days=1), **args) == "restored"  # type: ignore[attr-defined]
        stored = store.get_article(url)
        assert stored is not None and stored.status == "live" and stored.removed_at is None
        assert store.removed() == []  # type: ignore[attr-defined]
        assert store.due_revisits("qdnd", STEPS, now=late, limit=5, confirm_after=CONFIRM) == []  # type: ignore[attr-defined]
        counts = store.history_counts(["qdnd"])["qdnd"]  # type: ignore[attr-defined]
        assert (counts.revisits, counts.removed) == (4, 0)


def test_a_find_between_two_pieces_of_evidence_starts_over(backend: Backend) -> None:
    with backend.make() as store:
        store.migrate()
        url = make_article().url
        store.upsert_article(make_article(), now=T0)
        args = {"steps": STEPS, "confirm_after": CONFIRM}
        store.record_revisit(url, now=T0 + timedelta(hours=1), evidence="HTTP 404", **args)  # type: ignore[attr-defined]
        store.record_revisit(url, now=T0 + timedelta(hours=8), **args)  # type: ignore[attr-defined]
        assert store.record_revisit(url, now=T0 + timedelta(hours=24), evidence="HTTP 404", **args) == "pending"  # type: ignore[attr-defined]


def test_the_schedule_counts_from_first_stored_and_skips_missed_steps(backend: Backend) -> None:
    with backend.make() as store:
        store.migrate()
        fetched = make_article(1, published=T0 - timedelta(days=400))
        backfilled_old = make_article(2, published=T0 - timedelta(days=400))
        backfilled_new = make_article(3, published=T0)
        store.upsert_article(fetched, now=T0)
        store.upsert_article(backfilled_old, now=T0, stored_by="backfill")
        store.upsert_article(backfilled_new, now=T0, stored_by="backfill")
        def due(*args: object, **kwargs: object) -> list[str]:
            return [key for key, _ in store.due_revisits(*args, **kwargs)]  # type: ignore[attr-defined]

        assert due("qdnd", STEPS, now=T0 + timedelta(minutes=59), limit=9, confirm_after=CONFIRM) == []
        at = T0 + timedelta(hours=1)
        assert due("qdnd", STEPS, now=at, limit=9, confirm_after=CONFIRM) == [fetched.url, backfilled_new.url]
        assert due("qdnd", STEPS, now=at, limit=1, confirm_after=CONFIRM) == [fetched.url]
        assert due("qdnd", [], now=at, limit=9, confirm_after=CONFIRM) == []  # revisits off
        # a late revisit (after the 6 h step) does not repeat the missed step
        store.record_revisit(fetched.url, now=T0 + timedelta(hours=7), steps=STEPS, confirm_after=CONFIRM)  # type: ignore[attr-defined]
        assert due("qdnd", STEPS, now=T0 + timedelta(hours=7), limit=9, confirm_after=CONFIRM) == [backfilled_new.url]
        assert due("qdnd", STEPS, now=T0 + timedelta(hours=24), limit=9, confirm_after=CONFIRM) == [
            fetched.url, backfilled_new.url
        ]


def test_a_reextraction_rewrites_in_place_and_versions_are_rebuilt(backend: Backend) -> None:
    with backend.make() as store:
        store.migrate()
        url = make_article().url
        store.upsert_article(make_article(fingerprint="a"), raw_html=b"<html>a</html>", now=T0)
        store.upsert_article(make_article(fingerprint="b", title="B"), raw_html=b"<html>b</html>",
                             now=T0 + timedelta(hours=1))
        # a new profile: no version kept, the current state keeps its seen_from, updated moves
        assert store.upsert_article(make_article(fingerprint="b2", title="B2"), now=T0 + timedelta(hours=2),
                                    keep_version=False) == "updated"
        history = store.article_history(url)  # type: ignore[attr-defined]
        assert history.edits == 1 and [v.title for v in history.versions] == ["Bài số 1", "B2"]
        assert history.versions[1].seen_from == T0 + timedelta(hours=1) == history.versions[0].seen_until
        assert store.get_article(url).updated == T0 + timedelta(hours=2)  # type: ignore[union-attr]
        assert store.versions_for_reextract(url) == [(T0, b"<html>a</html>")]  # type: ignore[attr-defined]
        v0 = store.version()
        rebuilt = make_article(fingerprint="a2", title="A2", authors=("Trần B",))
        assert store.rewrite_version(url, T0, rebuilt)  # type: ignore[attr-defined]
        assert not store.rewrite_version(url, T0 + timedelta(days=9), rebuilt)  # type: ignore[attr-defined]
        assert store.version() != v0
        first = store.article_history(url).versions[0]  # type: ignore[attr-defined]
        assert (first.title, first.authors, first.seen_until) == ("A2", ("Trần B",), T0 + timedelta(hours=1))


def test_the_due_query_walks_indexes_not_the_archive(tmp_path: Path) -> None:
    """Every part of ``due_revisits`` (SQLite) is an index search: a run's cost follows what is
    due, not the archive (with an OR of the steps SQLite scanned the source: 56 ms at 100k rows)."""
    from storage.sqlite import SQLiteStore

    with SQLiteStore(tmp_path / "plan.db") as store:
        store.migrate()
        store.upsert_article(make_article(), now=T0)
        seen: list[str] = []
        conn = store._conn  # noqa: SLF001 - our own store, to trace the statements it runs
        conn.set_trace_callback(seen.append)
        store.due_revisits("qdnd", STEPS, now=T0 + timedelta(days=1), limit=5, confirm_after=CONFIRM)
        store.retire_revisits("qdnd", STEPS, now=T0 + timedelta(days=1))
        conn.set_trace_callback(None)
        statements = [s for s in seen if s.lstrip().upper().startswith(("SELECT", "UPDATE"))]
        assert len(statements) == 2
        for sql in statements:
            plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            assert "SCAN articles" not in plan, plan
            assert "(source_id=?)" not in plan, plan  # a search by source alone walks the source
            assert plan.count("USING INDEX") >= (len(STEPS) + 1 if sql.lstrip().startswith("SELECT") else 1), plan


def test_a_long_schedule_is_asked_in_batches(backend: Backend) -> None:
    with backend.make() as store:
        store.migrate()
        for n in range(1, 4):
            store.upsert_article(make_article(n), now=T0 + timedelta(seconds=n))
        steps = [float(s) for s in range(1, 601)]  # more steps than SQLite's 500 compound terms
        due = store.due_revisits("qdnd", steps, now=T0 + timedelta(seconds=300), limit=2, confirm_after=1)  # type: ignore[attr-defined]
        assert [key for key, _ in due] == [make_article(1).url, make_article(2).url]
        for n in (1, 2):
            store.record_revisit(make_article(n).url, now=T0 + timedelta(seconds=300), steps=steps,  # type: ignore[attr-defined]
                                 confirm_after=1)
        due = store.due_revisits("qdnd", steps, now=T0 + timedelta(seconds=300), limit=5, confirm_after=1)  # type: ignore[attr-defined]
        assert [key for key, _ in due] == [make_article(3).url]


def test_a_revisit_that_failed_uses_up_its_step_and_changes_nothing_else(backend: Backend) -> None:
    with backend.make() as store:
        store.migrate()
        url = make_article().url
        store.upsert_article(make_article(), now=T0)
        at = T0 + timedelta(hours=7)  # the 1 h and 6 h steps are due
        store.skip_revisit(url, now=at, steps=STEPS)  # type: ignore[attr-defined]
        assert store.due_revisits("qdnd", STEPS, now=at, limit=5, confirm_after=CONFIRM) == []  # type: ignore[attr-defined]
        assert backend.rows("SELECT revisit_step, revisits, status, pending_since FROM articles") == [(2, 0, "live", None)]
        # a pending removal stays pending through a failed revisit, and due
        store.record_revisit(url, now=T0 + timedelta(days=1), steps=STEPS, confirm_after=CONFIRM,  # type: ignore[attr-defined]
                             evidence="HTTP 404")
        later = T0 + timedelta(days=2)
        store.skip_revisit(url, now=later, steps=STEPS)  # type: ignore[attr-defined]
        assert store.get_article(url).status == "live"  # type: ignore[union-attr]
        assert [k for k, _ in store.due_revisits("qdnd", STEPS, now=later, limit=5, confirm_after=CONFIRM)] == [url]  # type: ignore[attr-defined]
        assert store.record_revisit(url, now=later, steps=STEPS, confirm_after=CONFIRM,  # type: ignore[attr-defined]
                                    evidence="HTTP 404") == "removed"
