"""The HTML page as readers use it: paging, date range, region/topic/source filters,
thumbnails, search count and highlights, and why a source fails and when it is tried again.

Real SQLite store, the real app through Starlette's TestClient; the layout itself is
checked in headless Chromium by ``tests/test_page_layout.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup

from feeds.app import create_app
from feeds.page_sources import ERROR_CHARS, short_error
from feeds.topics import TOPICS, topic_of
from scraper.config_load import config_from_dict
from scraper.models import Article
from scraper.schedule import backoff_delay, next_attempt
from storage import Store, open_store

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from starlette.testclient import TestClient

T0 = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)  # 07:00 on 1/3/2024 in Vietnam

CONFIG = config_from_dict(
    {
        "feed": {"title": "qkfeed", "description": "Tin", "max_entries": 4},
        "sources": {
            "qdnd": {"name": "Báo QĐND", "region": "Toàn quốc", "interval": "20m",
                     "start_urls": ["https://www.qdnd.vn/chinh-tri", "https://www.qdnd.vn/quoc-phong-an-ninh"]},
            "qk7": {"name": "Báo Quân khu 7", "region": "Quân khu 7", "interval": "30m",
                    "start_urls": ["https://baoquankhu7.vn/tin-tuc"]},
            "bp": {"name": "Báo Biên phòng", "region": "Bộ đội Biên phòng",
                   "start_urls": ["https://www.bienphong.com.vn/kinh-te"]},
        },
    }
)


def art(n: int, source: str, path: str, title: str, hours: float, **more: Any) -> Article:
    host = {"qdnd": "www.qdnd.vn", "qk7": "baoquankhu7.vn", "bp": "www.bienphong.com.vn"}[source]
    fields: dict[str, Any] = dict(
        url=f"https://{host}{path}", source_id=source, title=title,
        published=T0 + timedelta(hours=hours), body_text=f"Nội dung bài {n}.",
        body_html=f"<p>Nội dung bài {n}.</p>", fingerprint=f"f{n}",
    )
    fields.update(more)
    return Article(**fields)


@dataclass
class Env:
    store: Store
    client: TestClient

    def doc(self, path: str, **params: Any) -> BeautifulSoup:
        r = self.client.get(path, params=params) if params else self.client.get(path)
        assert r.status_code == 200, r.text
        return BeautifulSoup(r.content, "html.parser")

    def titles(self, path: str = "/", **params: Any) -> list[str]:
        return [h.get_text() for h in self.doc(path, **params).select("ol.articles h3")]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    store = open_store(f"sqlite:///{tmp_path / 'page.db'}")
    try:
        with TestClient(create_app(CONFIG, store)) as client:
            yield Env(store, client)
    finally:
        store.close()


def put_ten(store: Store) -> None:
    """Ten articles an hour apart (t0..t9), newest = 9; sources and sections vary."""
    for n in range(10):
        source, path = [("qdnd", f"/quoc-phong-an-ninh/bien-gioi/bai-{n}"),
                        ("qdnd", f"/chinh-tri/tin-tuc/bai-{n}"),
                        ("qk7", f"/bai-{n}-1705910640-7e21b"),
                        ("bp", f"/bai-{n}-post46{n}.html")][n % 4]
        store.upsert_article(art(n, source, path, f"Bài {n}", n))


# -- paging -------------------------------------------------------------------------------


def test_xem_tiep_pages_through_every_story_once_even_when_new_ones_arrive(env: Env) -> None:
    put_ten(env.store)
    seen: list[str] = []
    doc = env.doc("/")
    assert doc.select('a[rel="next"]')[0].get_text() == "Xem tiếp"
    pages = 0
    while True:
        seen += [h.get_text() for h in doc.select("ol.articles h3")]
        pages += 1
        if pages == 1:  # a newer story arrives while the reader is on page 1
            env.store.upsert_article(art(99, "qk7", "/moi-1705910640-7e21b", "Bài mới", 100))
        nxt = doc.select('a[rel="next"]')
        if not nxt:
            break
        href = nxt[0]["href"]
        assert href.startswith("http://testserver/?before=")
        doc = env.doc(urlsplit(href).path, **{k: v[0] for k, v in parse_qs(urlsplit(href).query).items()})
        assert doc.select("nav.pager a")[-1].get_text() == "Về tin mới nhất"
    assert seen == [f"Bài {n}" for n in range(9, -1, -1)]  # max_entries = 4 a page
    assert pages == 3
    assert env.titles("/")[0] == "Bài mới"


def test_cursor_keeps_the_filters_and_bad_cursors_are_400(env: Env) -> None:
    put_ten(env.store)
    doc = env.doc("/", source="qdnd", limit="2")
    href = doc.select('a[rel="next"]')[0]["href"]
    params = parse_qs(urlsplit(href).query)
    assert params["source"] == ["qdnd"] and params["limit"] == ["2"]
    for bad in ("x", "20240101T000000.000000Z_", "20241399T000000.000000Z_1", "1_2"):
        r = env.client.get("/", params={"before": bad})
        assert r.status_code == 400 and "before=" in r.text
    r = env.client.get("/", params={"before": "20240301T000000.000000Z_1"})
    assert "Không còn bài viết cũ hơn." in r.text


# -- date range, region, topic, several sources -----------------------------------------


def test_date_range_is_in_vietnam_days(env: Env) -> None:
    # 16:59 and 17:00 UTC on 1/3 are 23:59 on 1/3 and 00:00 on 2/3 in Vietnam
    env.store.upsert_article(art(1, "qk7", "/a-1705910640-7e21b", "Cuối ngày 1/3", 16 + 59 / 60))
    env.store.upsert_article(art(2, "qk7", "/b-1705910640-7e21b", "Đầu ngày 2/3", 17))
    assert env.titles("/", **{"from": "2024-03-02"}) == ["Đầu ngày 2/3"]
    assert env.titles("/", to="2024-03-01") == ["Cuối ngày 1/3"]
    assert env.titles("/", **{"from": "2024-03-01", "to": "2024-03-02"}) == ["Đầu ngày 2/3", "Cuối ngày 1/3"]
    assert env.titles("/", **{"from": "", "to": ""}) == ["Đầu ngày 2/3", "Cuối ngày 1/3"]  # empty: none
    for params, word in (({"from": "1/3/2024"}, "from="), ({"to": "2024-02-30"}, "to="),
                         ({"from": "0001-01-01"}, "from="), ({"to": "9999-12-31"}, "to="),
                         ({"to": "２０２４-03-01"}, "to="),
                         ({"from": "2024-03-02", "to": "2024-03-01"}, "after")):
        r = env.client.get("/", params=params)
        assert r.status_code == 400 and word in r.text, r.text
    doc = env.doc("/", **{"from": "2024-03-02"})
    assert doc.select("input#from")[0]["value"] == "2024-03-02"
    assert "ngày 02/03/2024" in doc.select("section p.note")[0].get_text()


def test_region_topic_and_several_sources(env: Env) -> None:
    put_ten(env.store)
    assert env.titles("/", region="Quân khu 7") == ["Bài 6", "Bài 2"]
    assert env.titles("/", region="Toàn quốc", limit="10") == ["Bài 9", "Bài 8", "Bài 5", "Bài 4", "Bài 1", "Bài 0"]
    assert env.titles("/", topic="chinh-tri") == ["Bài 9", "Bài 5", "Bài 1"]
    # Biên phòng's articles carry no section; its only listing is /kinh-te
    assert env.titles("/", topic="kinh-te-xa-hoi") == ["Bài 7", "Bài 3"]
    assert env.titles("/", topic="quoc-phong-an-ninh", region="Toàn quốc") == ["Bài 8", "Bài 4", "Bài 0"]
    r = env.client.get("/?source=qk7&source=bp")
    both = [h.get_text() for h in BeautifulSoup(r.content, "html.parser").select("ol.articles h3")]
    assert both == ["Bài 7", "Bài 6", "Bài 3", "Bài 2"]
    assert env.titles("/", source="qk7", region="Toàn quốc") == []  # ANDed: nothing left
    doc = env.doc("/?source=qk7&source=bp")
    assert sorted(i["value"] for i in doc.select('input[name="source"][checked]')) == ["bp", "qk7"]
    assert [o["value"] for o in doc.select("select#region option")] == ["", "Toàn quốc", "Quân khu 7", "Bộ đội Biên phòng"]
    for params, word in (({"region": "Mars"}, "region"), ({"topic": "x"}, "topic"),
                         ({"topic": ["chinh-tri", "kinh-te-xa-hoi"]}, "once")):
        r = env.client.get("/", params=params)
        assert r.status_code == 400 and word in r.text
    # a topic is shown on each story and links to its filter
    doc = env.doc("/", topic="chinh-tri")
    assert doc.select("a.topic")[0]["href"] == "http://testserver/?topic=chinh-tri"
    assert doc.select("a.topic")[0].get_text() == "Chính trị"
    # a topic or a date cannot be followed as a feed: no feed offered for it
    assert "Theo dõi kết quả này" not in doc.get_text()
    assert "Theo dõi kết quả này" in env.doc("/", region="Quân khu 7").get_text()
    alt = env.doc("/", region="Quân khu 7").select('head link[rel="alternate"]')[0]
    assert alt["href"] == "http://testserver/feed.atom?source=qk7"


def test_topic_table_is_data() -> None:
    ids = [t.id for t in TOPICS]
    assert len(ids) == len(set(ids))
    sections = [s for t in TOPICS for s in t.sections]
    assert len(sections) == len(set(sections)), "a section belongs to one topic"
    assert topic_of("https://www.qdnd.vn/quoc-phong-an-ninh/bien-gioi-bien-dao/x-1", None).id == "quoc-phong-an-ninh"
    assert topic_of("https://quankhu3.vn/chinh-tri-xa-hoi/x-4057", None).id == "chinh-tri"
    assert topic_of("https://baoquankhu7.vn/x-1705910640-7e21b", CONFIG.sources["qk7"]) is None
    assert topic_of("https://www.bienphong.com.vn/x-post1.html", CONFIG.sources["bp"]).id == "kinh-te-xa-hoi"
    assert topic_of("https://a.vn/chinh-tri", None) is None  # the last segment is the article


# -- thumbnails ---------------------------------------------------------------------------


def test_thumbnails_are_lazy_site_urls_and_only_http(env: Env) -> None:
    img = "https://file3.qdnd.vn/data/images/a b.jpg?w=870&q=1"
    env.store.upsert_article(art(1, "qdnd", "/chinh-tri/x/a-1", "Có ảnh", 3, image_url=img))
    env.store.upsert_article(art(2, "qdnd", "/chinh-tri/x/a-2", "Ảnh lạ", 2, image_url="javascript:alert(1)"))
    env.store.upsert_article(art(3, "qdnd", "/chinh-tri/x/a-3", "Ảnh data", 1, image_url="data:image/png;base64,AA"))
    env.store.upsert_article(art(4, "qdnd", "/chinh-tri/x/a-4", "Không ảnh", 0))
    r = env.client.get("/")
    items = BeautifulSoup(r.content, "html.parser").select("ol.articles li")
    thumbs = [li.select("img.thumb") for li in items]
    assert [len(t) for t in thumbs] == [1, 0, 0, 0]
    (first,) = thumbs[0]
    assert first["src"] == img  # the site's own URL, not proxied
    assert first["loading"] == "lazy" and first["alt"] == "" and first["referrerpolicy"] == "no-referrer"
    assert "javascript:" not in r.text and "data:image" not in r.text
    assert "img-src http: https:" in r.headers["content-security-policy"]


# -- search -------------------------------------------------------------------------------


def test_search_shows_its_count_and_marks_the_accented_words(env: Env) -> None:
    long_body = "Mở đầu bài viết. " * 40 + "Tuần tra dọc tuyến biên giới Việt - Lào <b>đêm</b>."
    env.store.upsert_article(art(1, "qdnd", "/quoc-phong-an-ninh/x/a-1", "Bảo vệ Biên Giới", 2,
                                 summary="Tin ngắn về đơn vị.", body_text=long_body))
    env.store.upsert_article(art(2, "qk7", "/a-1705910640-7e21b", "Huấn luyện", 1,
                                 body_text="Giữ vững biên giới quốc gia & an ninh."))
    env.store.upsert_article(art(3, "qk7", "/b-1705910640-7e21b", "Khác", 0, body_text="Không liên quan."))
    doc = env.doc("/", q="bien gioi")
    assert doc.select("p.count")[0].get_text() == "Tìm thấy 2 bài khớp."
    items = doc.select("ol.articles li")
    assert [m.get_text() for m in items[0].select("h3 mark")] == ["Biên", "Giới"]
    summary = items[0].select("p.summary")[0]
    # the match is deep in the body: the snippet starts near it, with the words marked
    assert summary.get_text().startswith("…") and "tuyến biên giới Việt" in summary.get_text()
    assert [m.get_text() for m in summary.select("mark")] == ["biên", "giới"]
    assert "&lt;b&gt;đêm&lt;/b&gt;" in str(summary)  # escaped, not markup
    assert [m.get_text() for m in items[1].select("p.summary mark")] == ["biên", "giới"]
    assert "&amp; an ninh" in str(items[1].select("p.summary")[0])
    nothing = env.doc("/", q="không có gì")
    assert nothing.select("p.count")[0].get_text() == "Tìm thấy 0 bài khớp."
    assert env.doc("/").select("p.count") == []  # no count without a search


# -- sources that fail --------------------------------------------------------------------


def record(store: Store, sid: str, ok: bool, message: str | None, started: datetime) -> None:
    store.record_run(sid, started=started, finished=started + timedelta(seconds=3), ok=ok,
                     new=0, updated=0, errors=0 if ok else 1, message=message)


def test_failing_sources_say_why_and_when_they_are_tried_again(env: Env) -> None:
    started = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
    secret = "fetch https://user:pa55@www.qdnd.vn/x failed: <b>connection refused</b> " + "x" * 400
    record(env.store, "qdnd", False, secret, started - timedelta(hours=1))
    record(env.store, "qdnd", False, secret, started)  # 2 failures: 20 min * 2
    record(env.store, "qk7", True, None, started)
    doc = env.doc("/")
    assert "Chưa có bài viết nào." in doc.get_text()
    assert "1 nguồn đang lỗi" in doc.get_text()
    assert doc.select('a[href="#nguon"]')
    rows = {tr.select("td")[0].select("a")[0].get_text(): tr for tr in doc.select("table tbody tr")}
    qdnd = rows["Báo QĐND"]
    why = qdnd.select("span.why")[0].get_text()
    assert why.startswith("Lỗi gần nhất: fetch https://www.qdnd.vn/x failed: <b>connection refused</b>")
    assert "pa55" not in str(doc) and "<b>connection" not in str(qdnd)  # escaped, no password
    assert len(why) <= len("Lỗi gần nhất: ") + ERROR_CHARS
    assert "Lỗi 2 lần liên tiếp" in qdnd.get_text()
    assert qdnd.select('td[data-label="Lần lấy tin tiếp theo"]')[0].get_text() == "khoảng 01/03/2024 08:40"
    qk7 = rows["Báo Quân khu 7"]
    assert qk7.select('td[data-label="Lần lấy tin tiếp theo"]')[0].get_text() == "khoảng 01/03/2024 08:30"
    assert qk7.select("span.why") == []
    assert rows["Báo Biên phòng"].select('td[data-label="Lần lấy tin tiếp theo"]')[0].get_text() == "khi dịch vụ chạy"
    # a new error message re-renders the page (it is part of the cache stamp)
    record(env.store, "qdnd", False, "HTTP 503 Service Unavailable", started + timedelta(hours=1))
    assert "HTTP 503 Service Unavailable" in env.client.get("/").text


def test_next_attempt_follows_the_scheduler_backoff() -> None:
    last = datetime(2024, 3, 1, tzinfo=UTC)
    assert next_attempt(None, 600, 3) is None
    assert next_attempt(last, 600, 0) == last + timedelta(seconds=600)
    for failures in (1, 2, 5, 30):
        assert next_attempt(last, 600, failures) == last + backoff_delay(600, failures)


def test_short_error() -> None:
    assert short_error(None) == ""
    assert short_error("  a\n\tb\x00c ") == "a bc"
    assert short_error("postgresql://u:p@h/db down") == "postgresql://h/db down"
    assert len(short_error("é" * 1000)) == ERROR_CHARS


def test_snippet_prefers_the_place_where_all_the_words_are() -> None:
    from feeds.snippet import snippet
    from storage.base import search_terms

    terms = frozenset(search_terms("bien gioi"))
    text = "Kiện toàn biên chế lực lượng. " + "Câu khác. " * 60 + "Tuần tra biên giới đêm."
    got = snippet(["", text], terms, 200)
    assert "<mark>biên</mark> <mark>giới</mark> đêm." in got
    assert got.startswith("…")
    assert snippet(["Không khớp gì."], terms, 200) == "Không khớp gì."
    assert snippet(["", "a <b> & c"], frozenset(), 200) == "a &lt;b&gt; &amp; c"
