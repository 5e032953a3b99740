"""Real articles the generic extractor used to reject: each rule of ``rescue.py`` and ``thin.py`` on
a small page written for it, and the pages that must stay rejected."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from scraper.config import Profile, SourceConfig
from scraper.errors import ExtractError
from scraper.extract.article import extract_article
from scraper.models import RawArticle

URL = "https://news.example.org/2021/story-1234"
PARAS = [
    "The regional council met on Tuesday to approve the new budget for schools, roads and the "
    "hospital, after a debate that lasted most of the afternoon and ended with a narrow vote.",
    "Opposition members said the plan leaves too little for rural areas, while the mayor answered "
    "that the next budget would make up for it with a larger share for villages.",
    "The budget now goes to the province, which has a month to approve it or send it back with "
    "its remarks, as it did twice in the last five years, both times over the hospital.",
    "Teachers' unions welcomed the money for schools, but said that the new posts come too late "
    "for the coming school year, which starts in September with classes that are too full.",
]
SUMMARY = (
    "The council approved next year's budget after a long debate; the opposition says rural areas "
    "get too little, the mayor promises more for villages next year."
)
META_DATE = "<meta property='article:published_time' content='2021-03-02T09:30:00+01:00'>"


def page(main: str, *, head: str = "", title: str = "Council approves the budget") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title} - Example News</title>{head}</head>"
        "<body><header><nav><a href='/'>Home</a> <a href='/politics'>Politics</a></nav></header>"
        f"<main>{main}</main>"
        "<footer><p>Copyright Example News. All rights reserved.</p></footer></body></html>"
    )


def extract(html: str) -> RawArticle:
    src = SourceConfig(id="t", name="t", start_urls=("https://news.example.org/",), timezone="Europe/Brussels",
                       profile=Profile())
    return extract_article(html, URL, src)


def text_in(raw: RawArticle) -> int:
    """How many of PARAS the body holds."""
    return sum(p in raw.body_html.replace("&#39;", "'").replace("&#x27;", "'") for p in PARAS)


# --- rescue.py: hints that would eat the article -----------------------------------------------


def test_an_article_split_over_many_boxes_with_a_weak_hint_is_kept() -> None:
    # every paragraph carries a CSS-in-JS class that reads as "tag": each is a small hinted box
    paras = "".join(f"<p class='tag-style_z4kq style_1tcx'>{p}</p>" for p in PARAS)
    raw = extract(page(f"<article><h1>Council approves the budget</h1>{paras}</article>"))
    assert text_in(raw) == len(PARAS)


def test_an_article_in_share_wrappers_is_kept() -> None:
    parts = "".join(f"<div class='body-share-wrapper'><p>{p}</p></div>" for p in PARAS)
    raw = extract(page(f"<h1>Council approves the budget</h1><div class='story'>{parts}</div>"))
    assert text_in(raw) == len(PARAS)


def test_a_body_in_a_paywall_box_is_kept_but_a_cookie_dialog_never_counts() -> None:
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    cookie = "<div class='cookie-modal'>" + "".join(
        f"<p>We and our partners use cookies to store and access information on your device, {k}, "
        "to measure audiences, to show personalised ads and content, and to improve our services.</p>"
        for k in range(12)
    ) + "</div>"
    raw = extract(page(
        f"<h1>Council approves the budget</h1><div class='subscription-content'>{paras}</div>{cookie}"
    ))
    assert text_in(raw) == len(PARAS)
    assert "cookies" not in raw.body_html


def test_a_rescue_never_brings_back_a_footer_or_a_sidebar_widget() -> None:
    # the article's boxes are loosened, the footer's "About us" and an <aside> widget stay out
    paras = "".join(f"<p class='tag-style_z4kq'>{p}</p>" for p in PARAS)
    about = "<div class='p-footer-columns'><p>" + " ".join(PARAS).replace("council", "network") + "</p></div>"
    aside = "<aside><p>" + " ".join(PARAS).replace("council", "blog") + "</p></aside>"
    widget = "<div class='widget widget_text'><p>" + " ".join(PARAS).replace("council", "tweet") + "</p></div>"
    raw = extract(page(f"<h1>Council approves the budget</h1><div>{paras}</div>{about}{aside}{widget}"))
    assert text_in(raw) == len(PARAS)
    assert "network" not in raw.body_html and "blog" not in raw.body_html and "tweet" not in raw.body_html


def test_a_short_item_under_a_long_comment_thread_keeps_its_comments_out() -> None:
    # the zones leave the item a tenth of the page's prose: loosened, but comments stay zones
    comments = "<div class='comment-list'>" + "".join(
        f"<div class='comment-body'><p>{p} I fully agree, reader {k}.</p></div>" for k in range(6) for p in PARAS
    ) + "</div>"
    raw = extract(page(f"<article><h1>Council approves the budget</h1><p>{PARAS[0]}</p>{comments}</article>"))
    assert PARAS[0] in raw.body_html and "I fully agree" not in raw.body_html


def test_a_short_article_beside_a_long_hinted_box_keeps_its_zones() -> None:
    # the zones leave the article its own text: nothing is loosened, the sidebar stays out
    side = "<aside class='sidebar'>" + "".join(f"<p>{p} {p}</p>" for p in PARAS) + "</aside>"
    raw = extract(page(f"<article><h1>Council approves the budget</h1><p>{PARAS[0]}</p><p>{PARAS[1]}</p></article>{side}"))
    assert PARAS[0] in raw.body_html and f"{PARAS[2]} {PARAS[2]}" not in raw.body_html


# --- thin.py: the noscript copy and the page's own summary ---------------------------------------


def test_a_page_whose_text_is_only_in_noscript_takes_it_from_there() -> None:
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    raw = extract(page(f"<h1>Council approves the budget</h1><div id='app'></div><noscript><div>{paras}</div></noscript>"))
    assert text_in(raw) == len(PARAS)
    assert "noscript" in raw.fallbacks


def test_a_short_article_beside_a_big_noscript_keeps_its_own_body() -> None:
    notice = "<noscript><div>" + "".join(f"<p>Without JavaScript, section {k} of our site shows its "
                                         "headlines, weather, markets and sports results here.</p>"
                                         for k in range(6)) + "</div></noscript>"
    raw = extract(page(f"<article><h1>Council approves the budget</h1><p>{PARAS[0]}</p></article>{notice}"))
    assert PARAS[0] in raw.body_html and "Without JavaScript" not in raw.body_html
    assert "noscript" not in raw.fallbacks


def test_a_noscript_notice_is_no_body() -> None:
    html = page("<div id='app'></div><noscript>We're sorry but this site doesn't work properly without "
                "JavaScript enabled. Please enable it to continue.</noscript>", title="blog-frontend")
    with pytest.raises(ExtractError, match="no article body|body too short"):
        extract(html)


def summary_page(*, head: str, main: str = "<h1>Council approves the budget</h1><div id='root'></div>") -> str:
    return page(main, head=head + f"<meta property='og:description' content=\"{SUMMARY}\">")


def test_a_script_rendered_article_with_a_stated_date_gets_its_summary_as_body() -> None:
    raw = extract(summary_page(head=META_DATE))
    assert raw.body_html == f"<p>{SUMMARY}</p>"
    assert raw.fallbacks[-1] == "summary" and raw.title == "Council approves the budget"
    assert raw.published == datetime.fromisoformat("2021-03-02T09:30:00+01:00")


def test_a_paywalled_stub_with_a_few_words_gets_its_summary_as_body() -> None:
    raw = extract(summary_page(head=META_DATE, main="<h1>Council approves the budget</h1><p>Subscribe to read.</p>"))
    assert SUMMARY in raw.body_html and "summary" in raw.fallbacks


def test_the_json_ld_description_is_a_summary_too() -> None:
    ld = {"@type": "NewsArticle", "headline": "Council approves the budget", "datePublished": "2021-03-02T09:30:00+01:00",
          "description": SUMMARY}
    raw = extract(page("<h1>Council approves the budget</h1><div id='root'></div>",
                       head=f"<script type='application/ld+json'>{json.dumps(ld)}</script>"))
    assert SUMMARY in raw.body_html and "summary" in raw.fallbacks


def test_without_a_stated_publish_date_a_summary_is_no_article() -> None:
    # a home page or a listing: a title and a description, but no publish date of its own
    with pytest.raises(ExtractError, match="no article body|body too short"):
        extract(summary_page(head=""))


def test_a_summary_that_only_repeats_the_title_is_no_body() -> None:
    title = "Council approves the budget for schools, roads and the hospital after a long debate on Tuesday"
    html = page(f"<h1>{title}</h1><div id='root'></div>", title=title,
                head=META_DATE + f"<meta property='og:description' content='{title}'>")
    with pytest.raises(ExtractError):
        extract(html)


def test_an_error_page_with_a_description_and_a_date_is_still_an_error_page() -> None:
    html = page("<h1>404 Page not found</h1><p>Sorry.</p>", title="404 Page not found",
                head=META_DATE + f"<meta name='description' content=\"{SUMMARY}\">")
    with pytest.raises(ExtractError, match="error page"):
        extract(html)


def test_a_page_with_a_body_never_takes_the_summary() -> None:
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    raw = extract(summary_page(head=META_DATE, main=f"<article><h1>Council approves the budget</h1>{paras}</article>"))
    assert text_in(raw) == len(PARAS) and SUMMARY not in raw.body_html and "summary" not in raw.fallbacks
