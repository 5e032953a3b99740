"""Filing an article among its near-duplicates and reading clusters back; backend-neutral.

The SQL here uses ``?`` placeholders; each backend passes a ``Run`` that
executes one statement on its connection, inside the transaction that writes
the article (PostgreSQL: after the bump of the ``articles`` counter, whose row
lock orders all article writers, so two workers filing copies of one story at
the same moment see each other's band keys).

Tables (migration 0003): ``article_bands(band_key, article_id)`` and
``article_signatures(article_id, signature)``, and ``articles.cluster_id``: the
id of the cluster's earliest article by ``(COALESCE(published, first_seen),
id)``, on every member including that one; NULL for an article without copies.

Every statement is an index lookup: by band key, by article id, or by
``cluster_id`` (index ``articles_cluster``); none scans the archive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .base import ClusterKey

Run = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

SORT_KEY = "COALESCE(published, first_seen)"
IN_CHUNK = 500


def file_article(run: Run, article_id: int, source_id: str, key: ClusterKey) -> int | None:
    """Replace the article's band keys and signature and (re)join its cluster; its cluster_id.

    Only articles of other sources are candidates: a story is syndicated when
    another site publishes it (a site that posts the same text twice keeps
    both entries in every feed).
    """
    detach(run, article_id)
    bands = sorted(set(key.bands))
    matched: list[int] = []
    seen: set[int] = set()
    for chunk in _chunks(bands):
        rows = run(
            "SELECT DISTINCT s.article_id, s.signature FROM article_bands b"
            " JOIN article_signatures s ON s.article_id = b.article_id"
            " JOIN articles a ON a.id = b.article_id"
            f" WHERE b.band_key IN ({_marks(chunk)}) AND a.source_id <> ?",
            [*chunk, source_id],
        )
        for candidate, signature in rows:
            if candidate not in seen:
                seen.add(candidate)
                if key.matches(bytes(signature)):
                    matched.append(int(candidate))
    run(
        "INSERT INTO article_signatures (article_id, signature) VALUES (?, ?)",
        [article_id, key.signature],
    )
    for band in bands:
        run("INSERT INTO article_bands (band_key, article_id) VALUES (?, ?)", [band, article_id])
    if not matched:
        return None
    clusters = {
        int(c)
        for chunk in _chunks(matched)
        for (c,) in run(
            f"SELECT DISTINCT COALESCE(cluster_id, id) FROM articles WHERE id IN ({_marks(chunk)})",
            chunk,
        )
    }
    return _merge(run, clusters, extra=article_id)


def mark_keyless(run: Run, article_id: int) -> None:
    """Record that the article has no key (too short to compare): an empty signature, no bands."""
    detach(run, article_id)
    run("INSERT INTO article_signatures (article_id, signature) VALUES (?, ?)", [article_id, b""])


def unfiled_ids(run: Run, after_id: int, limit: int) -> list[int]:
    """Ids above ``after_id`` of articles never filed (no signature row), in id order."""
    rows = run(
        "SELECT a.id FROM articles a WHERE a.id > ? AND NOT EXISTS"
        " (SELECT 1 FROM article_signatures s WHERE s.article_id = a.id) ORDER BY a.id LIMIT ?",
        [after_id, limit],
    )
    return [int(r[0]) for r in rows]


def detach(run: Run, article_id: int) -> None:
    """Take the article out of its cluster and forget its band keys and signature."""
    run("DELETE FROM article_bands WHERE article_id = ?", [article_id])
    run("DELETE FROM article_signatures WHERE article_id = ?", [article_id])
    rows = run("SELECT cluster_id FROM articles WHERE id = ?", [article_id])
    if not rows or rows[0][0] is None:
        return
    old = int(rows[0][0])
    run("UPDATE articles SET cluster_id = NULL WHERE id = ?", [article_id])
    rest = run(
        f"SELECT id FROM articles WHERE cluster_id = ? ORDER BY {SORT_KEY}, id LIMIT 2", [old]
    )
    if len(rest) == 1:  # a cluster of one is no cluster
        run("UPDATE articles SET cluster_id = NULL WHERE id = ?", [rest[0][0]])
    elif rest and old == article_id:  # the earliest left: the next one leads
        run("UPDATE articles SET cluster_id = ? WHERE cluster_id = ?", [rest[0][0], old])


def _merge(run: Run, clusters: set[int], *, extra: int) -> int:
    """One cluster of ``clusters`` (ids of their earliest members, or of lone articles)
    and the article ``extra``, led by the earliest of them all."""
    ids = sorted(clusters | {extra})
    marks = _marks(ids)
    # Each cluster's current leader is its earliest member, so the earliest of
    # the leaders and ``extra`` leads the merged cluster.
    ((leader,),) = run(
        f"SELECT id FROM articles WHERE id IN ({marks}) ORDER BY {SORT_KEY}, id LIMIT 1", ids
    )
    run(f"UPDATE articles SET cluster_id = ? WHERE cluster_id IN ({marks})", [leader, *ids])
    run(f"UPDATE articles SET cluster_id = ? WHERE id IN ({marks})", [leader, *ids])
    return int(leader)


def sibling_rows(run: Run, leaders: Sequence[int], columns: str) -> list[tuple[Any, ...]]:
    """``columns`` of the other members of the clusters led by ``leaders``, earliest first;
    the last column is their ``cluster_id``."""
    rows: list[tuple[Any, ...]] = []
    for chunk in _chunks(sorted(set(leaders))):
        rows += run(
            f"SELECT {columns}, cluster_id FROM articles"
            f" WHERE cluster_id IN ({_marks(chunk)}) AND id <> cluster_id"
            f" ORDER BY {SORT_KEY}, id",
            chunk,
        )
    return rows


def _marks(items: Sequence[object]) -> str:
    return ", ".join("?" * len(items))


def _chunks(items: Sequence[int] | Iterable[int]) -> Iterable[list[int]]:
    items = list(items)
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]
