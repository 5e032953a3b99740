"""scraper.normalize.dates: every date format in sites.md, the texts that are not publish dates, properties."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.normalize.dates import DEFAULT_TZ, find_publish_date, parse_datetime, parse_iso

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # fixed "now" for the absolute formats
REL_NOW = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)  # 19:00 in Hà Nội


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")


def parse(text: str, **kw: object) -> str | None:
    kw.setdefault("now", NOW)
    return iso(parse_datetime(text, **kw))  # type: ignore[arg-type]


# --- sites.md, "Date and time formats" ----------------------------------------------------

WEEKDAY_FIRST = [
    ("Thứ sáu, 05/01/2024 - 17:37", "2024-01-05T10:37:00Z"),  # the seed article (quankhu3.vn)
    ("Chủ nhật - 21/08/2022 11:26", "2022-08-21T04:26:00Z"),
    ("Thứ sáu, 02/11/2018, 09:04 (GMT+7)", "2018-11-02T02:04:00Z"),  # baoquankhu7.vn
    ("Thứ năm, 20/12/2012, 10:18 GMT+7", "2012-12-20T03:18:00Z"),
    ("Thứ Hai, 24/12/2012, 03:04 AM (GMT+7)", "2012-12-23T20:04:00Z"),
    ("Thứ Tư, 26/12/2012 17:14", "2012-12-26T10:14:00Z"),
    ("Cập nhật thứ hai, ngày 24/12/12 11:05 tối", "2012-12-24T16:05:00Z"),  # 2-digit year, PM
    ("Thứ Sáu, 22/11/2024, 16:08 (GMT+7)", "2024-11-22T09:08:00Z"),  # tapchiqptd.vn
    ("Chủ nhật, 04/06/2023 12:52 GMT+7", "2023-06-04T05:52:00Z"),  # bienphong header clock
    ("THỨ SÁU, 05/01/2024 - 17:37", "2024-01-05T10:37:00Z"),
    ("thứ sáu, 05/01/2024 - 17:37", "2024-01-05T10:37:00Z"),
    ("Thứ 6, 05/01/2024 17:37", "2024-01-05T10:37:00Z"),
    ("T6, 05/01/2024 17:37", "2024-01-05T10:37:00Z"),
    ("Thứ 7 06/01/2024 08:00", "2024-01-06T01:00:00Z"),
    ("CN, 07/01/2024 17:37", "2024-01-07T10:37:00Z"),
    ("Thứ bảy, 06/01/2024 04:00 chiều", "2024-01-06T09:00:00Z"),
]

NO_WEEKDAY = [
    ("29/10/2020 20:37", "2020-10-29T13:37:00Z"),  # qdnd.vn listings
    ("27/02/2021, 15:05", "2021-02-27T08:05:00Z"),
    ("09:24, 20/02/2018", "2018-02-20T02:24:00Z"),
    ("21/12/2012 - 08:04", "2012-12-21T01:04:00Z"),
    ("(11/09/2012 08:22)", "2012-09-11T01:22:00Z"),
    ("03.03.2026 13:32", "2026-03-03T06:32:00Z"),
    ("15:30 | 12/03/2024", "2024-03-12T08:30:00Z"),
    ("10:15 ngày 12-03-2024", "2024-03-12T03:15:00Z"),
    ("NGÀY 12 THÁNG 03, 2024 | 10:15", "2024-03-12T03:15:00Z"),
    ("ngày 12 tháng 3 năm 2024", "2024-03-11T17:00:00Z"),  # date only: local midnight
    ("12 tháng 3, 2024", "2024-03-11T17:00:00Z"),
    ("05/01/2024", "2024-01-04T17:00:00Z"),
    ("5/1/2024 7:05", "2024-01-05T00:05:00Z"),
    ("05/01/2024 17:37:09", "2024-01-05T10:37:09Z"),  # seconds
    ("05/01/2024 17h37", "2024-01-05T10:37:00Z"),
    ("lúc 17:37 ngày 05/01/2024", "2024-01-05T10:37:00Z"),
    ("05/01/2024 lúc 17:37", "2024-01-05T10:37:00Z"),
    ("2024/01/05 17:37", "2024-01-05T10:37:00Z"),
]

MONTH_FIRST = [
    # the second number is > 12, so month-first even without month_first=True
    ("12/27/2012 12:25:45 PM", False, "2012-12-27T05:25:45Z"),
    ("12/27/2012 12:25:45 PM", True, "2012-12-27T05:25:45Z"),
    ("Published on 03-08-2011 01:00 AM", True, "2011-03-07T18:00:00Z"),
    ("Published on 03-08-2011 01:00 AM", False, "2011-08-02T18:00:00Z"),  # day-first by default
    # month_first cannot make 27 a month: the date is read day-first
    ("27/12/2012 08:00", True, "2012-12-27T01:00:00Z"),
]

METADATA = [
    ("2025-10-22T19:25:52+07:00", "2025-10-22T12:25:52Z"),  # JSON-LD datePublished
    ("2025-10-22T12:25:52Z", "2025-10-22T12:25:52Z"),
    ("2025-10-22T12:25:52.123Z", "2025-10-22T12:25:52Z"),
    ("2025-10-22T05:25:52-07:00", "2025-10-22T12:25:52Z"),
    ("2025-10-22T19:25:52+0700", "2025-10-22T12:25:52Z"),
    ("2025-10-22 19:25:52", "2025-10-22T12:25:52Z"),  # no offset: site-local
    ("2025-10-22T19:25", "2025-10-22T12:25:00Z"),
    ("2025-10-22", "2025-10-21T17:00:00Z"),
    ('"datePublished": "2025-10-22T19:25:52+07:00"', "2025-10-22T12:25:52Z"),
]


@pytest.mark.parametrize(("text", "expected"), WEEKDAY_FIRST + NO_WEEKDAY + METADATA)
def test_formats(text: str, expected: str) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "month_first", "expected"), MONTH_FIRST)
def test_month_first(text: str, month_first: bool, expected: str) -> None:
    assert parse(text, month_first=month_first) == expected


@pytest.mark.parametrize(("text", "expected"), WEEKDAY_FIRST + NO_WEEKDAY)
def test_nfd_nbsp_and_spacing(text: str, expected: str) -> None:
    """Decomposed diacritics, non-breaking and doubled spaces change nothing."""
    messy = unicodedata.normalize("NFD", text).replace(" ", "\u00a0 ", 1).replace(" ", "  ")
    assert parse(f"  {messy}\n") == expected


def test_html_entities_are_decoded() -> None:
    assert parse("Th&#7913; s&aacute;u, 05/01/2024&nbsp;-&nbsp;17:37") == "2024-01-05T10:37:00Z"


# --- periods of the day -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "local"),
    [
        ("12:00 sáng", "00:00"),  # sáng is AM
        ("07:30 sáng", "07:30"),
        ("11:30 trưa", "11:30"),
        ("12:15 trưa", "12:15"),
        ("01:30 trưa", "13:30"),
        ("04:00 chiều", "16:00"),
        ("12:30 chiều", "12:30"),
        ("11:05 tối", "23:05"),
        ("07:00 tối", "19:00"),
        ("11:00 đêm", "23:00"),
        ("01:00 đêm", "01:00"),
        ("12:00 đêm", "00:00"),
        ("đêm 11:00", "23:00"),  # the period word before the time
        ("đêm 01:00", "01:00"),
        ("chiều 4:00", "16:00"),
        ("03:04 AM", "03:04"),
        ("12:25 AM", "00:25"),
        ("12:25 PM", "12:25"),
        ("03:04 PM", "15:04"),
        ("03:04 pm", "15:04"),
        ("03:04 p.m.", "15:04"),
        ("07:15 SA", "07:15"),  # vi-VN locale: SA = sáng, CH = chiều
        ("07:15 CH", "19:15"),
        ("15:04 PM", "15:04"),  # already 24-hour
    ],
)
def test_periods(clock: str, local: str) -> None:
    expected = datetime.fromisoformat(f"2024-03-12T{local}:00").replace(tzinfo=DEFAULT_TZ)
    assert parse_datetime(f"12/03/2024 {clock}", now=NOW) == expected.astimezone(UTC)


def test_period_word_before_a_yearless_date_is_not_the_time_of_day() -> None:
    """'… 10:15 Chiều 05/01 …': 'Chiều' belongs to the lead's yearless date, not to 10:15."""
    assert parse("12/03/2024 10:15 Chiều 05/01, đơn vị tổ chức") == "2024-03-12T03:15:00Z"


# --- explicit offsets ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("05/01/2024 17:37 (GMT+7)", "2024-01-05T10:37:00Z"),
        ("05/01/2024 17:37 GMT+07:00", "2024-01-05T10:37:00Z"),
        ("05/01/2024 17:37 GMT+0700", "2024-01-05T10:37:00Z"),
        ("05/01/2024 17:37 (UTC+7)", "2024-01-05T10:37:00Z"),
        ("05/01/2024 17:37 +07:00", "2024-01-05T10:37:00Z"),
        ("05/01/2024 17:37 GMT", "2024-01-05T17:37:00Z"),
        ("05/01/2024 17:37 UTC", "2024-01-05T17:37:00Z"),
        ("05/01/2024 (GMT+7)", "2024-01-04T17:00:00Z"),
        ("05/01/2024 17:37", "2024-01-05T17:37:00Z"),  # no offset: tz
        ("2025-10-22T19:25:52+07:00", "2025-10-22T12:25:52Z"),
        ("2025-10-22T12:25:52Z", "2025-10-22T12:25:52Z"),
    ],
)
def test_explicit_offset_beats_tz(text: str, expected: str) -> None:
    assert parse(text, tz=UTC) == expected


def test_site_timezone_is_used_for_local_times() -> None:
    from zoneinfo import ZoneInfo

    assert parse("05/01/2024 17:37", tz=ZoneInfo("Asia/Bangkok")) == "2024-01-05T10:37:00Z"
    assert parse("05/01/2024 17:37", tz=ZoneInfo("Europe/Paris")) == "2024-01-05T16:37:00Z"


def test_time_range_is_not_an_offset() -> None:
    assert parse("05/01/2024 10:00-11:00") == "2024-01-05T03:00:00Z"


def test_absurd_offset_is_ignored() -> None:
    assert parse("05/01/2024 17:37 GMT+19") == "2024-01-05T10:37:00Z"


# --- not publish dates --------------------------------------------------------------------

NOT_DATES = [
    "Chiều 05/01",  # yearless, from the seed article's lead
    "Chiều 05/01, Bộ Tham mưu Quân khu tổ chức Hội nghị tổng kết",
    "Sáng 16-1",
    "QĐND - Sáng 16-1, tại Hà Nội",
    "sáng 19.12",
    "Sáng nay (06/6)",
    "(QK7 Online) - Sáng 20/1, …",
    "(22/12/1944 - 22/12/2023)",  # a history range
    "kỷ niệm 79 năm (22/12/1944 - 22/12/2023)",
    "22/12/1944 – 22/12/2023",
    "31/02/2024",  # no such day
    "30/02/2024 10:00",
    "29/02/2023",
    "13/13/2024",
    "00/01/2024",
    "05/00/2024",
    "17:37",  # a time alone
    "10:15 | 42702 lượt xem",
    "05/01/1989",  # before any site existed
    "05/01/1850 17:37",
    "05/01/2099",  # the future
    "2099-01-05T10:00:00Z",
    "1900-01-01",
    "",
    "   ",
    "không có ngày",
    "Tỷ số 2-1",
    "giá 3.5 triệu đồng",
    "Nghị định số 15/2020/NĐ-CP",
    "ngày 12 tháng 3",  # yearless spelled-out
    "12/2024",  # month and year only
    "Quyết định 12/03/QĐ",
    "10:15 12/03",
    "ngày trước",  # 'in the old days', not '1 day ago'
    "192.168.10.1",
]


@pytest.mark.parametrize("text", NOT_DATES)
def test_not_publish_dates(text: str) -> None:
    assert parse(text) is None


def test_range_is_skipped_but_search_goes_on() -> None:
    text = "Kỷ niệm (22/12/1944 - 22/12/2023) · Thứ sáu, 05/01/2024 - 17:37"
    assert parse(text) == "2024-01-05T10:37:00Z"


def test_invalid_date_is_skipped_but_search_goes_on() -> None:
    assert parse("31/02/2024 hoặc 05/01/2024 17:37") == "2024-01-05T10:37:00Z"


def test_first_date_wins() -> None:
    assert parse("29/10/2020 20:37 · 30/10/2020 21:00") == "2020-10-29T13:37:00Z"
    assert parse("Chiều 05/01 ... 05/01/2024 - 17:37") == "2024-01-05T10:37:00Z"


def test_spelled_out_date_inside_text_still_parses() -> None:
    """parse_datetime reads what it is given; callers pass date lines, not body text."""
    assert parse("Ngày 2 tháng 4 năm 2015") == "2015-04-01T17:00:00Z"


def test_seed_article_date_line_not_its_lead() -> None:
    text = "Thứ sáu, 05/01/2024 - 17:37\nChiều 05/01, Bộ Tham mưu Quân khu tổ chức Hội nghị"
    assert parse(text) == "2024-01-05T10:37:00Z"


def test_two_digit_years() -> None:
    assert parse("24/12/12 11:05") == "2012-12-24T04:05:00Z"
    assert parse("24/12/95") == "1995-12-23T17:00:00Z"
    assert parse("24/12/85") is None  # 1985 < MIN_YEAR


def test_year_bounds_follow_now() -> None:
    assert parse("05/01/2027", now=NOW) == "2027-01-04T17:00:00Z"  # next year is allowed
    assert parse("05/01/2028", now=NOW) is None
    assert parse("05/01/1990", now=NOW) == "1990-01-04T17:00:00Z"


# --- yearless dates, only when asked ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Chiều 05/01", "2024-01-04T17:00:00Z"),
        ("Sáng 16-1", "2024-01-15T17:00:00Z"),
        ("sáng 19.12", "2023-12-18T17:00:00Z"),  # would be in the future: last year
        ("Sáng nay (06/6)", "2023-06-05T17:00:00Z"),
        ("ngày 12 tháng 3", "2024-03-11T17:00:00Z"),
        ("05/01 17:37", "2024-01-05T10:37:00Z"),
        ("13/03", "2024-03-12T17:00:00Z"),  # tomorrow is tolerated (time zones)
        ("Chiều 05/01 … 02/02/2024", "2024-02-01T17:00:00Z"),  # a full date still wins
        ("31/02", None),
        ("giá 3.5 triệu đồng", None),
    ],
)
def test_yearless_when_allowed(text: str, expected: str | None) -> None:
    assert parse(text, now=REL_NOW, require_year=False) == expected


# --- relative dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 giờ trước", "2024-03-12T00:00:00Z"),
        ("43 phút trước", "2024-03-12T11:17:00Z"),
        ("30 giây trước", "2024-03-12T11:59:30Z"),
        ("2 tiếng trước", "2024-03-12T10:00:00Z"),
        ("7 ngày trước", "2024-03-05T12:00:00Z"),
        ("2 tuần trước", "2024-02-27T12:00:00Z"),
        ("một tuần trước", "2024-03-05T12:00:00Z"),
        ("tuần trước", "2024-03-05T12:00:00Z"),
        ("1 tháng trước", "2024-02-12T12:00:00Z"),
        ("tháng trước", "2024-02-12T12:00:00Z"),
        ("Tháng trước", "2024-02-12T12:00:00Z"),
        ("3 tháng trước", "2023-12-12T12:00:00Z"),
        ("3 năm trước", "2021-03-12T12:00:00Z"),
        ("năm trước", "2023-03-12T12:00:00Z"),
        ("vừa xong", "2024-03-12T12:00:00Z"),
        ("Vừa xong", "2024-03-12T12:00:00Z"),
        ("hôm nay", "2024-03-12T12:00:00Z"),
        ("hôm qua", "2024-03-11T12:00:00Z"),
        ("hôm kia", "2024-03-10T12:00:00Z"),
        ("hôm qua lúc 10:15", "2024-03-11T03:15:00Z"),
        ("Hôm qua, 10:15", "2024-03-11T03:15:00Z"),
        ("10:15 hôm qua", "2024-03-11T03:15:00Z"),
        ("hôm nay lúc 08:00", "2024-03-12T01:00:00Z"),
        ("Đăng 12 giờ trước · 42702 lượt xem", "2024-03-12T00:00:00Z"),
        ("40 năm trước", None),  # before MIN_YEAR
    ],
)
def test_relative(text: str, expected: str | None) -> None:
    assert parse(text, now=REL_NOW) == expected


def test_relative_month_clamps_the_day() -> None:
    now = datetime(2024, 3, 31, 5, 0, tzinfo=UTC)  # 12:00 local
    assert parse("1 tháng trước", now=now) == "2024-02-29T05:00:00Z"


def test_relative_day_boundary_is_local() -> None:
    now = datetime(2024, 3, 11, 18, 0, tzinfo=UTC)  # already 12/03 01:00 in Hà Nội
    assert parse("hôm qua lúc 10:15", now=now) == "2024-03-11T03:15:00Z"


def test_naive_now_is_site_local() -> None:
    assert parse("vừa xong", now=datetime(2024, 3, 12, 19, 0)) == "2024-03-12T12:00:00Z"


def test_default_now_is_the_current_time() -> None:
    got = parse_datetime("5 phút trước")
    assert got is not None
    assert abs(datetime.now(UTC) - timedelta(minutes=5) - got) < timedelta(minutes=1)


# --- find_publish_date --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thứ sáu, 02/11/2018, 09:04 (GMT+7) 42702 lượt xem", "2018-11-02T02:04:00Z"),
        ("Cập nhật: 05/01/2024 17:37 | Lượt xem: 1.234", "2024-01-05T10:37:00Z"),
        ("Trang chủ › Quốc phòng › 05/01/2024 - 17:37 · Anh Thư", "2024-01-05T10:37:00Z"),
        ("Đăng lúc: 05/01/2024 17:37", "2024-01-05T10:37:00Z"),
        ("42702 lượt xem", None),
        ("Chiều 05/01", None),
    ],
)
def test_find_publish_date(text: str, expected: str | None) -> None:
    assert iso(find_publish_date(text, now=NOW)) == expected


def test_find_publish_date_ignores_counter_numbers() -> None:
    text = "Sáng 05/01 · 12.10 lượt xem"
    assert iso(parse_datetime(text, now=REL_NOW, require_year=False)) == "2024-01-04T17:00:00Z"
    assert iso(find_publish_date("12.10 lượt xem", now=REL_NOW, require_year=False)) is None
    assert (
        iso(parse_datetime("12.10 lượt xem", now=REL_NOW, require_year=False))
        == "2023-10-11T17:00:00Z"
    )


def test_find_publish_date_passes_options() -> None:
    assert (
        iso(find_publish_date("Chiều 05/01", now=REL_NOW, require_year=False))
        == "2024-01-04T17:00:00Z"
    )
    got = find_publish_date("03-08-2011 01:00 AM", now=NOW, month_first=True, tz=UTC)
    assert iso(got) == "2011-03-08T01:00:00Z"


# --- parse_iso ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-22T19:25:52+07:00", "2025-10-22T12:25:52Z"),
        ("2025-10-22T12:25:52Z", "2025-10-22T12:25:52Z"),
        ("2025-10-22T19:25:52", "2025-10-22T12:25:52Z"),  # naive: tz-local
        ("2025-10-22 19:25:52 +07:00", "2025-10-22T12:25:52Z"),
        ("2025-10-22T19:25:52.123456+07:00", "2025-10-22T12:25:52.123456Z"),
        ("20251022T192552Z", "2025-10-22T19:25:52Z"),
        ("2025-10-22", "2025-10-21T17:00:00Z"),
        ("  2025-10-22T19:25:52+07:00\n", "2025-10-22T12:25:52Z"),
        ("Fri, 05 Jan 2024 10:37:00 +0700", "2024-01-05T03:37:00Z"),  # RFC 2822
        ("Fri, 05 Jan 2024 10:37:00 GMT", "2024-01-05T10:37:00Z"),
        ("", None),
        ("junk", None),
        ("Thứ sáu, 05/01/2024 - 17:37", None),  # not machine metadata
        ("2025-13-01T00:00:00Z", None),
        ("0001-01-01T00:00:00", None),
        ("9999-12-31T23:59:59", None),
        ("1989-12-31T00:00:00Z", None),
        ("2099-01-01T00:00:00Z", None),
    ],
)
def test_parse_iso(text: str, expected: str | None) -> None:
    assert iso(parse_iso(text)) == expected


def test_parse_iso_naive_uses_tz() -> None:
    assert iso(parse_iso("2025-10-22T19:25:52", tz=UTC)) == "2025-10-22T19:25:52Z"
    assert iso(parse_iso("2025-10-22T19:25:52+07:00", tz=UTC)) == "2025-10-22T12:25:52Z"


def test_parse_iso_none() -> None:
    assert parse_iso(None) is None


# --- properties ---------------------------------------------------------------------------

_TOKENS = list("0123456789/.-:, ()|+TZ\u00a0") + [
    "Thứ sáu", "Chủ nhật", "ngày", "tháng", "năm", "GMT", "UTC", "AM", "PM", "SA", "CH",
    "sáng", "trưa", "chiều", "tối", "đêm", "lúc", "hôm qua", "trước", "giờ", "phút", "vừa xong",
]  # fmt: skip
# Date-like soup: fragments of every format glued in random order.
_DATEISH = st.lists(st.sampled_from(_TOKENS), max_size=30).map("".join)


def _is_aware_utc(dt: datetime) -> bool:
    return dt.tzinfo is not None and dt.utcoffset() == timedelta(0) and dt.tzinfo in (UTC, UTC)


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(st.text(max_size=200), _DATEISH),
    month_first=st.booleans(),
    require_year=st.booleans(),
)
def test_parse_datetime_never_raises_and_returns_aware_utc(
    text: str, month_first: bool, require_year: bool
) -> None:
    for fn in (parse_datetime, find_publish_date):
        got = fn(text, now=NOW, month_first=month_first, require_year=require_year)
        assert got is None or _is_aware_utc(got)
        assert got is None or 1990 <= got.year <= NOW.year + 1


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=80), _DATEISH))
def test_parse_iso_never_raises_and_returns_aware_utc(text: str) -> None:
    got = parse_iso(text)
    assert got is None or _is_aware_utc(got)


_WEEKDAYS = ["Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy", "Chủ nhật"]
_LAYOUTS = [
    "{wd}, {d:02d}/{mo:02d}/{y} - {h:02d}:{mi:02d}",
    "{wd} - {d:02d}/{mo:02d}/{y} {h:02d}:{mi:02d}",
    "{wd}, {d:02d}/{mo:02d}/{y}, {h:02d}:{mi:02d} (GMT+7)",
    "{d}/{mo}/{y} {h}:{mi:02d}",
    "{h:02d}:{mi:02d}, {d:02d}/{mo:02d}/{y}",
    "{d:02d}.{mo:02d}.{y} {h:02d}:{mi:02d}",
    "{h:02d}:{mi:02d} | {d:02d}/{mo:02d}/{y}",
    "{h:02d}:{mi:02d} ngày {d:02d}-{mo:02d}-{y}",
    "NGÀY {d:02d} THÁNG {mo:02d}, {y} | {h:02d}:{mi:02d}",
    "{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:00+07:00",
    "Cập nhật {wd}, ngày {d:02d}/{mo:02d}/{yy:02d} {h12:02d}:{mi:02d} {period}",
    "{wd}, {d:02d}/{mo:02d}/{y}, {h12:02d}:{mi:02d} {ampm} (GMT+7)",
]


@settings(max_examples=300, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2027, 12, 31, 23, 59)),
    layout=st.sampled_from(_LAYOUTS),
    nfd=st.booleans(),
)
def test_round_trip(when: datetime, layout: str, nfd: bool) -> None:
    """Any local time written in a sites.md layout parses back to itself."""
    h12 = when.hour % 12 or 12
    if when.hour < 12:
        ampm, period = "AM", "sáng"
    else:
        ampm, period = "PM", ("chiều" if when.hour < 18 else "tối")
    if "{period}" in layout and when.hour in (12, 0):
        period = "trưa" if when.hour == 12 else "sáng"
    if "{yy" in layout and not 2000 <= when.year <= 2027 and not 1990 <= when.year <= 1999:
        return
    text = layout.format(
        wd=_WEEKDAYS[when.weekday()],
        d=when.day,
        mo=when.month,
        y=when.year,
        yy=when.year % 100,
        h=when.hour,
        h12=h12,
        mi=when.minute,
        ampm=ampm,
        period=period,
    )
    if nfd:
        text = unicodedata.normalize("NFD", text)
    expected = when.replace(second=0, microsecond=0, tzinfo=DEFAULT_TZ).astimezone(UTC)
    assert parse_datetime(text, now=datetime(2027, 1, 1, tzinfo=UTC)) == expected, text
