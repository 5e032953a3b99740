"""Vietnamese publish dates -> aware UTC datetimes.

Hand-written regular expressions on purpose: general date libraries (dateutil,
dateparser) guess month-first for ``05/01/2024``, do not know the weekday and
period words (``Thứ sáu``, ``Chủ nhật``, ``11:05 tối``, ``04:00 chiều``), take
two-digit years and yearless fragments (``Chiều 05/01``) as dates, and happily
return a date from inside the article text.  The formats handled are the ones
listed in ``sites.md`` ("Date and time formats"):

    Thứ sáu, 05/01/2024 - 17:37          weekday first (weekday words are ignored)
    09:24, 20/02/2018 · 10:15 ngày 12-03-2024   time before the date
    NGÀY 12 THÁNG 03, 2024 | 10:15       the spelled-out form
    Thứ Hai, 24/12/2012, 03:04 AM (GMT+7)  AM/PM, explicit offsets
    ngày 24/12/12 11:05 tối              two-digit years, period words
    2025-10-22T19:25:52+07:00            ISO 8601 / RFC 3339
    12 giờ trước · hôm qua lúc 10:15     relative to ``now`` (``relative_dates``)

Day comes before month unless the caller says the site is month-first or the
second number cannot be a month (``12/27/2012``).  Times without a date,
yearless dates (unless ``require_year=False``), history ranges
(``22/12/1944 - 22/12/2023``), impossible dates and years outside
``MIN_YEAR``..next year are skipped.  Nothing here raises on bad input.

Settings: ``DEFAULT_TZ`` (site-local time), ``MIN_YEAR``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from scraper.normalize import relative_dates as relative
from scraper.text import clean_text

__all__ = ["DEFAULT_TZ", "MIN_YEAR", "find_publish_date", "parse_datetime", "parse_iso"]

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MIN_YEAR = 1990  # no site we follow published online before this

_PERIOD = r"sáng|trưa|chiều|tối|đêm"
# 17:37 · 17:37:05 · 17h37, optionally with AM/PM (or the vi-VN locale's SA/CH) or a
# period word after it, or a period word before it ("đêm 11:00").
_TIME = (
    rf"(?:(?P<pre>{_PERIOD})\s+(?:lúc\s+)?)?"
    r"(?<![\d:])(?P<h>\d{1,2})(?::|h(?=\d\d))(?P<m>\d{2})"
    r"(?::(?P<s>\d{2})(?:[.,]\d{1,9})?)?(?![\d:])"
    r"(?:\s*(?P<ampm>[ap]\.?m\.?(?!\w)|SA(?!\w)|CH(?!\w))"
    # a period word right after the time, unless it opens a yearless date ("10:15 Chiều 05/01")
    rf"|\s+(?P<post>{_PERIOD})(?!\w)(?!\s+(?:nay|\d{{1,2}}[/.\-]\d{{1,2}}(?![/.\-]?\d))))?"
)
# What may stand between a date and its time: "05/01/2024 - 17:37", "24/12/2012, 03:04",
# "(11/09/2012 08:22)", "15:30 | 12/03/2024", "2025-10-22T19:25".
_GAP = r"[\s,|\-–—()·•]*"
_TIME_AFTER = re.compile(rf"(?:T|{_GAP}(?:(?:vào\s+)?lúc\s+|vào\s+)?){_TIME}", re.I)
_TIME_BEFORE = re.compile(rf"{_TIME}{_GAP}(?:ngày\s+)?\Z", re.I)
# An offset after the time (or date): "(GMT+7)", "GMT+07:00", "UTC", "+07:00", "Z".
_GMT = re.compile(
    r"\s*\(?\s*(?:GMT|UTC)(?:\s*(?P<sign>[+-])\s*(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)?(?!\w)\s*\)?",
    re.I,
)
_NUM_OFFSET = re.compile(r"\s?(?P<sign>[+-])(?P<h>\d{2})(?::?(?P<m>\d{2}))?(?![\d:])")
_ZULU = re.compile(r"Z(?!\w)")

_NOT_AFTER_NUMBER = r"(?<!\d)(?<!\d[/.\-])"  # not the tail of a longer dotted/slashed number
_NOT_BEFORE_NUMBER = r"(?!\d|[/.\-]\d)"
# 05/01/2024 · 21-08-2022 · 03.03.2026 · 24/12/12 (day and month in either order)
_DMY = re.compile(
    rf"{_NOT_AFTER_NUMBER}(\d{{1,2}})([/.\-])(\d{{1,2}})\2(\d{{4}}|\d{{2}}){_NOT_BEFORE_NUMBER}"
)
# 2025-10-22 (ISO) · 2024/03/12
_YMD = re.compile(
    rf"{_NOT_AFTER_NUMBER}(\d{{4}})([/.\-])(\d{{1,2}})\2(\d{{1,2}}){_NOT_BEFORE_NUMBER}"
)
# ngày 12 tháng 3 năm 2024 · NGÀY 12 THÁNG 03, 2024 · 12 tháng 3, 2024
_SPELLED = re.compile(
    r"(?<!\w)(?:ngày\s+)?(\d{1,2})\s+tháng\s+(\d{1,2})(?:\s*,\s*|\s+năm\s+|\s+)(\d{4})(?!\d)", re.I
)
# Yearless, only with require_year=False: 05/01 · 16-1 · 19.12 (dots need two-digit fields:
# "3.5 triệu" is not a date) · ngày 12 tháng 3
_DM = re.compile(
    rf"{_NOT_AFTER_NUMBER}(?:(\d{{1,2}})([/\-])(\d{{1,2}})|(\d{{2}})\.(\d{{2}})){_NOT_BEFORE_NUMBER}"
)
_SPELLED_DM = re.compile(
    r"(?<!\w)(?:ngày\s+)?(\d{1,2})\s+tháng\s+(\d{1,2})(?!\s*(?:,|năm)?\s*\d)(?!\d)", re.I
)
# Another full date joined by a dash: a range such as "(22/12/1944 - 22/12/2023)".
_RANGE_AFTER = re.compile(r"\s*[-–—]\s*\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}(?!\d)")
_RANGE_BEFORE = re.compile(r"(?<!\d)\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\s*[-–—]\s*\Z")

# Noise on a date line that find_publish_date drops first: view counters, labels.
_DATE_LINE_NOISE = re.compile(
    r"(?<!\S)\d[\d.,]*\s*lượt\s+(?:xem|đọc|thích|chia sẻ)(?!\w)"
    r"|(?<!\w)lượt\s+(?:xem|đọc)\s*:?\s*\d[\d.,]*"
    r"|(?<!\w)(?:ngày\s+)?(?:đăng|cập\s+nhật|xuất\s+bản)(?:\s+lúc)?\s*:",
    re.I,
)

_Time = tuple[int, int, int]
_LOOKBACK = 48  # characters before a date searched for its time or a range start


def parse_datetime(
    text: str,
    *,
    tz: tzinfo = DEFAULT_TZ,
    now: datetime | None = None,
    month_first: bool = False,
    require_year: bool = True,
) -> datetime | None:
    """The first full date (and its time) in ``text`` as an aware UTC datetime, or None.

    ``tz`` is the site's local time, used unless the text names an offset.  Relative
    dates count back from ``now`` (default: the current time; naive means ``tz``-local).
    """
    s = clean_text(text)
    if not s:
        return None
    now_utc = _aware(now or datetime.now(UTC), tz).astimezone(UTC)
    ctx = _Context(s, tz, now_utc, month_first)
    candidates = ctx.full_dates()
    if not require_year:
        candidates += ctx.yearless_dates()
    for _start, _neg_end, build in sorted(candidates, key=lambda c: (c[0], c[1])):
        result = build()
        if result is not None:
            return result
    return None


def find_publish_date(
    text: str,
    *,
    tz: tzinfo = DEFAULT_TZ,
    now: datetime | None = None,
    month_first: bool = False,
    require_year: bool = True,
) -> datetime | None:
    """Like parse_datetime, for a whole date element: view counters and labels dropped first.

    A date element carries more than the date (``42702 lượt xem``, ``Cập nhật:``); the
    counters' numbers must never count as a date (``12.10 lượt xem`` is not 12 October).
    Noise rules for date elements live here, so parse_datetime stays about dates.
    """
    s = _DATE_LINE_NOISE.sub(" ", clean_text(text))
    return parse_datetime(s, tz=tz, now=now, month_first=month_first, require_year=require_year)


def parse_iso(text: str | None, *, tz: tzinfo = DEFAULT_TZ) -> datetime | None:
    """A machine-readable timestamp (JSON-LD, ``article:published_time``) as aware UTC.

    ISO 8601 / RFC 3339, with RFC 2822 as a fallback (some CMSs put feed-style dates
    in metadata).  Values without an offset are taken as ``tz``-local.
    """
    s = clean_text(text)
    if not s or len(s) > 64:
        return None
    dt: datetime | None = None
    for attempt in (s, re.sub(r"\s+(?=[+-]\d\d:?\d\d$)", "", s)):
        try:
            dt = datetime.fromisoformat(attempt)
            break
        except ValueError:
            continue
    if dt is None and not re.fullmatch(r"[\d\s:./+\-TZ]+", s):
        try:
            dt = parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError, OverflowError):
            dt = None
    if dt is None:
        return None
    try:
        dt = _aware(dt, tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return dt if _year_ok(dt.year, datetime.now(UTC)) else None


# --- internals ----------------------------------------------------------------------------


def _aware(dt: datetime, tz: tzinfo) -> datetime:
    return dt if dt.tzinfo is not None and dt.utcoffset() is not None else dt.replace(tzinfo=tz)


def _year_ok(year: int, now: datetime) -> bool:
    return MIN_YEAR <= year <= now.year + 1


def _apply_period(hour: int, period: str | None) -> int:
    """24-hour clock from a 12-hour one: AM/PM, SA/CH, sáng/trưa/chiều/tối/đêm."""
    if not period:
        return hour
    p = period.lower().replace(".", "")
    if p in ("am", "sa", "sáng"):
        return 0 if hour == 12 else hour
    if p in ("pm", "ch", "chiều", "tối"):
        return hour + 12 if hour < 12 else hour
    if p == "trưa":  # noon: 11-13 as written, "1 giờ trưa" is 13:00
        return hour + 12 if 1 <= hour <= 4 else hour
    if p == "đêm":  # night: "11 giờ đêm" is 23:00, "1 giờ đêm" is 01:00, "12 giờ đêm" midnight
        if 6 <= hour <= 11:
            return hour + 12
        return 0 if hour == 12 else hour
    return hour


def _time_of(m: re.Match[str]) -> _Time | None:
    """(hour, minute, second) from a _TIME match, or None if it is not a clock time."""
    ampm = m.group("ampm")
    if ampm and ampm.upper() in ("SA", "CH") and ampm != ampm.upper():
        ampm = None  # lower-case "sa"/"ch" is a word, not the vi-VN AM/PM marker
    hour = _apply_period(int(m.group("h")), ampm or m.group("post") or m.group("pre"))
    minute, second = int(m.group("m")), int(m.group("s") or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return hour, minute, second


def _offset(m: re.Match[str]) -> timezone | None:
    if not m.group("sign"):
        return UTC
    minutes = int(m.group("h")) * 60 + int(m.group("m") or 0)
    if minutes > 14 * 60:
        return None
    return timezone(timedelta(minutes=-minutes if m.group("sign") == "-" else minutes))


def _two_digit_year(yy: int, now: datetime) -> int:
    year = 2000 + yy
    return year if year <= now.year + 1 else 1900 + yy


class _Context:
    """One text being searched; builds lazily-evaluated candidates ``(start, -end, build)``."""

    def __init__(self, text: str, tz: tzinfo, now: datetime, month_first: bool) -> None:
        self.text = text
        self.tz = tz
        self.now = now
        self.month_first = month_first

    # candidates

    def full_dates(self) -> list[tuple[int, int, Callable[[], datetime | None]]]:
        out: list[tuple[int, int, Callable[[], datetime | None]]] = []
        for m in _DMY.finditer(self.text):
            out.append((m.start(), -m.end(), lambda m=m: self._numeric(m)))
        for m in _YMD.finditer(self.text):
            out.append((m.start(), -m.end(), lambda m=m: self._ymd(m)))
        for m in _SPELLED.finditer(self.text):
            out.append((m.start(), -m.end(), lambda m=m: self._spelled(m)))
        for m in relative.AGO.finditer(self.text):
            out.append((m.start(), -m.end(), lambda m=m: self._ago(m)))
        for m in relative.JUST_NOW.finditer(self.text):
            out.append((m.start(), -m.end(), lambda: self._checked(self.now)))
        for m in relative.DAY_WORD.finditer(self.text):
            out.append((m.start(), -m.end(), lambda m=m: self._day_word(m)))
        return out

    def yearless_dates(self) -> list[tuple[int, int, Callable[[], datetime | None]]]:
        """Day and month only, the year being the latest one not in the future.

        Offset by len(text) so that any full date wins over a yearless one.
        """
        n = len(self.text) + 1
        out: list[tuple[int, int, Callable[[], datetime | None]]] = []
        for m in _DM.finditer(self.text):
            day, month = (
                (int(m.group(1)), int(m.group(3)))
                if m.group(1)
                else (int(m.group(4)), int(m.group(5)))
            )
            out.append(
                (n + m.start(), -m.end(), lambda m=m, d=day, mo=month: self._yearless(m, d, mo))
            )
        for m in _SPELLED_DM.finditer(self.text):
            day, month = int(m.group(1)), int(m.group(2))
            out.append(
                (n + m.start(), -m.end(), lambda m=m, d=day, mo=month: self._yearless(m, d, mo))
            )
        return out

    # builders

    def _numeric(self, m: re.Match[str]) -> datetime | None:
        if self._is_range(m):
            return None
        a, b = int(m.group(1)), int(m.group(3))
        year = int(m.group(4))
        if len(m.group(4)) == 2:
            year = _two_digit_year(year, self.now)
        if self.month_first and a <= 12:
            month, day = a, b
        elif b > 12 and a <= 12:  # the second number cannot be a month: 12/27/2012
            month, day = a, b
        else:
            day, month = a, b
        return self._at(m, year, month, day)

    def _ymd(self, m: re.Match[str]) -> datetime | None:
        return self._at(m, int(m.group(1)), int(m.group(3)), int(m.group(4)))

    def _spelled(self, m: re.Match[str]) -> datetime | None:
        return self._at(m, int(m.group(3)), int(m.group(2)), int(m.group(1)))

    def _yearless(self, m: re.Match[str], day: int, month: int) -> datetime | None:
        local_today = self.now.astimezone(self.tz).date()
        year = local_today.year
        try:
            if date(year, month, day) > local_today + timedelta(days=1):
                year -= 1
        except ValueError:
            return None
        return self._at(m, year, month, day)

    def _at(self, m: re.Match[str], year: int, month: int, day: int) -> datetime | None:
        """The date matched by ``m`` with the time next to it, in the right offset."""
        if not _year_ok(year, self.now):
            return None
        try:
            date(year, month, day)
        except ValueError:
            return None
        clock, end = self._time_near(m)
        zone = self._zone_after(end, numeric_ok=clock is not None)
        h, mi, sec = clock or (0, 0, 0)
        try:
            local = datetime(year, month, day, h, mi, sec, tzinfo=zone)
        except ValueError:
            return None
        return self._checked(local.astimezone(UTC))

    def _time_near(self, m: re.Match[str]) -> tuple[_Time | None, int]:
        """The clock time right after (preferred) or right before the date, and where it ends."""
        after = _TIME_AFTER.match(self.text, m.end())
        if after:
            clock = _time_of(after)
            if clock:
                return clock, after.end()
        lo = max(0, m.start() - _LOOKBACK)
        before = _TIME_BEFORE.search(self.text[lo : m.start()])
        if before:
            clock = _time_of(before)
            if clock:
                return clock, m.end()
        return None, m.end()

    def _zone_after(self, pos: int, *, numeric_ok: bool) -> tzinfo:
        for rx in (_GMT, _NUM_OFFSET, _ZULU) if numeric_ok else (_GMT,):
            om = rx.match(self.text, pos)
            if om:
                if rx is _ZULU:
                    return UTC
                if rx is _NUM_OFFSET and om.group("sign") == "-" and not self._iso_before(pos):
                    continue  # "10:00-11:00" is a time range; only ISO strings carry "-hh:mm"
                zone = _offset(om)
                if zone is not None:
                    return zone
        return self.tz

    def _iso_before(self, pos: int) -> bool:
        return (
            re.search(
                r"\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d)?|\s?\d\d:\d\d:\d\d)(?:[.,]\d+)?\Z",
                self.text[max(0, pos - 40) : pos],
            )
            is not None
        )

    def _is_range(self, m: re.Match[str]) -> bool:
        lo = max(0, m.start() - _LOOKBACK)
        return bool(
            _RANGE_AFTER.match(self.text, m.end())
            or _RANGE_BEFORE.search(self.text[lo : m.start()])
        )

    def _ago(self, m: re.Match[str]) -> datetime | None:
        result = relative.ago(m, self.now, self.tz)
        return self._checked(result) if result is not None else None

    def _day_word(self, m: re.Match[str]) -> datetime | None:
        result = relative.day_word(m, self.now, self.tz, self._time_near(m)[0])
        return self._checked(result) if result is not None else None

    def _checked(self, dt: datetime) -> datetime | None:
        return dt if _year_ok(dt.astimezone(self.tz).year, self.now) else None

