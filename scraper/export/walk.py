"""The archive as a stream of ``ArchivedArticle``s, one keyset page in memory at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from storage._export import ARCHIVE_PAGE, ArchivedArticle

__all__ = ["Selection", "walk_archive"]


@dataclass(frozen=True)
class Selection:
    """Which articles an export holds: sources (all when empty), [since, until) on published."""

    source_ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


def walk_archive(
    store: object, selection: Selection, *, with_pages: bool, page_size: int = ARCHIVE_PAGE
) -> Iterator[ArchivedArticle]:
    """Every selected article in id order; the store is read ``page_size`` rows at a time
    (``Store.archive_page``), so nothing but one page is held."""
    after = 0
    sources: Sequence[str] | None = selection.source_ids or None
    while True:
        batch = store.archive_page(  # type: ignore[attr-defined]
            after_id=after, limit=page_size, source_ids=sources,
            since=selection.since, until=selection.until, with_pages=with_pages,
        )
        yield from batch
        if len(batch) < page_size:
            return
        after = batch[-1].stored.id


def count_selected(store: object, selection: Selection) -> int | None:
    """How many articles the export will hold, when that is cheap (no date bounds), else None."""
    if selection.since is not None or selection.until is not None:
        return None
    if not selection.source_ids:
        return int(store.count_articles())  # type: ignore[attr-defined]
    return sum(int(store.count_articles(sid)) for sid in set(selection.source_ids))  # type: ignore[attr-defined]
