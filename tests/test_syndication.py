"""Syndicated copies: near-duplicate clustering (MinHash + LSH in the store) and the collapsed feeds.

The story is a real fixture article (qdnd's border-guard story); its copies get
another lead, byline and boilerplate, as the regional sites and TTXVN
republish them.  Store tests run on SQLite and PostgreSQL (``backend`` from
test_storage).
"""

from __future__ import annotations

import hashlib
import tomllib
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
import test_storage
from fixture_sites import FixtureSites, expected_articles
from lxml import etree
from test_storage import Backend

from feeds.render import feed_meta, render
from scraper.config_load import config_from_dict
from scraper.dedup.syndication import (
    MIN_SHINGLES,
    NUM_PERM,
    THRESHOLD,
    ClusterKey,
    cluster_key,
    estimated_jaccard,
    shingles,
)
from scraper.models import Article
from storage import Store

backend = test_storage.backend  # the fixtures: every store test runs on both backends
store = test_storage.store
T0 = datetime(2024, 1, 15, 8, 0, tzinfo=UTC)
STORY = expected_articles("qdnd")[0]["body_contains"]
SAME_TOPIC = expected_articles("bienphong")[0]["body_contains"]  # another border-guard story
OTHER = expected_articles("qdnd")[1]["body_contains"]


def article(source_id: str, n: int, paragraphs: list[str], *, hours: float = 0, **kw: object) -> Article:
    body = "\n\n".join(paragraphs)
    fields: dict[str, object] = {
        "url": f"https://{source_id}.example.vn/bai-{n}",
        "source_id": source_id,
        "title": f"Bài {n} của {source_id}",
        "published": T0 + timedelta(hours=hours),
        "body_html": "".join(f"<p>{p}</p>" for p in paragraphs),
        "body_text": body,
        "fingerprint": hashlib.sha256(body.encode()).hexdigest(),
        "original_url": f"https://{source_id}.example.vn/bai-{n}?utm_source=rss",
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


def republished(paragraphs: list[str], site: str) -> list[str]:
    """The story as another site runs it: own lead and byline, a caption dropped, boilerplate."""
    return (
        [f"({site}) - Theo tin từ Báo Quân đội nhân dân, lực lượng biên phòng tỉnh vừa ra quân."]
        + [p for p in paragraphs if not p.startswith("Lực lượng tham gia")]
        + ["Bài và ảnh: Thanh Hà (tổng hợp)", "* Mời bạn đọc vào chuyên mục Quốc phòng xem thêm",
           "Xem thêm: Tin cùng chuyên mục", "./."]
    )


def put(store: Store, *articles: Article) -> None:
    for a in articles:
        store.upsert_article(a, cluster_key=cluster_key(a), now=T0 + timedelta(days=1))


def titles(items: list) -> list[tuple[str, list[str]]]:
    return [(i.article.source_id, [s.source_id for s in i.siblings]) for i in items]


# -- the key ---------------------------------------------------------------------------------


def test_signature_and_band_keys_are_pinned() -> None:
    """Stored keys must not change with a library upgrade: old copies would stop matching."""
    key = cluster_key(article("qdnd", 1, STORY))
    assert key is not None
    assert len(key.signature) == NUM_PERM * 4
    assert hashlib.sha256(key.signature).hexdigest()[:16] == "39777d2f14ba54fa"
    assert key.bands[:2] == (-3588532372853830183, 4711458093494448626)


def test_copies_are_near_duplicates_and_other_stories_are_not() -> None:
    story = cluster_key(article("qdnd", 1, STORY))
    copy = cluster_key(article("qk7", 2, republished(STORY, "QK7")))
    nfd = cluster_key(article("ttxvn", 3, [unicodedata.normalize("NFD", p) for p in STORY]))
    topic = cluster_key(article("bienphong", 4, SAME_TOPIC))
    assert story and copy and nfd and topic
    # estimated close to the exact Jaccard of the shingle sets
    exact = len(shingles("\n".join(STORY)) & shingles("\n".join(republished(STORY, "QK7")))) / len(
        shingles("\n".join(STORY)) | shingles("\n".join(republished(STORY, "QK7")))
    )
    assert abs(estimated_jaccard(story.signature, copy.signature) - exact) < 0.15
    assert story.matches(copy.signature) and copy.matches(story.signature)
    assert estimated_jaccard(story.signature, nfd.signature) == 1.0  # NFD text is the same text
    assert estimated_jaccard(story.signature, topic.signature) < 0.1
    assert not story.matches(topic.signature)
    assert set(story.bands) & set(copy.bands)  # a candidate by band lookup
    assert not set(story.bands) & set(topic.bands)


def test_short_bodies_get_no_key() -> None:
    assert cluster_key(article("qdnd", 1, ["Ảnh: TTXVN. Xem thêm tin cùng chuyên mục."])) is None
    words = " ".join(f"từ{i}" for i in range(MIN_SHINGLES + 4))
    assert cluster_key(article("qdnd", 1, [words])) is not None


def test_threshold_is_the_estimated_jaccard() -> None:
    key = ClusterKey(shingles(" ".join(f"w{i}" for i in range(300))))
    assert THRESHOLD == 0.7
    same = bytearray(key.signature)
    # 30% of the values changed: 0.7 is still a match, 31% is not
    for i in range(30):
        same[i * 4] ^= 0xFF
    assert key.matches(bytes(same))
    same[30 * 4] ^= 0xFF
    assert not key.matches(bytes(same))


# -- clustering in the store (SQLite and PostgreSQL) ----------------------------------------


def test_copies_on_other_sites_cluster_under_the_earliest(store: Store) -> None:
    put(
        store,
        article("qk7", 2, republished(STORY, "QK7"), hours=3),
        article("qdnd", 1, STORY, hours=0),
        article("bienphong", 3, SAME_TOPIC, hours=1),
        article("qk3", 4, republished(STORY, "QK3"), hours=5),
    )
    assert titles(store.latest(collapse_clusters=True)) == [
        ("bienphong", []),
        ("qdnd", ["qk7", "qk3"]),  # the earliest publisher leads, copies earliest first
    ]
    (lead,) = [i for i in store.latest(collapse_clusters=True) if i.siblings]
    assert [s.link for s in lead.siblings] == [
        "https://qk7.example.vn/bai-2?utm_source=rss",
        "https://qk3.example.vn/bai-4?utm_source=rss",
    ]
    assert lead.siblings[0].published == T0 + timedelta(hours=3)
    # per-source lists and the plain latest() keep every article
    assert len(store.latest()) == 4
    assert [i.article.source_id for i in store.latest(source_id="qk7")] == ["qk7"]
    assert store.latest(source_id="qk7", collapse_clusters=True)[0].siblings == ()


def test_a_story_matches_a_search_when_any_copy_does(store: Store) -> None:
    put(
        store,
        article("qdnd", 1, STORY),
        article("qk7", 2, republished(STORY, "QK7"), hours=2, title="Tin riêng Quân khu bảy"),
    )
    found = store.latest(q="quan khu bay", collapse_clusters=True)
    assert titles(found) == [("qdnd", ["qk7"])]
    assert [i.article.source_id for i in store.latest(q="quan khu bay")] == ["qk7"]
    # since: the story is dated by its earliest copy
    assert store.latest(since=T0 + timedelta(hours=1), collapse_clusters=True) == []


def test_same_site_and_other_stories_never_cluster(store: Store) -> None:
    put(
        store,
        article("qdnd", 1, STORY),
        article("qdnd", 2, republished(STORY, "QĐND")),  # the site posting it twice
        article("bienphong", 3, SAME_TOPIC),
        article("qdnd", 4, OTHER),
        article("qk7", 5, ["Ảnh: TTXVN"]),  # no key
    )
    assert all(not i.siblings for i in store.latest(collapse_clusters=True))
    assert len(store.latest(collapse_clusters=True)) == 5


def test_an_earlier_copy_found_later_leads_and_edits_move_articles(
    store: Store, backend: Backend
) -> None:
    put(store, article("qk7", 2, republished(STORY, "QK7"), hours=3))
    put(store, article("qk3", 3, republished(STORY, "QK3"), hours=4))
    assert titles(store.latest(collapse_clusters=True)) == [("qk7", ["qk3"])]
    put(store, article("qdnd", 1, STORY, hours=-2))  # backfill finds the original
    assert titles(store.latest(collapse_clusters=True)) == [("qdnd", ["qk7", "qk3"])]
    # The original is edited into another story: it leaves, the next copy leads.
    put(store, article("qdnd", 1, OTHER, hours=-2))
    assert titles(store.latest(collapse_clusters=True)) == [("qk7", ["qk3"]), ("qdnd", [])]
    # The last copy changes too: a cluster of one is no cluster.
    put(store, article("qk3", 3, SAME_TOPIC, hours=4))
    assert titles(store.latest(collapse_clusters=True)) == [("qk3", []), ("qk7", []), ("qdnd", [])]
    assert backend.rows("SELECT COUNT(*) FROM articles WHERE cluster_id IS NOT NULL") == [(0,)]
    # An update without a key leaves the cluster alone; "unchanged" writes nothing.
    put(store, article("qk3", 3, republished(STORY, "QK3"), hours=4))
    assert titles(store.latest(collapse_clusters=True)) == [("qk7", ["qk3"]), ("qdnd", [])]
    edited = article("qk3", 3, republished(STORY, "QK3"), hours=4, title="Tiêu đề mới")
    assert store.upsert_article(edited) == "updated"
    assert titles(store.latest(collapse_clusters=True)) == [("qk7", ["qk3"]), ("qdnd", [])]
    bands = backend.rows("SELECT COUNT(*) FROM article_bands")
    put(store, edited)
    assert backend.rows("SELECT COUNT(*) FROM article_bands") == bands


def test_candidates_come_from_band_keys_not_from_the_archive(store: Store, backend: Backend) -> None:
    """Filing a copy looks at the articles sharing a band key, however big the archive is."""
    for n in range(60):
        put(store, article("qk4", 100 + n, [" ".join(f"tin{n}x{i}" for i in range(80))]))
    compared: list[bytes] = []

    class Spy(ClusterKey):
        def matches(self, signature: bytes) -> bool:
            compared.append(signature)
            return super().matches(signature)

    put(store, article("qdnd", 1, STORY))
    copy = article("qk7", 2, republished(STORY, "QK7"), hours=1)
    store.upsert_article(copy, cluster_key=Spy(shingles(copy.body_text)))
    assert len(compared) == 1
    assert looks_up(backend, "SELECT article_id FROM article_bands WHERE band_key = 42")
    assert looks_up(backend, "SELECT id, title FROM articles WHERE cluster_id = 42")


def looks_up(backend: Backend, sql: str) -> bool:
    """The query is an index lookup, not a scan."""
    if backend.name == "sqlite":
        plan = " ".join(row[3] for row in backend.rows("EXPLAIN QUERY PLAN " + sql))
        return plan.startswith("SEARCH") and "INDEX" in plan
    return backend.uses_index(sql)


# -- feeds ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config():
    with FixtureSites(["qdnd", "qk7"]) as sites:
        text = sites.config_text("sqlite:///:memory:")
    return config_from_dict(tomllib.loads(text), "<test>")


def test_combined_feed_shows_one_entry_with_also_published_by(store: Store, config) -> None:
    put(
        store,
        article("qdnd", 1, STORY),
        article("qk7", 2, republished(STORY, "QK7"), hours=2),
        article("qk7", 3, OTHER, hours=1),
    )
    items = store.latest(collapse_clusters=True)
    base = "http://feeds.test"
    atom = render("atom", feed_meta(config, source_id=None, base_url=base, fmt="atom"), items, config.sources)
    parsed = feedparser.parse(atom)
    assert parsed.bozo == 0
    assert [e.link for e in parsed.entries] == [
        "https://qk7.example.vn/bai-3?utm_source=rss",
        "https://qdnd.example.vn/bai-1?utm_source=rss",
    ]
    story = parsed.entries[1]
    related = [link for link in story.links if link.rel == "related"]
    assert [(link.href, link.title) for link in related] == [
        ("https://qk7.example.vn/bai-2?utm_source=rss", config.sources["qk7"].name)
    ]
    paragraph = (
        '<p>Cũng đăng trên: <a href="https://qk7.example.vn/bai-2?utm_source=rss">'
        f"{config.sources['qk7'].name}</a></p>"
    )
    assert story.content[0].value.endswith(paragraph)
    root = etree.fromstring(atom)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert len(root.findall("a:entry/a:link[@rel='related']", ns)) == 1
    doc = feedparser.parse(
        render("rss", feed_meta(config, source_id=None, base_url=base, fmt="rss"), items, config.sources)
    )
    assert doc.entries[1].content[0].value.endswith(paragraph)
    import json

    data = json.loads(
        render("json", feed_meta(config, source_id=None, base_url=base, fmt="json"), items, config.sources)
    )
    assert data["items"][1]["content_html"].endswith(paragraph)
    # per-source feeds keep their own entries, without the paragraph
    qk7 = store.latest(source_id="qk7")
    doc = feedparser.parse(
        render("atom", feed_meta(config, source_id="qk7", base_url=base, fmt="atom"), qk7, config.sources)
    )
    assert [e.link for e in doc.entries] == [
        "https://qk7.example.vn/bai-2?utm_source=rss",
        "https://qk7.example.vn/bai-3?utm_source=rss",
    ]
    assert all("Cũng đăng trên" not in e.content[0].value for e in doc.entries)


def test_a_copy_without_a_web_link_is_not_linked(store: Store, config) -> None:
    put(store, article("qdnd", 1, STORY), article("qk7", 2, republished(STORY, "QK7"), hours=1))
    (item,) = store.latest(collapse_clusters=True)
    bad = replace(item, siblings=(replace(item.siblings[0], link="javascript:alert(1)"),))
    atom = render("atom", feed_meta(config, source_id=None, base_url="http://x", fmt="atom"), [bad], config.sources)
    assert b"javascript" not in atom and "Cũng đăng trên".encode() not in atom


# -- articles stored without a key: older archives, copies ---------------------------------


def test_an_archive_from_before_syndication_is_filed_by_index_archive(backend: Backend) -> None:
    from scraper.dedup.syndication import index_archive
    from storage._migrations import load_migrations

    with backend.make(migrations=load_migrations()[:2]) as old:  # before migration 0003
        old.migrate()
    for seq, a in enumerate(
        [
            article("qdnd", 1, STORY),
            article("qk7", 2, republished(STORY, "QK7"), hours=1),
            article("qk7", 3, ["Ảnh: TTXVN"], hours=2),  # too short for a key
        ],
        start=1,
    ):  # the rows as the qkfeed of that schema wrote them (today's upsert needs today's schema)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        backend.execute(
            "INSERT INTO articles (url, guid, source_id, title, published, authors, agencies,"
            " categories, body_html, body_text, summary, fingerprint, original_url, search_text,"
            " first_seen, updated, change_seq) VALUES (?, ?, ?, ?, ?, '[]', '[]', '[]', ?, ?, '', ?,"
            " ?, ?, ?, ?, ?)",
            a.url, f"urn:uuid:{seq}", a.source_id, a.title,
            a.published.isoformat(timespec="microseconds") if a.published else None,
            a.body_html, a.body_text, a.fingerprint, a.url, a.body_text, now, now, seq,
        )
    with backend.open() as s:
        assert all(not i.siblings for i in s.latest(collapse_clusters=True))
        version = s.version()
        batches: list[int] = []
        assert index_archive(s, progress=batches.append) == 3
        assert batches == [3] and s.version() != version  # feeds are rendered again
        assert titles(s.latest(collapse_clusters=True)) == [("qk7", []), ("qdnd", ["qk7"])]
        assert index_archive(s) == 0  # every article is filed now, the keyless one included
        s.upsert_article(article("qk3", 4, ["Tin ngắn."]), cluster_key=None)
        assert [a.article.source_id for a in s.unfiled()] == ["qk3"]


def test_a_copied_archive_finds_its_clusters_again(tmp_path) -> None:
    from scraper.dedup.syndication import index_archive
    from storage import open_store
    from storage.copy import copy_store

    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as a, open_store(f"sqlite:///{tmp_path / 'b.db'}") as b:
        put(a, article("qdnd", 1, STORY), article("qk7", 2, republished(STORY, "QK7"), hours=1))
        copy_store(a, b)
        assert titles(b.latest(collapse_clusters=True)) == [("qk7", []), ("qdnd", [])]
        assert index_archive(b) == 2
        assert titles(b.latest(collapse_clusters=True)) == titles(a.latest(collapse_clusters=True))


def test_page_lists_one_story_with_its_other_copies(store: Store, config) -> None:
    from feeds.page import PageView, render_page

    put(store, article("qdnd", 1, STORY), article("qk7", 2, republished(STORY, "QK7"), hours=2))
    items = store.latest(collapse_clusters=True)
    page = render_page(PageView(config=config, base_url="http://feeds.test", items=items, health=[]))
    doc = etree.HTML(page)
    stories = doc.findall(".//ol[@class='articles']/li")
    assert len(stories) == 1
    also = stories[0].find(".//p[@class='also']")
    assert also is not None and "Cũng đăng trên" in "".join(also.itertext())
    assert [a.get("href") for a in also.findall("a")] == ["https://qk7.example.vn/bai-2?utm_source=rss"]
