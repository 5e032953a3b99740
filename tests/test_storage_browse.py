"""``Store.browse`` and ``count_matching`` (the page's queries), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pg_server
import pytest
from test_storage import BACKENDS, T0, make_article

from scraper.dedup.syndication import cluster_key
from storage import Store, open_store
from storage.base import ArticleFilter


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on each backend (as ``test_storage``'s fixture)."""
    if request.param == "sqlite":
        with open_store(f"sqlite:///{tmp_path / 'qkfeed.db'}") as s:
            yield s
    else:
        with pg_server.fresh_database() as url, open_store(url) as s:
            yield s


def numbers(items: list) -> list[int]:
    return [int(s.article.url.rsplit("-", 1)[1]) for s in items]


def fill(store: Store) -> None:
    """Articles 1..9 an hour apart; 1-5 qdnd under /quoc-phong/, 6-9 qk7 under /chinh-tri/."""
    for n in range(1, 10):
        sid, section = ("qdnd", "quoc-phong") if n <= 5 else ("qk7", "chinh-tri")
        store.upsert_article(make_article(
            n, source_id=sid, url=f"https://site.vn/{section}/tin/bai-{n}",
            title=f"Biên giới {n}" if n % 2 else f"Huấn luyện {n}"))


def test_cursor_pages_through_everything_once(store: Store) -> None:
    fill(store)
    seen: list[int] = []
    before = None
    while True:
        page = store.browse(ArticleFilter(), before=before, limit=4)
        if not page:
            break
        seen += numbers(page)
        last = page[-1]
        before = (last.published_or_seen, last.id)
    assert seen == [9, 8, 7, 6, 5, 4, 3, 2, 1]


def test_cursor_is_stable_when_newer_articles_arrive_and_ties_break_by_id(store: Store) -> None:
    fill(store)
    first = store.browse(ArticleFilter(), limit=3)
    assert numbers(first) == [9, 8, 7]
    store.upsert_article(make_article(20, published=T0 + timedelta(days=3)))  # newer
    # same instant as article 6: the tie goes by id, so it comes before 6 (higher id)... only
    # when it is not already behind the cursor
    store.upsert_article(make_article(21, published=T0 + timedelta(hours=6)))
    cursor = (first[-1].published_or_seen, first[-1].id)
    assert numbers(store.browse(ArticleFilter(), before=cursor, limit=3)) == [21, 6, 5]


def test_filters_combine(store: Store) -> None:
    fill(store)
    assert numbers(store.browse(ArticleFilter(source_ids=("qk7", "qdnd")))) == list(range(9, 0, -1))
    assert numbers(store.browse(ArticleFilter(source_ids=("qk7",)))) == [9, 8, 7, 6]
    assert numbers(store.browse(ArticleFilter(sections=("chinh-tri",)))) == [9, 8, 7, 6]
    assert numbers(store.browse(ArticleFilter(sections=("tin",)))) == list(range(9, 0, -1))
    assert store.browse(ArticleFilter(sections=("quoc",))) == []  # whole segments only
    assert store.browse(ArticleFilter(sections=("%",))) == []  # LIKE specials are literal
    both = ArticleFilter(sections=("chinh-tri",), section_sources=("qdnd",))
    assert numbers(store.browse(both, limit=5)) == [9, 8, 7, 6, 5]
    assert numbers(store.browse(ArticleFilter(section_sources=("qdnd",)))) == [5, 4, 3, 2, 1]
    window = ArticleFilter(start=T0 + timedelta(hours=3), end=T0 + timedelta(hours=6))
    assert numbers(store.browse(window)) == [5, 4, 3]  # start inclusive, end exclusive
    flt = ArticleFilter(q="bien gioi", source_ids=("qdnd",))
    assert numbers(store.browse(flt)) == [5, 3, 1]
    assert store.count_matching(flt) == 3
    assert store.count_matching(ArticleFilter()) == 9
    assert store.count_matching(window) == 3
    assert store.count_matching(ArticleFilter(q="!!!")) == 0
    assert store.browse(ArticleFilter(q="!!!")) == []
    assert store.browse(ArticleFilter(), limit=0) == []
    with pytest.raises(ValueError, match="naive"):
        store.browse(ArticleFilter(start=T0.replace(tzinfo=None)))


def test_collapsed_clusters_count_stories(store: Store) -> None:
    body = " ".join(f"Câu số {i} của bài viết về huấn luyện sẵn sàng chiến đấu." for i in range(40))
    for n, sid in ((1, "qdnd"), (2, "qk7"), (3, "qk3")):
        art = make_article(n, source_id=sid, url=f"https://{sid}.vn/x/bai-{n}", body_text=body)
        store.upsert_article(art, cluster_key=cluster_key(art))
    store.upsert_article(make_article(4, body_text="Một bài khác hẳn."))
    flt = ArticleFilter(collapse_clusters=True)
    items = store.browse(flt)
    assert numbers(items) == [4, 1]
    assert [s.source_id for s in items[1].siblings] == ["qk7", "qk3"]
    assert store.count_matching(flt) == 2
    assert store.count_matching(ArticleFilter()) == 4
    searched = ArticleFilter(q="san sang chien dau", collapse_clusters=True)
    assert numbers(store.browse(searched)) == [1] and store.count_matching(searched) == 1
    assert store.count_matching(ArticleFilter(q="san sang chien dau")) == 3
    # a source filter lists that source's own entries
    assert numbers(store.browse(ArticleFilter(source_ids=("qk7",), collapse_clusters=True))) == [2]
