"""The extraction rules one by one, on small pages written for each rule."""

from __future__ import annotations

import json

import pytest

from scraper.config import Profile, SourceConfig
from scraper.errors import ExtractError
from scraper.extract.article import extract_article
from scraper.html import parse_html, rendered_text, select_all, select_one, text_of
from scraper.normalize.article import body_text_of, normalize

URL = "https://bao.example.vn/tin-tuc/bai-viet-1234"
PARA = (
    "Bộ Chỉ huy Quân sự tỉnh tổ chức hội nghị tổng kết công tác quân sự, quốc phòng năm 2023, "
    "triển khai nhiệm vụ năm 2024 với sự tham dự của lãnh đạo tỉnh và các đơn vị."
)
PARA2 = (
    "Năm 2023, lực lượng vũ trang tỉnh hoàn thành tốt các nhiệm vụ được giao, huấn luyện đạt chất "
    "lượng khá, bảo đảm an toàn tuyệt đối; công tác tuyển quân đạt 100% chỉ tiêu."
)
SIDEBAR = "".join(
    f'<li><a href="/tin-tuc/tin-khac-{n}">Tin khác số {n} về hoạt động của lực lượng vũ trang địa phương</a></li>'
    for n in range(1001, 1013)
)


def source(**profile: object) -> SourceConfig:
    return SourceConfig(id="t", name="t", start_urls=("https://bao.example.vn/",), profile=Profile(**profile))


def page(main: str, *, head: str = "", before: str = "", after: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Tiêu đề bài - Báo Ví Dụ</title>{head}</head>"
        f"<body><header class='site-header'><div class='clock'>Chủ nhật, 04/06/2023 12:52 GMT+7</div>"
        f"<nav><ul><li><a href='/'>Trang chủ</a></li><li><a href='/tin-tuc'>Tin tức</a></li></ul></nav></header>"
        f"{before}<div class='main'>{main}</div>"
        f"<aside class='sidebar'><h3>Tin mới</h3><ul>{SIDEBAR}</ul></aside>{after}"
        f"<footer><p>Giấy phép số 35/GP-BTTTT ngày 11/02/2020. Bản quyền thuộc Báo Ví Dụ.</p></footer></body></html>"
    )


def article(html: str, **profile: object):
    src = source(**profile)
    return normalize(extract_article(html, URL, src), src)


# --- title -------------------------------------------------------------------------------


def test_title_is_the_h1_not_the_title_tag_with_its_suffix() -> None:
    a = article(page(f"<h1>Tiêu đề bài viết thật</h1><p>{PARA}</p><p>{PARA2}</p>"))
    assert a.title == "Tiêu đề bài viết thật"


def test_without_an_h1_the_title_tag_loses_the_site_suffix() -> None:
    a = article(page(f"<div class='content'><p>{PARA}</p><p>{PARA2}</p></div>"))
    assert a.title == "Tiêu đề bài"


# --- date --------------------------------------------------------------------------------


def test_metadata_date_comes_first() -> None:
    meta = "<meta property='article:published_time' content='2024-01-05T17:37:00+07:00'>"
    a = article(page(f"<h1>Tiêu đề bài viết</h1><div>10/10/2020 08:00</div><p>{PARA}</p><p>{PARA2}</p>", head=meta))
    assert a.published is not None and a.published.isoformat() == "2024-01-05T10:37:00+00:00"


def test_the_header_clock_is_never_the_date() -> None:
    a = article(page(f"<h1>Tiêu đề bài viết</h1><p>{PARA}</p><p>{PARA2}</p>"))
    assert a.published is None


def test_a_yearless_date_in_the_lead_is_never_the_date() -> None:
    lead = "Chiều 05/01, Bộ Tham mưu Quân khu tổ chức hội nghị tổng kết công tác đảng, công tác chính trị năm 2023."
    a = article(page(f"<h1>Tiêu đề bài viết</h1><p>{lead}</p><p>{PARA}</p><p>{PARA2}</p>"))
    assert a.published is None


def test_the_date_line_right_under_the_title() -> None:
    a = article(page(f"<h1>Tiêu đề bài viết</h1><div class='date'>Thứ sáu, 05/01/2024 - 17:37</div><p>{PARA}</p>"))
    assert a.published is not None and a.published.isoformat() == "2024-01-05T10:37:00+00:00"
    assert "17:37" not in a.body_text


def test_a_date_line_just_before_the_title_beats_related_dates_after_it() -> None:
    related = "<ul class='box-related'>" + "".join(
        f"<li><a href='/tin-tuc/x-{n}'>Tin liên quan {n}</a> <span>17/01/2024 10:05</span></li>" for n in range(3)
    ) + "</ul>"
    a = article(page(
        f"<div class='post-head'><span>Thứ Hai, 15/01/2024, 04:20 PM (GMT+7)</span></div>"
        f"<h1>Tiêu đề bài viết</h1><p>{PARA}</p><p>{PARA2}</p>{related}"
    ))
    assert a.published is not None and a.published.isoformat() == "2024-01-15T09:20:00+00:00"


def test_a_view_counter_on_the_date_line_stays_out_of_the_body() -> None:
    a = article(page(
        f"<h1>Tiêu đề bài viết</h1><div class='info'><span>09:24, 12/03/2024</span><span>Lượt xem: 1.342</span></div>"
        f"<div class='content'><p>{PARA}</p><p>{PARA2}</p></div>"
    ))
    assert "Lượt xem" not in a.body_text and a.published is not None


# --- body --------------------------------------------------------------------------------


def test_loose_text_in_divs_becomes_paragraphs_and_inline_markup_joins_words() -> None:
    a = article(page(
        f"<h1>Tiêu đề bài viết</h1><div class='content'><div>{PARA}</div><div>{PARA2}</div>"
        "<div>Câu cuối về <b>H</b>à Nội, thủ đô.<br>Dòng sau.</div></div>"
    ))
    assert a.body_text.split("\n\n")[:2] == [PARA, PARA2]
    assert "Câu cuối về Hà Nội, thủ đô.\nDòng sau." in a.body_text


def test_menus_sidebars_and_related_boxes_stay_out_of_a_generic_body() -> None:
    related = "<div class='tin-lien-quan'><h3>Tin liên quan</h3><ul>" + SIDEBAR + "</ul></div>"
    a = article(page(f"<h1>Tiêu đề bài viết</h1><div class='detail'><p>{PARA}</p><p>{PARA2}</p>{related}</div>"))
    assert PARA in a.body_text and PARA2 in a.body_text
    for junk in ("Trang chủ", "Tin khác số", "Tin liên quan", "Giấy phép", "12:52"):
        assert junk not in a.body_text


def test_a_comment_section_longer_than_the_article_is_not_the_article() -> None:
    comments = "<div id='comments' class='comment-list'>" + "".join(
        f"<div class='comment'><p>Bạn đọc {n}: Tôi rất đồng tình với bài viết, mong các đơn vị tiếp tục phát huy, "
        f"giữ vững truyền thống, xây dựng lực lượng vững mạnh, chính quy, tinh nhuệ.</p></div>" for n in range(8)
    ) + "</div>"
    a = article(page(f"<h1>Tiêu đề bài viết</h1><article><p>{PARA}</p><p>{PARA2}</p></article>{comments}"))
    assert PARA in a.body_text and "Bạn đọc" not in a.body_text


def test_a_hint_on_a_wrapper_does_not_hide_the_article() -> None:
    html = page(f"<div class='page-ad-margins has-sidebar'><h1>Tiêu đề bài viết</h1><p>{PARA}</p><p>{PARA2}</p></div>")
    a = article(html)
    assert PARA in a.body_text and PARA2 in a.body_text


def test_captions_are_figcaptions_kept_in_the_body_text_but_not_in_an_article_body() -> None:
    fig = "<div class='image-caption'>Lễ ra quân huấn luyện năm 2024.</div>"
    a = article(page(f"<h1>Tiêu đề bài viết</h1><div class='content'><p>{PARA}</p><img src='/a.jpg'>{fig}<p>{PARA2}</p></div>"))
    assert "<figcaption>Lễ ra quân huấn luyện năm 2024.</figcaption>" in a.body_html
    assert "Lễ ra quân" in a.body_text
    assert "Lễ ra quân" not in body_text_of(a.body_html, captions=False)


def test_json_ld_article_body_stands_in_for_a_page_rendered_by_javascript() -> None:
    ld = {"@type": "NewsArticle", "headline": "Tiêu đề bài viết", "articleBody": f"{PARA}\n{PARA2}"}
    head = f"<script type='application/ld+json'>{json.dumps(ld, ensure_ascii=False)}</script>"
    a = article(page("<h1>Tiêu đề bài viết</h1><div id='app'></div>", head=head))
    assert a.body_text == f"{PARA}\n\n{PARA2}"


def test_an_empty_page_is_an_extract_error() -> None:
    with pytest.raises(ExtractError):
        article(page("<h1>Tiêu đề bài viết</h1>"))


# --- bylines -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ending", "authors"),
    [
        (f"<p>{PARA2}/.<br><strong>Ngọc Trâm</strong></p>", ("Ngọc Trâm",)),
        (f"<p>{PARA2}</p><p>./.</p><p><strong>HỒNG QUÂN</strong></p>", ("Hồng Quân",)),
        (f"<p>{PARA2}</p><p><strong>Đại tá, TS. PHẠM VĂN THẮNG</strong><br><em>Học viện Chính trị</em></p>", ("Phạm Văn Thắng",)),
        (f"<p>{PARA2}</p><p><strong>Tin, ảnh: VĂN TOẢN</strong></p><p><em>* Mời bạn đọc vào chuyên mục xem các tin, bài liên quan.</em></p>", ("Văn Toản",)),
        (f"<p>{PARA2}</p><p>Anh Thư</p>", ("Anh Thư",)),
    ],
    ids=["br-after-end-mark", "lone-end-mark", "name-br-office", "promo-after", "bare-name"],
)
def test_the_byline_at_the_end_of_the_body(ending: str, authors: tuple[str, ...]) -> None:
    a = article(page(f"<h1>Tiêu đề bài viết</h1><div class='content'><p>{PARA}</p>{ending}</div>"))
    assert a.authors == authors
    assert PARA2.rstrip(".") in a.body_text
    for name in authors:
        assert name.upper() not in a.body_text.upper()
    assert "./." not in a.body_text and "Mời bạn đọc" not in a.body_text


def test_a_sentence_at_the_end_is_not_a_byline() -> None:
    a = article(page(f"<h1>Tiêu đề bài viết</h1><div class='content'><p>{PARA}</p><p>{PARA2}</p></div>"))
    assert a.authors == () and PARA2 in a.body_text


# --- profiles ----------------------------------------------------------------------------


def test_a_profile_selector_that_matches_nothing_is_recorded_and_the_generic_rule_fills_in() -> None:
    html = page(f"<h1 class='tieu-de'>Tiêu đề bài viết</h1><div class='noi-dung'><p>{PARA}</p><p>{PARA2}</p></div>")
    raw = extract_article(html, URL, source(title="h1.title", body="div.content", date="div.ngay"))
    assert raw.failed_selectors == {"title": "h1.title", "body": "div.content", "date": "div.ngay"}
    assert raw.title == "Tiêu đề bài viết" and PARA in (raw.body_html or "")


def test_an_invalid_selector_is_a_miss_not_a_crash() -> None:
    """Config loading refuses it (naming the key); a profile made without that check still
    never crashes the extractor."""
    html = page(f"<h1>Tiêu đề bài viết</h1><div class='content'><p>{PARA}</p><p>{PARA2}</p></div>")
    with pytest.raises(ValueError, match="invalid CSS selector"):
        Profile(body="div[[[")
    unchecked = SourceConfig(id="t", name="t", start_urls=("https://bao.example.vn/",),
                             profile=Profile.model_construct(body="div[[[", title="h1"))
    raw = extract_article(html, URL, unchecked)
    assert raw.failed_selectors == {"body": "div[[["}
    assert select_one(parse_html(html), "p:::x") is None and select_all(parse_html(html), "") == []


def test_profile_removals_and_noise_boxes_leave_the_body() -> None:
    html = page(
        f"<h1>Tiêu đề bài viết</h1><div class='content'><p>{PARA}</p><div class='ads'>Quảng cáo</div>"
        f"<div class='box-tags'><a href='/tag/a'>Tag A</a> <a href='/tag/b'>Tag B</a> <a href='/tag/c'>Tag C</a></div>"
        f"<p class='note'>Ghi chú biên tập.</p><p>{PARA2}</p></div>"
    )
    a = article(html, body="div.content", title="h1", remove=["p.note"])
    assert "Quảng cáo" not in a.body_text and "Tag A" not in a.body_text and "Ghi chú" not in a.body_text
    assert PARA in a.body_text and PARA2 in a.body_text


# --- html helpers ------------------------------------------------------------------------


def test_text_of_keeps_glued_words_apart_and_rendered_text_keeps_words_whole() -> None:
    root = parse_html("<div><h1><span>Đồn</span><span>Biên</span><span>phòng</span></h1><p>Hà <b>N</b>ội</p><p>x</p></div>")
    assert text_of(root.find(".//h1")) == "Đồn Biên phòng"
    assert rendered_text(root.find(".//div")) == "ĐồnBiênphòng\n\nHà Nội\n\nx"


def test_hostile_bytes_parse() -> None:
    root = parse_html("<p>a\x00b&#1;c\ud800</p>")
    assert text_of(root.find(".//p")) in ("abc", "ab c", "a b c", "ab\ufffdc", "abc\ufffd")
    assert parse_html("").find("body") is not None
    assert parse_html('<?xml version="1.0" encoding="utf-8"?><html><body><p>x</p></body></html>').find(".//p") is not None
