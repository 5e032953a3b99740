"""What one page shows, read from the store: one page of stories, the count, the next cursor."""

from __future__ import annotations

from collections.abc import Sequence

from scraper.config import Config
from scraper.models import SourceHealth
from storage import Store

from .page import PageView
from .page_query import PageQuery

__all__ = ["page_view"]


def page_view(
    store: Store, config: Config, flt: PageQuery, base: str, health: Sequence[SourceHealth]
) -> PageView:
    """Reads ``limit + 1`` entries, so "Xem tiếp" is shown only when there is more; the
    total is counted for a search (the page says how many stories match)."""
    wanted = flt.article_filter(config)
    items, total = [], None
    if wanted is not None:
        items = store.browse(wanted, before=flt.before, limit=flt.base.limit + 1)
        if flt.base.q:
            total = store.count_matching(wanted)
    elif flt.base.q:
        total = 0
    more = len(items) > flt.base.limit
    items = items[: flt.base.limit]
    cursor = (items[-1].published_or_seen, items[-1].id) if more and items else None
    return PageView(config=config, base_url=base, items=items, health=health, page=flt,
                    total=total, next_cursor=cursor)
