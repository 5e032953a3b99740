"""The shared SQL for article history (issue 12): versions, revisits, removals.

An article's current state is its ``articles`` row; every state it had before
is an ``article_versions`` row (migration 0004), written by the upsert that
replaces it (``_keep_version``, in the upsert's own transaction: a crash keeps
either both the old version and the new state or neither).

Revisit schedule: ``[fetch] revisit`` steps are durations after ``first_seen``;
``revisit_step`` counts the steps done.  The steps are passed in (config, not
schema), so a changed schedule applies at once.  A revisit advances the step
past every step whose time has come (a late revisit does not repeat missed
ones).  An article stored by a backfill is due only if published within the
last step's span.  An article with pending removal evidence is due again once
``removal_confirm_after`` has passed, even after its last step, so every
pending removal is settled.

Removal: ``record_revisit(evidence=...)`` first marks it pending; a second
revisit with evidence at least ``confirm_after`` later confirms it (status
'removed', ``removed_at`` = the first evidence); a revisit that finds the page
clears any pending evidence and marks a removed article live again.  A revisit
that could not be made (timeouts, 5xx, 429, other fetch failures) is no
evidence either way: ``skip_revisit`` only uses up the steps whose time has
come, so a page that keeps failing never holds up the queue.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from scraper.models import Article, StoredArticle
from scraper.versions import LIVE, REMOVED, ArticleHistory, Edit, HistoryCounts, Version

from ._sqlcore import ARTICLE_COLUMNS, SQLStoreCore, marks
from .base import utc

log = logging.getLogger(__name__)

DUE_PARTS_PER_QUERY = 100  # subqueries per due-revisits statement (SQLite's compound limit is 500)

_VERSION_COLUMNS = "seen_from, seen_until, title, published, authors, summary, body_text, body_html"
_STATE = (
    "title, published, authors, summary, body_text, body_html"
)


class HistoryQueries(SQLStoreCore):
    """Store methods for versions, revisits and removals; see the module docstring."""

    # -- inside an upsert --------------------------------------------------

    def _keep_version(self, conn: Any, url: str, now: Any, *, keep: bool = True) -> None:
        """Keep the row's current state (and its raw page) as a version, seen until ``now``;
        with ``keep`` False (a re-extraction) the current state is rewritten in place."""
        run = self._runner(conn)
        if not keep:
            run("UPDATE articles SET changed_at = ? WHERE url = ?", [now, url])
            return
        run(
            "INSERT INTO article_versions (url, seen_from, seen_until, last_seen, title, published,"
            " authors, summary, body_html, body_text, fingerprint, html)"
            " SELECT a.url, COALESCE(a.current_since, a.updated), ?,"
            " COALESCE(a.last_seen, a.current_since, a.updated), a.title, a.published,"
            " a.authors, a.summary, a.body_html, a.body_text, a.fingerprint, p.html"
            " FROM articles a LEFT JOIN pages p ON p.url = a.url WHERE a.url = ?"
            " ON CONFLICT (url, seen_from) DO NOTHING",
            [now, url],
        )
        run(
            "UPDATE articles SET changed_at = ?, last_seen = ?, current_since = ?,"
            " edits = (SELECT COUNT(*) FROM article_versions WHERE url = ?) WHERE url = ?",
            [now, now, now, url, url],
        )

    def versions_for_reextract(self, url: str) -> list[tuple[datetime, bytes]]:
        """(seen_from, raw page, decompressed) of every kept version of ``url`` that has one,
        oldest first."""
        with self._reading() as conn:
            rows = self._runner(conn)(
                "SELECT seen_from, html FROM article_versions WHERE url = ? AND html IS NOT NULL"
                " ORDER BY seen_from",
                [url],
            )
        found = []
        for seen_from, compressed in rows:
            try:
                found.append((self._dt_req(seen_from), zlib.decompress(compressed)))
            except zlib.error as exc:  # as pages_for_reextract: logged and skipped
                log.warning("stored page of %s (version of %s) is corrupt (%s); skipped", url, seen_from, exc)
        return found

    def rewrite_version(self, url: str, seen_from: datetime, article: Article) -> bool:
        """Replace the extracted fields of one kept version (``reextract``); False if none."""
        content = self._content_params(article)  # title, published, _, authors, ..., fingerprint
        with self._writing() as conn:
            self._next_seq(conn)  # the edits feeds show versions: they render again
            rows = self._runner(conn)(
                f"UPDATE article_versions SET title = ?, published = ?, authors = {self.JSON_PARAM},"
                " summary = ?, body_html = ?, body_text = ?, fingerprint = ?"
                " WHERE url = ? AND seen_from = ? RETURNING url",
                [content[0], content[1], content[3], article.summary, article.body_html,
                 article.body_text, article.fingerprint, url, self._ts(utc(seen_from, "seen_from"))],
            )
        return bool(rows)

    # -- revisits ----------------------------------------------------------

    def due_revisits(
        self,
        source_id: str,
        steps: Sequence[float],
        *,
        now: datetime,
        limit: int,
        confirm_after: float,
    ) -> list[tuple[str, str]]:
        """(url, URL to fetch) of ``source_id``'s articles due a revisit, oldest first, at most
        ``limit``; the URL to fetch is the one the article was fetched from (its key is canonical)."""
        if limit <= 0:
            return []
        now = utc(now, "now")
        # One index range (source_id, revisit_step, first_seen) per step, and the pending ones:
        # the cost follows what is due, not the archive (an OR of the steps made SQLite scan
        # every row of the source: 56 ms at 100k rows with nothing due).
        parts: list[tuple[str, list[Any]]] = []  # (subquery, its parameters)
        newest_span = self._ts(now - timedelta(seconds=max(steps))) if steps else None
        for index, seconds in enumerate(steps):
            parts.append((
                "SELECT * FROM (SELECT url, original_url, first_seen, id FROM articles"
                " WHERE source_id = ? AND revisit_step = ? AND first_seen <= ?"
                " AND (stored_by = 'fetch' OR published >= ?)"
                f" ORDER BY first_seen, id LIMIT ?) AS step{index}",
                [source_id, index, self._ts(now - timedelta(seconds=seconds)), newest_span, limit],
            ))
        parts.append((
            "SELECT * FROM (SELECT url, original_url, first_seen, id FROM articles"
            " WHERE source_id = ? AND pending_since <= ? ORDER BY pending_since LIMIT ?) AS pending",
            [source_id, self._ts(now - timedelta(seconds=confirm_after)), limit],
        ))
        found: dict[str, tuple[datetime, int, str]] = {}
        with self._reading() as conn:
            run = self._runner(conn)
            # SQLite allows 500 terms in a compound SELECT: a long schedule goes in batches
            for start in range(0, len(parts), DUE_PARTS_PER_QUERY):
                batch = parts[start : start + DUE_PARTS_PER_QUERY]
                rows = run(
                    "SELECT url, original_url, first_seen, id FROM ("
                    + " UNION ".join(sql for sql, _ in batch)
                    + ") AS due ORDER BY first_seen, id LIMIT ?",
                    [*(p for _, ps in batch for p in ps), limit],
                )
                for url, original, first_seen, id_ in rows:
                    found[url] = (self._dt_req(first_seen), int(id_), original or url)
        oldest = sorted(found.items(), key=lambda item: item[1][:2])[:limit]
        return [(url, fetch_url) for url, (_, _, fetch_url) in oldest]

    def retire_revisits(self, source_id: str, steps: Sequence[float], *, now: datetime) -> int:
        """Mark the backfilled articles published before the last step's span (or undated) as
        done with their revisits, so ``due_revisits`` never walks past them again; how many.

        A one-time sweep over an archive after migration 0004 (every earlier row counts as
        backfilled), then only the few a backfill adds."""
        if not steps:
            return 0
        cutoff = self._ts(utc(now, "now") - timedelta(seconds=max(steps)))
        with self._writing() as conn:
            rows = self._runner(conn)(
                "UPDATE articles SET revisit_step = ? WHERE source_id = ? AND revisit_step < ?"
                " AND stored_by = 'backfill' AND (published IS NULL OR published < ?) RETURNING id",
                [len(steps), source_id, len(steps), cutoff],
            )
        return len(rows)

    def record_revisit(
        self,
        url: str,
        *,
        now: datetime,
        steps: Sequence[float],
        confirm_after: float,
        evidence: str | None = None,
    ) -> str:
        """Record a revisit that found the page (``evidence`` None) or removal evidence.

        Returns "live", "restored" (was removed), "pending" or "removed"
        ("" when the article is not stored).
        """
        now = utc(now, "now")
        at = self._ts(now)
        with self._writing() as conn:
            run = self._runner(conn)
            rows = run(
                "SELECT status, pending_since, first_seen FROM articles WHERE url = ?", [url]
            )
            if not rows:
                return ""
            status, pending_since, first_seen = rows[0]
            first = self._dt_req(first_seen)
            step = sum(1 for s in steps if first + timedelta(seconds=s) <= now)
            sets = ["revisits = revisits + 1", "changed_at = ?", "revisit_step = ?"]
            params: list[Any] = [at, step]
            if evidence is None:
                outcome = "restored" if status == REMOVED else LIVE
                sets += ["last_seen = ?", "pending_reason = NULL", "pending_since = NULL",
                         "status = ?", "removed_at = NULL"]
                params += [at, LIVE]
            elif status == REMOVED:
                outcome = REMOVED
            elif pending_since is None:
                outcome = "pending"
                sets += ["pending_reason = ?", "pending_since = ?"]
                params += [evidence, at]
            elif now - self._dt_req(pending_since) >= timedelta(seconds=confirm_after):
                outcome = REMOVED
                sets += ["status = ?", "removed_at = pending_since", "pending_reason = NULL",
                         "pending_since = NULL"]
                params += [REMOVED]
            else:
                outcome = "pending"
            if outcome == "restored" or (outcome == REMOVED and status != REMOVED):
                sets.append("change_seq = ?")  # the feeds show it: their version moves
                params.append(self._next_seq(conn))
            run(f"UPDATE articles SET {', '.join(sets)} WHERE url = ?", [*params, url])
        return outcome

    def skip_revisit(self, url: str, *, now: datetime, steps: Sequence[float]) -> None:
        """A revisit that could not be made (timeout, 5xx, 429, 403, robots ...): no evidence
        either way, nothing about the article changes, but the steps whose time has come are
        used up, so a page that keeps failing never holds up the revisits behind it.  A pending
        removal stays pending (and due again)."""
        now = utc(now, "now")
        with self._writing() as conn:
            run = self._runner(conn)
            rows = run("SELECT first_seen FROM articles WHERE url = ?", [url])
            if not rows:
                return
            first = self._dt_req(rows[0][0])
            step = sum(1 for s in steps if first + timedelta(seconds=s) <= now)
            run("UPDATE articles SET revisit_step = ?, changed_at = ? WHERE url = ? AND revisit_step < ?",
                [step, self._ts(now), url, step])

    # -- reading -----------------------------------------------------------

    def article_history(self, key: str) -> ArticleHistory | None:
        """The history of the article whose URL, GUID or id is ``key``."""
        where, param = ("id = ?", int(key)) if key.isdigit() else (
            ("guid = ?", key) if key.startswith("urn:") else ("url = ?", key)
        )
        with self._reading() as conn:
            run = self._runner(conn)
            rows = run(
                "SELECT id, url, guid, source_id, original_url, status, removed_at,"
                " COALESCE(current_since, updated),"
                f" {_STATE} FROM articles WHERE {where}",
                [param],
            )
            if not rows:
                return None
            row = rows[0]
            older = run(
                f"SELECT {_VERSION_COLUMNS} FROM article_versions WHERE url = ? ORDER BY seen_from",
                [row[1]],
            )
        current = self._version((row[7], None, *row[8:]))
        return ArticleHistory(
            id=int(row[0]),
            url=row[1],
            guid=row[2],
            source_id=row[3],
            link=row[4] or row[1],
            status=row[5],
            removed_at=self._dt(row[6]),
            versions=tuple(self._version(v) for v in older) + (current,),
        )

    def edits(self, *, source_id: str | None = None, limit: int = 50) -> list[Edit]:
        """The newest changes seen, newest first: each version with the state that replaced it."""
        after = ", ".join(f"COALESCE(n.{c}, a.{c})" for c in _STATE.split(", "))
        before = ", ".join(f"v.{c}" for c in _STATE.split(", "))
        sql = (
            f"SELECT a.id, a.url, a.guid, a.source_id, a.original_url, v.seen_from, v.seen_until,"
            " n.seen_until,"
            f" {before}, {after}"
            " FROM article_versions v JOIN articles a ON a.url = v.url"
            " LEFT JOIN article_versions n ON n.url = v.url AND n.seen_from = v.seen_until"
        )
        params: list[Any] = []
        if source_id is not None:
            sql += " WHERE a.source_id = ?"
            params.append(source_id)
        sql += " ORDER BY v.seen_until DESC, v.id DESC LIMIT ?"
        params.append(limit)
        with self._reading() as conn:
            rows = self._runner(conn)(sql, params)
        found = []
        for row in rows:
            seen_until = row[6]
            found.append(
                Edit(
                    article_id=int(row[0]),
                    url=row[1],
                    guid=row[2],
                    source_id=row[3],
                    link=row[4] or row[1],
                    seen_at=self._dt_req(seen_until),
                    before=self._version((row[5], seen_until, *row[8:14])),
                    after=self._version((seen_until, row[7], *row[14:20])),
                )
            )
        return found

    def removed(self, *, source_id: str | None = None, limit: int = 50) -> list[StoredArticle]:
        """Articles the sites took down, the latest removal first."""
        sql = f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE status = ?"
        params: list[Any] = [REMOVED]
        if source_id is not None:
            sql += " AND source_id = ?"
            params.append(source_id)
        sql += " ORDER BY removed_at DESC, id DESC LIMIT ?"
        params.append(limit)
        with self._reading() as conn:
            rows = self._runner(conn)(sql, params)
        return [self._stored(row) for row in rows]

    def history_counts(self, source_ids: Iterable[str]) -> dict[str, HistoryCounts]:
        """Revisits done, edits kept and articles removed, per source (zeros when none)."""
        ids = list(dict.fromkeys(source_ids))
        counts = {sid: HistoryCounts() for sid in ids}
        if not ids:
            return counts
        with self._reading() as conn:
            rows = self._runner(conn)(
                "SELECT source_id, COALESCE(SUM(revisits), 0), COALESCE(SUM(edits), 0),"
                " COALESCE(SUM(CASE WHEN status = 'removed' THEN 1 ELSE 0 END), 0)"
                f" FROM articles WHERE source_id IN ({marks(len(ids))}) GROUP BY source_id",
                ids,
            )
        for sid, revisits, edits, removed in rows:
            counts[sid] = HistoryCounts(int(revisits), int(edits), int(removed))
        return counts

    def _version(self, row: Sequence[Any]) -> Version:
        seen_from, seen_until, title, published, authors, summary, body_text, body_html = row
        return Version(
            seen_from=self._dt_req(seen_from),
            seen_until=self._dt(seen_until),
            title=title,
            published=self._dt(published),
            authors=tuple(self._load_json(authors)),
            summary=summary,
            body_text=body_text,
            body_html=body_html,
        )
