"""Dates and authors on pages from anywhere: each rule of ``published.py`` and ``authors.py``
on a small page written for it."""

from __future__ import annotations

import json

from scraper.config import Profile, SourceConfig
from scraper.extract.article import extract_article
from scraper.normalize.article import normalize

URL = "https://news.example.org/2021/story-1234"
PARA = (
    "The regional council met on Tuesday to approve the new budget for schools, roads and the "
    "hospital, after a debate that lasted most of the afternoon and ended with a narrow vote."
)
PARA2 = (
    "Opposition members said the plan leaves too little for rural areas, while the mayor answered "
    "that the next budget would make up for it with a larger share for villages."
)


def page(main: str, *, head: str = "", site: str = "Example News") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Story title - {site}</title>"
        f"<meta property='og:site_name' content='{site}'>{head}</head>"
        f"<body><header><div class='clock'>Sunday, 04/06/2023 12:52</div></header>"
        f"<div class='main'>{main}</div>"
        f"<footer><p>Licence no. 35 of 11/02/2020. Copyright 2016 {site}.</p></footer></body></html>"
    )


def article(html: str, *, tz: str = "Asia/Ho_Chi_Minh", date: str | None = None):
    src = SourceConfig(id="t", name="t", start_urls=("https://news.example.org/",), timezone=tz,
                       profile=Profile(date=date))
    return normalize(extract_article(html, URL, src), src)


def ld(obj: dict) -> str:
    return f"<script type='application/ld+json'>{json.dumps(obj)}</script>"


BODY = f"<p>{PARA}</p><p>{PARA2}</p>"


# --- dates: a full timestamp of the same day beats a date-only one -----------------------------


def test_metadata_time_beats_a_date_only_line_of_the_same_day() -> None:
    meta = "<meta property='article:published_time' content='2024-01-05T17:37:00+07:00'>"
    a = article(page(f"<h1>Story title here</h1><div class='date'>05/01/2024</div>{BODY}", head=meta),
                date="div.date")  # a profile's date-only line would otherwise win
    assert a.published is not None and a.published.isoformat() == "2024-01-05T10:37:00+00:00"


def test_a_second_date_line_gives_the_time_of_a_date_only_first_line() -> None:
    a = article(page(
        f"<h1>Story title here</h1><div class='date'>Thứ sáu, 05/01/2024</div>{BODY}"
        f"<div class='meta'>Cập nhật: 05/01/2024 17:37</div>"
    ))
    assert a.published is not None and a.published.isoformat() == "2024-01-05T10:37:00+00:00"


def test_a_date_line_with_a_time_beats_date_only_metadata_of_the_same_day() -> None:
    meta = "<meta property='article:published_time' content='2024-01-05'>"
    a = article(page(f"<h1>Story title here</h1><div>05/01/2024 - 17:37</div>{BODY}", head=meta))
    assert a.published is not None and a.published.isoformat() == "2024-01-05T10:37:00+00:00"


def test_a_time_on_another_day_never_replaces_a_date_only_line() -> None:
    a = article(page(
        f"<h1>Story title here</h1><div class='date'>05/01/2024</div>{BODY}"
        f"<div class='meta'>Cập nhật: 09/01/2024 17:37</div>"
    ))
    assert a.published is not None and a.published.isoformat() == "2024-01-04T17:00:00+00:00"  # local midnight


def test_without_a_date_of_ours_htmldate_finds_one_with_its_time() -> None:
    # an English month name is no format of ours; htmldate reads the <time> element
    a = article(page(f"<h1>Story title here</h1><p><time datetime='2021-03-04T09:15:00+01:00'>"
                     f"March 4, 2021</time></p>{BODY}"), tz="Europe/Paris")
    assert a.published is not None and a.published.isoformat() == "2021-03-04T08:15:00+00:00"


def test_htmldate_lends_its_time_to_a_date_only_line_of_the_same_day_only() -> None:
    # <meta name="date"> is no name of ours; htmldate's markup search reads it
    line = f"<h1>Story title here</h1><div class='date'>05/01/2024</div>{BODY}"
    same = article(page(line, head="<meta name='date' content='2024-01-05T17:37:00+07:00'>"))
    assert same.published is not None and same.published.isoformat() == "2024-01-05T10:37:00+00:00"
    other = article(page(line, head="<meta name='date' content='2024-01-09T17:37:00+07:00'>"))
    assert other.published is not None and other.published.isoformat() == "2024-01-04T17:00:00+00:00"


def test_the_colon_spelled_published_time_meta_is_read() -> None:
    meta = "<meta property='article:published:time' content='2024-10-23T15:48:15+00:00'>"
    a = article(page(f"<h1>Story title here</h1>{BODY}", head=meta))
    assert a.published is not None and a.published.isoformat() == "2024-10-23T15:48:15+00:00"


def test_header_footer_and_a_bare_year_are_never_the_date() -> None:
    a = article(page(f"<h1>Story title here</h1><p>In the year 2023 the council met.</p>{BODY}"))
    assert a.published is None


# --- authors from metadata ------------------------------------------------------------------------


def test_json_ld_people_are_kept_whole_and_organizations_apart() -> None:
    head = ld({"@type": "NewsArticle", "headline": "Story title here", "author": [
        {"@type": "Person", "name": "Anne-Marie Slaughter"}, {"@type": "Person", "name": "Jan Michael Marchart"},
        {"@type": "Organization", "name": "Deutsche Presse-Agentur"}]})
    a = article(page(f"<h1>Story title here</h1>{BODY}", head=head))
    assert a.authors == ("Anne-Marie Slaughter", "Jan Michael Marchart")
    assert a.agencies == ("Deutsche Presse-Agentur",)


def test_json_ld_names_are_unescaped_and_lists_split() -> None:
    head = ld({"@type": "NewsArticle", "author": [{"@type": "Person", "name": "NH&#7852;T XUÂN"},
                                                  "Samya Kullab and Vasilisa Stepanenko"]})
    a = article(page(f"<h1>Story title here</h1>{BODY}", head=head))
    assert a.authors == ("NHẬT XUÂN", "Samya Kullab", "Vasilisa Stepanenko")


def test_the_site_name_as_meta_author_is_no_person_and_a_later_source_names_one() -> None:
    head = "<meta name='author' content='Example News'><meta property='article:author' content='https://facebook.com/x'>"
    byline = "<p class='by'>By <span itemprop='author'><span itemprop='name'>Dana Whitfield</span></span></p>"
    a = article(page(f"<h1>Story title here</h1>{byline}{BODY}", head=head))
    assert a.authors == ("Dana Whitfield",)
    assert "Example News" not in a.authors


def test_agencies_and_newsroom_names_in_meta_are_not_people() -> None:
    for value in ("TTXVN", "Redaktion hessenschau.de", "news.example.org"):
        a = article(page(f"<h1>Story title here</h1>{BODY}", head=f"<meta name='author' content='{value}'>"))
        assert a.authors == (), value


def test_a_byline_in_the_body_beats_the_meta_author() -> None:
    a = article(page(f"<h1>Story title here</h1>{BODY}<p>Văn Toản</p>",
                     head="<meta name='author' content='Robin Meyer'>"))
    assert a.authors == ("Văn Toản",)
