"""Times on the page: Vietnam time, ``05/01/2024 17:37``."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = ["NO_TIME", "TIME_FORMAT", "VN_TIMEZONE", "format_vn_time", "iso"]

VN_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TIME_FORMAT = "%d/%m/%Y %H:%M"
NO_TIME = "—"


def format_vn_time(dt: datetime | None) -> str:
    """``dt`` in Vietnam time as ``05/01/2024 17:37``; a naive datetime is taken as UTC."""
    if dt is None:
        return NO_TIME
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(VN_TIMEZONE).strftime(TIME_FORMAT)


def iso(dt: datetime) -> str:
    """``2024-01-05T10:37:00Z``: a ``<time datetime>`` value."""
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
