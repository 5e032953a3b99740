"""feeds.render: Atom / RSS 2.0 / JSON Feed 1.1 output from hand-built stored articles."""

from __future__ import annotations

import html
import json
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import feedparser
import pytest
from lxml import etree

from feeds.render import (
    CONTENT_TYPES,
    EMPTY_FEED_UPDATED,
    FORMATS,
    FeedMeta,
    feed_meta,
    render,
    render_atom,
    render_json,
    render_rss,
)
from scraper.config_load import config_from_dict
from scraper.errors import ConfigError
from scraper.models import Article, StoredArticle

ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
BASE = "https://feeds.example.org/"

CONFIG = config_from_dict(
    {
        "feed": {"title": "qkfeed — Tin quân khu", "description": "Tin tổng hợp", "link": BASE},
        "sources": {
            "qdnd": {
                "name": "Báo Quân đội nhân dân",
                "start_urls": ["https://www.qdnd.vn/quoc-phong-an-ninh"],
                "region": "Toàn quốc",
            },
            "qk7": {
                "name": "Quân khu 7",
                "start_urls": ["https://quankhu7.vn/tin-tuc"],
            },
        },
    }
)
SOURCES = CONFIG.sources

NASTY_BODY = "<p>Đoạn một\x00\x07 có ]]> giữa chừng \ud800 và \x1f hết.</p>"


def _stored(
    n: int,
    *,
    source_id: str = "qdnd",
    title: str = "Tiêu đề",
    published: datetime | None = None,
    first_seen: datetime,
    updated: datetime | None = None,
    **fields: object,
) -> StoredArticle:
    article = Article(
        url=f"https://example.vn/bai-viet-{n}.html",
        source_id=source_id,
        title=title,
        published=published,
        **fields,  # type: ignore[arg-type]
    )
    return StoredArticle(
        id=n,
        guid=f"urn:qkfeed:article:{n}",
        article=article,
        first_seen=first_seen,
        updated=updated or first_seen,
    )


# Deliberately not sorted by any date: output must keep this order.
ITEMS = [
    _stored(
        3,
        title="Bộ đội Biên phòng tuần tra trên biển",
        published=datetime(2024, 5, 1, 9, 30, tzinfo=HCM),  # 02:30 UTC
        first_seen=datetime(2024, 5, 1, 3, 0, tzinfo=UTC),
        updated=datetime(2024, 5, 3, 8, 0, 0, 123456, tzinfo=UTC),
        authors=("Đại tá Nguyễn Văn Hùng", "Trung tá Lê Thị Hoa", "Hoàng Anh"),
        body_html="<p>Nội dung <strong>đầy đủ</strong>.</p>",
        body_text="Nội dung đầy đủ.",
        summary="Lực lượng biên phòng tăng cường tuần tra.",
        image_url="https://www.qdnd.vn/Uploads/anh-dai-dien.PNG?w=600",
        categories=("Quốc phòng", "Toàn quốc"),  # the region again: not repeated
    ),
    _stored(
        1,
        source_id="qk7",
        title="Huấn luyện \x0bchiến sĩ mới ]]> năm 2024\ud83f",
        published=None,  # unknown: first_seen is used
        first_seen=datetime(2024, 4, 30, 23, 15, tzinfo=UTC),
        body_html=NASTY_BODY,
        body_text="Đoạn một có ]]> giữa chừng và hết. " + "Chiến sĩ mới rèn luyện. " * 30,
        summary="",  # falls back to the start of the body
        image_url="https://quankhu7.vn/images/anh",  # no extension: image/jpeg
    ),
    _stored(
        2,
        source_id="gone",  # no longer in the config
        title="Diễn tập khu vực phòng thủ",
        published=datetime(2024, 5, 2, 1, 0, tzinfo=UTC),
        first_seen=datetime(2024, 5, 2, 1, 5, tzinfo=UTC),
        agencies=("TTXVN",),
        body_text="Chỉ có văn bản.",
        summary="Tóm tắt ngắn.",
    ),
]
GUIDS = [s.guid for s in ITEMS]
NEWEST_UPDATE = datetime(2024, 5, 3, 8, 0, 0, tzinfo=UTC)


def _meta(fmt: str, source_id: str | None = None) -> FeedMeta:
    return feed_meta(CONFIG, source_id=source_id, base_url=BASE, fmt=fmt)


def _render(fmt: str, items: list[StoredArticle] = ITEMS) -> bytes:
    return render(fmt, _meta(fmt), items, SOURCES)


def _parse(fmt: str, items: list[StoredArticle] = ITEMS) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(_render(fmt, items))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def _utc(struct: object) -> datetime:
    return datetime(*struct[:6], tzinfo=UTC)  # type: ignore[index]


def test_fixture_text_is_nfc() -> None:
    for item in ITEMS:
        assert unicodedata.is_normalized("NFC", item.article.title)


# -- meta ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_feed_meta_combined(fmt: str) -> None:
    meta = _meta(fmt)
    assert meta.id == "urn:qkfeed:feed:all"
    assert meta.title == CONFIG.feed.title
    assert meta.subtitle == CONFIG.feed.description
    assert meta.link == BASE
    assert meta.self_url == f"https://feeds.example.org/feed.{fmt}"
    assert meta.language == "vi"


@pytest.mark.parametrize("fmt", FORMATS)
def test_feed_meta_source(fmt: str) -> None:
    meta = _meta(fmt, "qk7")
    assert meta.id == "urn:qkfeed:feed:source:qk7"
    assert meta.title == "Quân khu 7 — qkfeed"
    assert meta.link == "https://quankhu7.vn/"
    assert meta.self_url == f"https://feeds.example.org/sources/qk7/feed.{fmt}"


def test_feed_meta_errors() -> None:
    with pytest.raises(ValueError, match="unknown feed format"):
        feed_meta(CONFIG, source_id=None, base_url=BASE, fmt="xml")
    with pytest.raises(ConfigError, match="no such source"):
        feed_meta(CONFIG, source_id="nope", base_url=BASE, fmt="atom")
    with pytest.raises(ValueError, match="unknown feed format"):
        render("html", _meta("atom"), ITEMS, SOURCES)


def test_content_types_and_dispatch() -> None:
    assert CONTENT_TYPES == {
        "atom": "application/atom+xml; charset=utf-8",
        "rss": "application/rss+xml; charset=utf-8",
        "json": "application/feed+json; charset=utf-8",
    }
    for fmt, fn in (("atom", render_atom), ("rss", render_rss), ("json", render_json)):
        assert render(fmt, _meta(fmt), ITEMS, SOURCES) == fn(_meta(fmt), ITEMS, SOURCES)


# -- common properties -----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_xml_parses_cleanly(fmt: str) -> None:
    body = _render(fmt)
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    etree.fromstring(body, etree.XMLParser(recover=False))  # strict parse
    parsed = _parse(fmt)
    assert parsed.version == ("atom10" if fmt == "atom" else "rss20")
    assert len(parsed.entries) == len(ITEMS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_entries_keep_input_order(fmt: str) -> None:
    assert _ids(fmt, ITEMS) == GUIDS
    assert _ids(fmt, ITEMS[::-1]) == GUIDS[::-1]


def _ids(fmt: str, items: list[StoredArticle]) -> list[str]:
    if fmt == "json":
        return [i["id"] for i in json.loads(_render(fmt, items))["items"]]
    return [e.id for e in _parse(fmt, items).entries]


@pytest.mark.parametrize("fmt", FORMATS)
def test_identical_input_gives_identical_bytes(fmt: str) -> None:
    first, second = _render(fmt), _render(fmt)
    assert first == second
    assert _ids(fmt, ITEMS) == _ids(fmt, ITEMS) == GUIDS
    # an equal but separately built meta changes nothing either
    assert render(fmt, _meta(fmt), list(ITEMS), dict(SOURCES)) == first


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_illegal_characters_reach_output(fmt: str) -> None:
    body = _render(fmt)
    text = body.decode("utf-8")  # strict: a lone surrogate could not be encoded
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", text)
    if fmt == "json":
        item = json.loads(body)["items"][1]
        content, title = item["content_html"], item["title"]
    else:
        entry = _parse(fmt).entries[1]
        content, title = entry.content[0].value, entry.title
    assert content == "<p>Đoạn một có ]]> giữa chừng  và  hết.</p>"
    assert title == "Huấn luyện chiến sĩ mới ]]> năm 2024"


def test_nfd_input_comes_out_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Quân khu 7 huấn luyện")
    item = _stored(9, title=nfd, first_seen=datetime(2024, 5, 1, tzinfo=UTC))
    for fmt in FORMATS:
        assert "Quân khu 7 huấn luyện".encode() in _render(fmt, [item])


# -- Atom ------------------------------------------------------------------------


def test_atom_feed_level() -> None:
    root = etree.fromstring(_render("atom"))
    assert root.tag == f"{ATOM}feed"
    assert root.get(XML_LANG) == "vi"
    assert root.findtext(f"{ATOM}id") == "urn:qkfeed:feed:all"
    assert root.findtext(f"{ATOM}updated") == "2024-05-03T08:00:00+00:00"
    assert root.findtext(f"{ATOM}generator") == "qkfeed"
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "qkfeed"  # covers author-less entries
    links = {link.get("rel"): link for link in root.findall(f"{ATOM}link")}
    assert links["self"].get("href") == "https://feeds.example.org/feed.atom"
    assert links["self"].get("type") == "application/atom+xml"
    assert links["alternate"].get("href") == BASE
    parsed = _parse("atom")
    assert parsed.feed.language == "vi"
    assert _utc(parsed.feed.updated_parsed) == NEWEST_UPDATE


def test_atom_entry_fields() -> None:
    root = etree.fromstring(_render("atom"))
    first = root.findall(f"{ATOM}entry")[0]
    for required in ("id", "title", "updated"):
        assert all(e.find(f"{ATOM}{required}") is not None for e in root.findall(f"{ATOM}entry"))
    assert first.find(f"{ATOM}content").get("type") == "html"
    assert first.find(f"{DC}creator") is None  # Atom uses <author>

    entry = _parse("atom").entries[0]
    assert entry.link == ITEMS[0].article.url
    assert entry.title == "Bộ đội Biên phòng tuần tra trên biển"
    assert entry.summary == "Lực lượng biên phòng tăng cường tuần tra."
    assert [a.name for a in entry.authors] == [
        "Đại tá Nguyễn Văn Hùng",
        "Trung tá Lê Thị Hoa",
        "Hoàng Anh",
    ]


def test_atom_enclosure() -> None:
    first = etree.fromstring(_render("atom")).find(f"{ATOM}entry")
    enclosure = first.find(f"{ATOM}link[@rel='enclosure']")
    assert enclosure.get("type") == "image/png"
    assert enclosure.get("href") == ITEMS[0].article.image_url
    entries = _parse("atom").entries
    assert entries[0].enclosures == [{"type": "image/png", "href": ITEMS[0].article.image_url}]
    assert entries[1].enclosures[0]["type"] == "image/jpeg"
    assert entries[2].enclosures == []
    # the enclosure is not mistaken for the alternate link
    assert [link.rel for link in entries[0].links] == ["alternate", "enclosure"]


# -- RSS -------------------------------------------------------------------------


def test_rss_channel() -> None:
    root = etree.fromstring(_render("rss"))
    channel = root.find("channel")
    assert root.get("version") == "2.0"
    assert channel.findtext("language") == "vi"
    assert channel.findtext("link") == BASE
    assert channel.findtext("generator") == "qkfeed"
    assert channel.findtext("lastBuildDate") == "Fri, 03 May 2024 08:00:00 +0000"
    self_link = channel.find(f"{ATOM}link")
    assert self_link.get("rel") == "self"
    assert self_link.get("href") == "https://feeds.example.org/feed.rss"


def test_rss_items() -> None:
    items = etree.fromstring(_render("rss")).findall("channel/item")
    guid = items[0].find("guid")
    assert guid.text == "urn:qkfeed:article:3"
    assert guid.get("isPermaLink") == "false"
    assert [c.text for c in items[0].findall(f"{DC}creator")] == [
        "Đại tá Nguyễn Văn Hùng",
        "Trung tá Lê Thị Hoa",
        "Hoàng Anh",
    ]
    assert all(item.find("author") is None for item in items)  # would need an e-mail
    assert [c.text for c in items[2].findall(f"{DC}creator")] == ["TTXVN"]  # agency fallback
    enclosure = items[0].find("enclosure")
    assert enclosure.attrib == {
        "url": ITEMS[0].article.image_url,
        "length": "0",
        "type": "image/png",
    }
    assert items[1].find("enclosure").get("type") == "image/jpeg"
    assert items[2].find("enclosure") is None
    assert items[0].findtext("pubDate") == "Wed, 01 May 2024 02:30:00 +0000"
    assert items[0].findtext("description") == "Lực lượng biên phòng tăng cường tuần tra."

    entry = _parse("rss").entries[0]
    assert entry.content[0].value == "<p>Nội dung <strong>đầy đủ</strong>.</p>"


# -- shared semantics, checked through feedparser -----------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_categories(fmt: str) -> None:
    entries = _parse(fmt).entries
    terms = [[t.term for t in e.tags] for e in entries]
    assert terms[0] == ["Báo Quân đội nhân dân", "Toàn quốc", "Quốc phòng"]
    assert terms[1] == ["Quân khu 7"]  # no region configured
    assert terms[2] == ["gone"]  # unknown source: its id
    schemes = [t.scheme for t in entries[0].tags]
    assert schemes == ["urn:qkfeed:source", "urn:qkfeed:region", "urn:qkfeed:category"]
    if fmt == "atom":
        assert [t.label for t in entries[0].tags] == terms[0]


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_dates_in_utc(fmt: str) -> None:
    entries = _parse(fmt).entries
    assert _utc(entries[0].published_parsed) == datetime(2024, 5, 1, 2, 30, tzinfo=UTC)
    assert _utc(entries[1].published_parsed) == ITEMS[1].first_seen  # unknown date
    if fmt == "atom":
        assert _utc(entries[0].updated_parsed) == NEWEST_UPDATE
        assert _utc(entries[1].updated_parsed) == ITEMS[1].updated
    body = _render(fmt).decode()
    assert "+07:00" not in body and "+0700" not in body


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_summary_falls_back_to_body_text(fmt: str) -> None:
    summary = _parse(fmt).entries[1].summary
    if fmt == "rss":  # <description> is HTML (the text escaped): feedparser returns markup
        summary = html.unescape(summary)
    assert summary.startswith("Đoạn một có ]]> giữa chừng và hết. Chiến sĩ mới")
    assert summary.endswith("…")
    assert len(summary) <= 301


# -- JSON Feed -----------------------------------------------------------------------


def test_json_feed_structure() -> None:
    doc = json.loads(_render("json"))
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == CONFIG.feed.title
    assert doc["home_page_url"] == BASE
    assert doc["feed_url"] == "https://feeds.example.org/feed.json"
    assert doc["language"] == "vi"
    assert isinstance(doc["items"], list) and len(doc["items"]) == 3
    for item in doc["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item or "content_text" in item
        assert None not in item.values()
        for key in ("date_published", "date_modified"):
            assert item[key].endswith("Z")
            datetime.fromisoformat(item[key])

    first, second, third = doc["items"]
    assert first == {
        "id": "urn:qkfeed:article:3",
        "url": ITEMS[0].article.url,
        "title": "Bộ đội Biên phòng tuần tra trên biển",
        "content_html": "<p>Nội dung <strong>đầy đủ</strong>.</p>",
        "content_text": "Nội dung đầy đủ.",
        "summary": "Lực lượng biên phòng tăng cường tuần tra.",
        "image": ITEMS[0].article.image_url,
        "date_published": "2024-05-01T02:30:00Z",
        "date_modified": "2024-05-03T08:00:00Z",
        "authors": [
            {"name": "Đại tá Nguyễn Văn Hùng"},
            {"name": "Trung tá Lê Thị Hoa"},
            {"name": "Hoàng Anh"},
        ],
        "tags": ["Báo Quân đội nhân dân", "Toàn quốc", "Quốc phòng"],
    }
    assert second["date_published"] == "2024-04-30T23:15:00Z"  # first_seen
    assert "authors" not in second and "image" in second
    assert "content_html" not in third and third["content_text"] == "Chỉ có văn bản."
    assert third["authors"] == [{"name": "TTXVN"}]


# -- empty feeds ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_empty_feed_is_valid(fmt: str) -> None:
    parsed = _parse(fmt, [])
    assert parsed.entries == []
    assert parsed.feed.title == CONFIG.feed.title
    assert _render(fmt, []) == _render(fmt, [])
    if fmt == "atom":
        assert _utc(parsed.feed.updated_parsed) == EMPTY_FEED_UPDATED


def test_empty_feed_uses_meta_updated() -> None:
    when = datetime(2024, 6, 1, 12, 0, tzinfo=HCM)
    meta = FeedMeta(
        id="urn:qkfeed:feed:all",
        title="Trống",
        subtitle="",
        link=BASE,
        self_url=BASE + "feed.atom",
        updated=when,
    )
    parsed = feedparser.parse(render_atom(meta, [], SOURCES))
    assert parsed.bozo == 0
    assert _utc(parsed.feed.updated_parsed) == when.astimezone(UTC)
    assert parsed.feed.subtitle == "Trống"  # empty subtitle falls back to the title


def test_empty_json_feed() -> None:
    doc = json.loads(_render("json", []))
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["items"] == []


def test_feed_updated_ignores_input_order() -> None:
    later = _stored(
        7,
        first_seen=datetime(2024, 5, 1, tzinfo=UTC),
        updated=NEWEST_UPDATE + timedelta(days=1),
    )
    parsed = _parse("atom", [*ITEMS, later])  # the most recently updated is last
    assert _utc(parsed.feed.updated_parsed) == NEWEST_UPDATE + timedelta(days=1)
