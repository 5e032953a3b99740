"""Relative Vietnamese dates, counted back from ``now``: the patterns and their arithmetic.

    12 giờ trước · một tuần trước · tháng trước     ``AGO``: n units ago
    vừa xong · vừa đăng                              ``JUST_NOW``: now
    hôm nay · hôm qua lúc 10:15 · hôm kia            ``DAY_WORD``: a day back, at a time

``scraper.normalize.dates`` finds these among the absolute dates of a text and
checks the year of what they return; they live apart because their arithmetic
(months of different lengths, local midnight) has nothing to do with reading a
written date.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo

UNITS = "giây|phút|giờ|tiếng|ngày|tuần|tháng|năm"
# "12 giờ trước", "một tuần trước"; bare "tuần/tháng/năm trước" mean one of them.
AGO = re.compile(
    rf"(?<!\w)(?:(?P<n>\d{{1,4}}|một)\s*(?P<unit>{UNITS})|(?P<bare>tuần|tháng|năm))\s+trước(?!\w)",
    re.I,
)
JUST_NOW = re.compile(r"(?<!\w)vừa\s+(?:xong|mới\s+đăng|đăng)(?!\w)", re.I)
DAY_WORD = re.compile(r"(?<!\w)hôm\s+(?P<which>nay|qua|kia)(?!\w)", re.I)
DAYS_BACK = {"nay": 0, "qua": 1, "kia": 2}
UNIT_SECONDS = {"giây": 1, "phút": 60, "giờ": 3600, "tiếng": 3600, "ngày": 86400, "tuần": 604800}

Clock = tuple[int, int, int]


def ago(m: re.Match[str], now: datetime, tz: tzinfo) -> datetime | None:
    """An ``AGO`` match as aware UTC: months and years back on the calendar, the rest in seconds."""
    unit = (m.group("unit") or m.group("bare")).lower()
    raw = m.group("n")
    n = 1 if raw is None or raw.lower() == "một" else int(raw)
    local = now.astimezone(tz)
    try:
        if unit in ("tháng", "năm"):
            months = n * (12 if unit == "năm" else 1)
            y, mo = divmod(local.year * 12 + local.month - 1 - months, 12)
            mo += 1
            day = min(local.day, _days_in_month(y, mo))
            result = local.replace(year=y, month=mo, day=day)
        else:
            result = local - timedelta(seconds=n * UNIT_SECONDS[unit])
    except (ValueError, OverflowError):
        return None
    return result.astimezone(UTC)


def day_word(m: re.Match[str], now: datetime, tz: tzinfo, clock: Clock | None) -> datetime | None:
    """hôm nay / hôm qua / hôm kia as aware UTC, at ``clock`` (written next to it) or now's time."""
    back = DAYS_BACK[m.group("which").lower()]
    local = now.astimezone(tz)
    try:
        if clock is None:
            result = local - timedelta(days=back)
        else:
            day = local.date() - timedelta(days=back)
            result = datetime(day.year, day.month, day.day, *clock, tzinfo=tz)
    except (ValueError, OverflowError):
        return None
    return result.astimezone(UTC)


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day
