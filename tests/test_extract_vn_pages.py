"""Generic rules for what real Vietnamese (and other) news pages do, one small page per rule.

Each page here is written for the test: it reproduces a class of page seen in the wild (a
byline marked above the text, a photo story told in captions, a data table …), not any
real page's text.
"""

from __future__ import annotations

from scraper.config import Profile, SourceConfig
from scraper.extract.article import extract_article
from scraper.normalize.article import body_text_of, normalize
from scraper.normalize.bylines import Byline, parse_byline

URL = "https://bao.example.vn/thoi-su/bai-viet-1234.html"
PARA = (
    "Bộ Chỉ huy Quân sự tỉnh tổ chức hội nghị tổng kết công tác quân sự, quốc phòng năm 2023, "
    "triển khai nhiệm vụ năm 2024 với sự tham dự của lãnh đạo tỉnh và các đơn vị."
)
PARA2 = (
    "Năm 2023, lực lượng vũ trang tỉnh hoàn thành tốt các nhiệm vụ được giao, huấn luyện đạt chất "
    "lượng khá, bảo đảm an toàn tuyệt đối; công tác tuyển quân đạt 100% chỉ tiêu."
)
PARA3 = (
    "Dịp này, Bộ Chỉ huy Quân sự tỉnh khen thưởng các tập thể, cá nhân có thành tích xuất sắc "
    "trong thực hiện nhiệm vụ quân sự, quốc phòng địa phương năm 2023."
)
RELATED = "".join(f"<li><a href='/tin-{n}.html'>Tin khác số {n} về hoạt động của lực lượng vũ trang</a></li>" for n in range(8))


def source() -> SourceConfig:
    return SourceConfig(id="t", name="t", start_urls=("https://bao.example.vn/",), profile=Profile())


def page(main: str, *, head: str = "") -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Tiêu đề bài - Báo Ví Dụ</title>"
        f"<meta name='author' content='Báo Ví Dụ'>{head}</head><body>"
        "<header><nav><ul><li><a href='/'>Trang chủ</a></li><li><a href='/thoi-su'>Thời sự</a></li></ul></nav></header>"
        f"<div class='main'>{main}</div>"
        f"<aside class='sidebar'><ul>{RELATED}</ul></aside>"
        "<footer><p>Bản quyền thuộc Báo Ví Dụ.</p></footer></body></html>"
    )


def article(html: str):
    return normalize(extract_article(html, URL, source()), source())


# --- bylines marked above the text ------------------------------------------------------


def test_an_author_link_on_the_date_line_above_the_text_is_the_byline() -> None:
    a = article(page(
        "<h1>Tiêu đề bài viết</h1>"
        "<div class='info-top'><div><a href='' class='author green'>Nguyên Minh </a>"
        "<span class='post-time'> - 07/03/2026 08:47</span></div><div class='share'><a href='#'>In bài</a></div></div>"
        f"<div id='content'><p>{PARA}</p><p>{PARA2}</p><p>{PARA3}</p></div>"
    ))
    assert a.authors == ("Nguyên Minh",)
    assert "Nguyên Minh" not in a.body_text


def test_a_data_role_author_paragraph_is_the_byline_and_not_the_site_in_meta() -> None:
    a = article(page(
        "<h1>Tiêu đề bài viết</h1><div class='detail-author'><div class='author-info'>"
        "<p class='name' data-role='author'>Minh Chiến </p></div></div>"
        f"<div class='detail-content'><p>{PARA}</p><p>{PARA2}</p><p>{PARA3}</p></div>"
    ))
    assert a.authors == ("Minh Chiến",)


def test_the_byline_at_the_end_of_the_text_wins_over_a_marked_one() -> None:
    a = article(page(
        "<h1>Tiêu đề bài viết</h1><span itemprop='author'>Ban Biên tập</span>"
        f"<div class='detail-content'><p>{PARA}</p><p>{PARA2}</p><p>{PARA3}</p><p><strong>VĂN TOẢN</strong></p></div>"
    ))
    assert a.authors == ("Văn Toản",)


def test_an_author_box_below_the_text_is_not_the_byline() -> None:
    a = article(page(
        f"<h1>Tiêu đề bài viết</h1><div class='detail-content'><p>{PARA}</p><p>{PARA2}</p><p>{PARA3}</p></div>"
        "<div class='author-list'><a class='author' href='/tac-gia/1'>Minh Chiến</a></div>"
    ))
    assert a.authors == ()


# --- tables of data ---------------------------------------------------------------------


def test_numbers_in_a_table_of_results_stay() -> None:
    rows = "".join(
        f"<tr><td>{n}</td><td>Đơn vị số {n}</td><td>{100 - n}</td></tr>" for n in range(1, 6)
    )
    a = article(page(
        f"<h1>Kết quả hội thao</h1><div class='content'><p>{PARA}</p><p>{PARA2}</p>"
        f"<table><tr><th>Hạng</th><th>Đơn vị</th><th>Điểm</th></tr>{rows}</table><p>{PARA3}</p></div>"
    ))
    text = " ".join(body_text_of(a.body_html).split())
    assert "1 Đơn vị số 1 99" in text and "5 Đơn vị số 5 95" in text


# --- photo stories ----------------------------------------------------------------------


def test_a_photo_story_told_in_caption_cells_is_the_body() -> None:
    cells = "".join(
        f"<table class='tplCaption'><tr><td><p class='Image'><img src='/anh/{n}.jpg'></p></td></tr>"
        f"<tr><td><p class='Image'>{text}</p></td></tr></table>"
        for n, text in enumerate((PARA, PARA2, PARA3))
    )
    a = article(page(
        "<h1>Tiêu đề phóng sự ảnh</h1><div class='short_intro'>Chiều 1/5, đơn vị tổ chức lễ ra quân huấn luyện "
        "với sự tham gia của hàng trăm cán bộ, chiến sĩ.</div>"
        "<div class='relative_new'><ul><li><a href='/tin-1.html'>Một bài viết liên quan đến lễ ra quân</a></li></ul></div>"
        f"<div class='fck_detail'>{cells}<p style='text-align:right'><strong>Tâm Giao</strong><br>"
        "<em>Ảnh:</em><span> Cao Trung Hiếu</span></p></div>"
    ))
    for text in (PARA, PARA2, PARA3):
        assert text in a.body_text
    assert a.body_html.count("<figure>") == 3
    assert a.authors == ("Tâm Giao",)  # the photo credit on the next line is no author
    assert "Cao Trung Hiếu" not in a.body_text


def test_captions_do_not_outweigh_an_article_with_photos() -> None:
    a = article(page(
        f"<h1>Tiêu đề bài viết</h1><div class='content'><p>{PARA}</p><p>{PARA2}</p><p>{PARA3}</p>"
        f"<figure><img src='/a.jpg'><figcaption>{PARA2[:90]}</figcaption></figure><p>{PARA} {PARA3}</p></div>"
    ))
    assert PARA3 in a.body_text and a.title == "Tiêu đề bài viết"


# --- bylines at the end of the text -----------------------------------------------------


def _ending(ending: str) -> str:
    return page(f"<h1>Tiêu đề bài viết</h1><div class='content'><p>{PARA}</p><p>{PARA2}</p><p>{PARA3}</p>{ending}</div>")


def test_a_name_split_across_inline_tags_is_read_whole() -> None:
    a = article(_ending("<p style='text-align:right'><strong>TRẦ</strong><strong>N HOÀI</strong></p>"))
    assert a.authors == ("Trần Hoài",)
    assert "HOÀI" not in a.body_text


def test_a_byline_before_a_column_blurb() -> None:
    blurb = ("<p><em>Chuyên mục Góc nhìn được thực hiện với sự phối hợp của các chuyên gia quân sự, "
             "mỗi tuần một kỳ, đăng vào sáng thứ bảy.</em></p>")
    a = article(_ending(f"<p><strong>TRẦN HOÀI</strong></p>{blurb}"))
    assert a.authors == ("Trần Hoài",)
    assert "Chuyên mục Góc nhìn" in a.body_text  # the blurb is visible text and stays


def test_a_byline_with_a_role_suffix_before_a_promo_paragraph() -> None:
    promo = "<p>Độc giả có thể gửi ý kiến, câu hỏi về chuyên mục qua hộp thư của tòa soạn.</p>"
    a = article(_ending(f"<p><strong>Lan Anh</strong> (tổng hợp)</p>{promo}"))
    assert a.authors == ("Lan Anh",)


def test_a_plain_last_paragraph_after_a_name_line_is_not_looked_past() -> None:
    a = article(_ending(f"<p><strong>Nguyễn Văn An</strong></p><p>{PARA2} Đây là đoạn cuối của bài.</p>"))
    assert a.authors == ()
    assert "Nguyễn Văn An" in a.body_text


# --- reader comments ----------------------------------------------------------------------

COMMENTS = "".join(
    f"<tr><td><b>Bạn đọc {n}</b><br>Tôi rất đồng tình với bài viết, mong rằng các đơn vị sẽ tiếp tục phát huy, "
    f"làm tốt hơn nữa công tác huấn luyện, sẵn sàng chiến đấu, xây dựng đơn vị vững mạnh toàn diện. Xin cảm ơn tác giả.</td></tr>"
    for n in range(6)
)


def test_reader_comments_named_by_their_heading_are_not_the_body_of_a_table_page() -> None:
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Tiêu đề bài</title></head><body>"
        "<form id='form1' action='Default.aspx'><table width='100%'><tr><td width='200'><a href='/'>Trang chủ</a></td>"
        f"<td><span id='ctl00_lblTitle' class='tieude'>Tiêu đề bài viết</span><br>{PARA}<br><br>{PARA2}<br><br>{PARA3}</td></tr>"
        "<tr><td></td><td><table><tr><td><span class='bold'>Ý kiến bạn đọc</span></td></tr>"
        f"{COMMENTS}</table>"
        "<table><tr><td>Họ tên <input type='text'> Email <input type='text'></td></tr>"
        "<tr><td><textarea rows='5'></textarea> <input type='submit' value='Gửi'></td></tr></table></td></tr></table>"
        "</form></body></html>"
    )
    a = article(html)
    assert PARA in a.body_text and PARA3 in a.body_text
    assert "Bạn đọc" not in a.body_text and "đồng tình" not in a.body_text


def test_a_comments_heading_inside_the_article_container_ends_it_there() -> None:
    a = article(page(
        f"<h1>Tiêu đề bài viết</h1><div class='content'><p>{PARA}</p><p>{PARA2}</p><p>{PARA3}</p>"
        "<h3>Bình luận</h3><ul>"
        + "".join(f"<li>Bạn đọc {n}: tôi rất đồng tình với bài viết, mong các đơn vị tiếp tục phát huy, làm tốt hơn.</li>" for n in range(3))
        + "</ul></div>"
    ))
    assert PARA3 in a.body_text and "đồng tình" not in a.body_text


# --- other posts on the page ----------------------------------------------------------------


def test_teasers_with_cut_off_excerpts_are_not_the_article() -> None:
    teasers = "".join(
        f"<li><a href='/tin-{n}.html'>Tin nổi bật số {n} trong ngày</a> <span>Sáng nay, lãnh đạo tỉnh đã kiểm tra "
        f"công tác sẵn sàng chiến đấu tại các đơn vị đóng quân trên địa bàn, động viên cán bộ, chiến sĩ...</span></li>"
        for n in range(8)
    )
    a = article(page(
        f"<div class='wrap'><div class='breaking'><b>Tin nóng</b><ul>{teasers}</ul></div>"
        f"<div class='post'><h1>Tiêu đề bài viết</h1><p>{PARA}</p><p>{PARA2}</p></div></div>"
    ))
    assert PARA in a.body_text and PARA2 in a.body_text
    assert "Tin nổi bật" not in a.body_text and "động viên" not in a.body_text


def test_the_titles_own_article_element_beside_other_posts_articles() -> None:
    others = "".join(
        f"<article class='post'><h3><a href='/bai-{n}.html'>Bài khác số {n}</a></h3><p>{PARA2} {PARA3}</p></article>"
        for n in range(3)
    )
    a = article(page(
        f"<div id='primary'><article class='post'><h1>Tiêu đề bài viết</h1><p>{PARA} {PARA3}</p></article>"
        f"<section class='more'><h3>Có thể bạn thích</h3>{others}</section></div>"
    ))
    assert PARA in a.body_text and PARA2 not in a.body_text


def test_a_tweet_quoted_in_the_text_stays_despite_its_wrappers_social_class() -> None:
    tweet = ("<div class='social-media-embed'><blockquote class='twitter-tweet'><p>Lễ ra quân huấn luyện năm nay "
             "diễn ra trang nghiêm, đúng quy định của Bộ Quốc phòng.</p>— Một bạn đọc (@bandoc) "
             "<a href='https://twitter.com/bandoc/status/1'>04/01/2024</a></blockquote></div>")
    a = article(page(
        f"<h1>Tiêu đề bài viết</h1><div class='date'>Thứ năm, 04/01/2024 09:15</div>"
        f"<div class='content'><p>{PARA}</p>{tweet}<p>{PARA2}</p><p>{PARA3}</p></div>"
    ))
    assert "diễn ra trang nghiêm" in a.body_text
    assert "Một bạn đọc" in a.body_text


def test_theo_and_a_persons_full_name_credits_the_writer_not_a_source() -> None:
    assert parse_byline("Theo Hồ Hương") == Byline(("Hồ Hương",), (), None)
    assert parse_byline("Theo NGUYỄN HÀ") == Byline(("Nguyễn Hà",), (), None)
    # a paper whose name reads like a person's, an agency, a pen name without a surname: the source
    assert parse_byline("Theo Tuổi Trẻ") == Byline((), ("Tuổi Trẻ",), "Tuổi Trẻ")
    assert parse_byline("Theo Hà Nội Mới") == Byline((), ("Hà Nội Mới",), "Hà Nội Mới")
    assert parse_byline("Theo TTXVN") == Byline((), ("TTXVN",), "TTXVN")
    assert parse_byline("VĂN TOẢN - Theo TTXVN") == Byline(("Văn Toản",), ("TTXVN",), "TTXVN")


def test_a_theo_byline_in_the_metadata_names_the_writer() -> None:
    ld = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
          '"headline": "Tiêu đề bài viết", "author": {"@type": "Person", "name": "Theo Hồ Hương"}}</script>')
    a = article(page(
        f"<h1>Tiêu đề bài viết</h1><div class='detail-content'><p>{PARA}</p><p>{PARA2}</p><p>{PARA3}</p></div>"
        "<div class='content_source'><p class='author'>Theo Hồ Hương</p><p class='source'>Đại Đoàn kết</p></div>",
        head=ld,
    ))
    assert a.authors == ("Hồ Hương",)


def test_a_lone_bold_name_right_after_the_text_is_the_author() -> None:
    a = article(page(
        f"<h1>Tiêu đề bài viết</h1><div class='box'><div class='detail-content'><p>{PARA}</p><p>{PARA2}</p>"
        f"<p>{PARA3}</p></div><p style='text-align:right'><strong>Hoàng Anh</strong></p></div>"
    ))
    assert a.authors == ("Hoàng Anh",)


def test_a_heading_or_a_plain_line_after_the_text_is_no_author() -> None:
    for after in ("<h3>Hoàng Anh</h3>", "<p>Hoàng Anh</p>", "<p><strong><a href='/tac-gia/1'>Hoàng Anh</a></strong></p>"):
        a = article(page(
            f"<h1>Tiêu đề bài viết</h1><div class='box'><div class='detail-content'><p>{PARA}</p><p>{PARA2}</p>"
            f"<p>{PARA3}</p></div>{after}</div>"
        ))
        assert a.authors == (), after


def test_a_header_only_article_element_is_not_the_body() -> None:
    others = "".join(
        f"<article class='post'><h3><a href='/bai-{n}.html'>Bài khác số {n}</a></h3><p>{PARA2} {PARA3}</p></article>"
        for n in range(2)
    )
    sapo = f"{PARA3} {PARA3[:80]}"
    a = article(page(
        f"<div id='primary'><article class='head'><h1>Tiêu đề bài viết</h1><p class='sapo'>{sapo}</p></article>"
        f"<div class='detail'><p>{PARA}</p><p>{PARA} {PARA2}</p><p>{PARA3} {PARA}</p></div>{others}</div>"
    ))
    assert PARA in a.body_text


def test_a_paragraph_div_ending_in_an_ellipsis_with_a_link_inside_stays() -> None:
    trailing = ("<div>Đơn vị đã phối hợp với <a href='/dia-phuong'>chính quyền địa phương</a> giúp nhân dân khắc phục "
                "hậu quả bão lũ, sửa chữa nhà cửa, trường học, dọn dẹp đường làng, ngõ xóm...</div>")
    a = article(page(f"<h1>Tiêu đề bài viết</h1><div class='content'><div>{PARA}</div><div>{PARA2}</div>{trailing}<div>{PARA3}</div></div>"))
    assert "dọn dẹp đường làng" in a.body_text


def test_a_byline_before_a_differently_worded_promo_line_with_a_link() -> None:
    promo = "<p><em>Mời quý độc giả xem thêm các video tại kênh <a href='/video'>Truyền hình của báo</a>.</em></p>"
    a = article(_ending(f"<p><strong>QUỲNH OANH (tổng hợp)</strong></p>{promo}"))
    assert a.authors == ("Quỳnh Oanh",)
    assert "QUỲNH OANH" not in a.body_text


def test_an_agency_byline_is_kept_apart_from_people() -> None:
    a = article(_ending("<p><strong>NGỌC ANH - HỒNG SƠN (TTXVN)</strong></p>"))
    assert a.authors == ("Ngọc Anh", "Hồng Sơn")
    assert a.agencies == ("TTXVN",)


def test_a_discussion_section_of_an_article_is_text() -> None:
    a = article(page(
        f"<h1>Tiêu đề bài viết</h1><div class='content'><p>{PARA}</p><p>{PARA2}</p>"
        f"<h3>Thảo luận</h3><p>{PARA3}</p><p>{PARA} {PARA2}</p></div>"
    ))
    assert PARA3 in a.body_text


def test_the_pages_tag_list_goes_but_a_tag_link_inside_a_sentence_stays() -> None:
    tags = ("<p><strong>Từ khóa<br><a href='/tag/huan-luyen' rel='tag'>huấn luyện</a>, "
            "<a href='/tag/quan-khu' rel='tag'>quân khu</a>, <a href='/tag/dien-tap' rel='tag'>diễn tập</a></strong></p>")
    inline = ("<p>Công tác <a href='/tag/huan-luyen' rel='tag'>huấn luyện</a> được các đơn vị triển khai chặt chẽ, "
              "đúng kế hoạch, bảo đảm an toàn tuyệt đối về người và vũ khí, trang bị.</p>")
    a = article(page(f"<h1>Tiêu đề bài viết</h1><div class='content'><p>{PARA}</p>{inline}<p>{PARA2}</p><p>{PARA3}</p>{tags}</div>"))
    assert "Công tác huấn luyện được" in a.body_text
    assert "diễn tập" not in a.body_text and "Từ khóa" not in a.body_text


def test_a_hover_card_inside_a_sentence_is_not_text_and_does_not_sink_its_paragraph() -> None:
    card = ("<span class='people'><a href='/nguoi/1'>Nguyễn Văn An</a><span class='card'><span><img src='/a.jpg'>"
            + "".join(f"<a href='/bai-{n}'>Một bài viết khác rất dài về hoạt động của đồng chí số {n}</a> " for n in range(4))
            + "<a href='/nguoi/1'>XEM THÊM</a></span></span></span>")
    first = f"<p>Đại tá {card} cho biết, đơn vị đã hoàn thành tốt nhiệm vụ huấn luyện năm 2023.</p>"
    a = article(page(f"<h1>Tiêu đề bài viết</h1><div class='content'>{first}<p>{PARA}</p><p>{PARA2}</p><p>{PARA3}</p></div>"))
    assert "Đại tá Nguyễn Văn An cho biết" in " ".join(a.body_text.split())
    assert "Một bài viết khác" not in a.body_text


def test_reader_comments_named_by_an_aspnet_id_or_known_by_their_form_are_not_the_body() -> None:
    for box in (
        f"<div id='ctl00_ContentPlaceHolder1_ucYKienBanDoc'><table>{COMMENTS}</table></div>",
        f"<div class='box'><table>{COMMENTS}</table><div>Họ tên <input type='text'> <textarea></textarea></div></div>",
    ):
        html = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Tiêu đề bài</title></head><body><form id='form1'>"
            f"<table><tr><td><h1>Tiêu đề bài viết</h1><br>{PARA}<br><br>{PARA2}<br><br>{PARA3}</td></tr>"
            f"<tr><td>{box}</td></tr></table></form></body></html>"
        )
        a = article(html)
        assert PARA in a.body_text and "đồng tình" not in a.body_text, box[:40]


def test_names_on_the_line_before_an_agency_credit_are_the_authors() -> None:
    a = article(_ending("<p><strong>NGUYỄN HÀ</strong></p><p style='text-align:right'>(Theo TTXVN)</p>"))
    assert a.authors == ("Nguyễn Hà",) and a.agencies == ("TTXVN",)
    assert "NGUYỄN HÀ" not in a.body_text
    b = article(_ending("<p>(Theo TTXVN)</p>"))  # the text's last paragraph is no name
    assert b.authors == () and b.agencies == ("TTXVN",) and PARA3 in b.body_text
