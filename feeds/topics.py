"""Topics of the page's filter, as data: a topic is a set of URL path sections.

Vietnamese news sites file an article under its section's slug
(``/quoc-phong-an-ninh/bien-gioi-bien-dao/...``), so an article's topic is
read from its canonical URL: the first path segment listed in ``TOPICS``.  A
source whose article URLs carry no section (``/slug-post463120.html``) takes
the topic of its listing pages when every ``start_urls`` entry is in one
topic (``[sources.bienphong] start_urls = [".../kinh-te"]``: every article of
it is "Kinh tế - xã hội").  Adding a topic or a section slug is a line here.

Generic sections (``tin-tuc``, ``tin-tuc-su-kien``: "news") are no topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from scraper.config import SourceConfig

__all__ = ["TOPICS", "Topic", "sources_in", "topic_by_id", "topic_of", "whole_source_topic"]


@dataclass(frozen=True)
class Topic:
    """One entry of the topic filter: ``?topic=ID`` selects articles in any of ``sections``."""

    id: str
    label: str
    sections: tuple[str, ...]


TOPICS: tuple[Topic, ...] = (
    Topic("chinh-tri", "Chính trị", ("chinh-tri", "chinh-tri-xa-hoi", "xay-dung-dang")),
    Topic(
        "quoc-phong-an-ninh",
        "Quốc phòng - an ninh",
        (
            "quoc-phong-an-ninh",
            "quoc-phong",
            "an-ninh",
            "bien-gioi-bien-dao",
            "xay-dung-quan-doi",
            "doi-ngoai-quoc-phong",
            "huan-luyen",
        ),
    ),
    Topic("kinh-te-xa-hoi", "Kinh tế - xã hội", ("kinh-te", "xa-hoi", "kinh-te-xa-hoi")),
    Topic(
        "quan-su-the-gioi",
        "Quân sự thế giới",
        ("quan-su-the-gioi", "khong-quan-the-gioi", "quoc-te", "the-gioi"),
    ),
    Topic("van-hoa-the-thao", "Văn hóa - thể thao", ("van-hoa", "the-thao", "van-hoa-the-thao")),
)

_BY_SECTION = {section: topic for topic in TOPICS for section in topic.sections}
_BY_ID = {topic.id: topic for topic in TOPICS}


def topic_by_id(topic_id: str) -> Topic | None:
    return _BY_ID.get(topic_id)


def _segments(url: str) -> list[str]:
    try:
        path = urlsplit(url).path
    except ValueError:
        return []
    return [seg.lower() for seg in path.split("/")[1:-1] if seg]  # the last one is the article


def _url_topic(url: str) -> Topic | None:
    for seg in _segments(url):
        topic = _BY_SECTION.get(seg)
        if topic is not None:
            return topic
    return None


def whole_source_topic(source: SourceConfig) -> Topic | None:
    """The topic of every article of ``source``, when all its listing pages are in one."""
    found = set()
    for url in source.start_urls:
        try:
            path = urlsplit(url).path
        except ValueError:
            return None
        topic = next((_BY_SECTION[s] for s in path.lower().split("/") if s in _BY_SECTION), None)
        if topic is None:
            return None
        found.add(topic)
    return found.pop() if len(found) == 1 else None


def topic_of(url: str, source: SourceConfig | None) -> Topic | None:
    """An article's topic: from its URL's sections, else its source's (``whole_source_topic``)."""
    topic = _url_topic(url)
    if topic is None and source is not None:
        topic = whole_source_topic(source)
    return topic


def sources_in(topic: Topic, sources: Iterable[SourceConfig]) -> tuple[str, ...]:
    """The ids of the sources whose every article is in ``topic``."""
    return tuple(s.id for s in sources if whole_source_topic(s) == topic)
