"""``/healthz``'s document: per-source run state -> (HTTP status, JSON document).

Unhealthy (503) when every enabled source that has run failed its last run.
A source that never ran, or a degraded one, does not make the service
unhealthy; either (or a failing source) makes the status "degraded".

A source with ``feed_urls`` whose last run found a feed broken (and read its HTML
listing instead) is "degraded", with ``feed_problem`` saying why; ``listing`` says
what the source is listed by ("feed", "html", "feed+html").  ``confidence`` is the
config's word on how much of the source's profile rests on real pages, and
``generic_fields`` the article fields its profile has no selector for (the generic
extractor reads them on every page; all of them for a source known by its domain only).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from scraper.config import Config, SourceConfig
from scraper.models import SourceHealth

__all__ = ["generic_fields", "health_report", "iso", "listing_kind"]

PROFILE_FIELDS = ("title", "date", "author", "body", "lead")  # article fields a profile may select


def health_report(config: Config, health: Sequence[SourceHealth]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON document) of ``/healthz``."""
    by_id = {h.source_id: h for h in health}
    sources: dict[str, Any] = {}
    ran: list[SourceHealth] = []
    warnings = False
    for source in config.sources.values():
        h = by_id.get(source.id) or _never_run(source.id)
        if not source.enabled:
            state = "disabled"
        elif h.last_run is None:
            state = "never_run"
        elif h.consecutive_failures:
            state = "failing"
        elif h.warning:
            state = "degraded"
        else:
            state = "ok"
        if source.enabled and h.last_run is not None:
            ran.append(h)
            warnings = warnings or state != "ok"
        sources[source.id] = {
            "name": source.name,
            "enabled": source.enabled,
            "status": state,
            "last_run": iso(h.last_run),
            "last_success": iso(h.last_success),
            "consecutive_failures": h.consecutive_failures,
            "articles": h.articles,
            "articles_last_day": h.articles_last_day,
            "degraded": h.degraded,
            "feed_problem": h.feed_problem,
            "listing": listing_kind(source),
            "confidence": source.confidence,
            "generic_fields": generic_fields(source),
            "last_error": h.last_error,
        }
    if ran and all(h.consecutive_failures for h in ran):
        status, code = "unhealthy", 503
    elif warnings:
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return code, {"status": status, "sources": sources}


def listing_kind(source: SourceConfig) -> str:
    """What lists a source's articles: "feed", "html", or "feed+html" (feeds, HTML as fallback)."""
    if source.feed_urls:
        return "feed+html" if source.start_urls else "feed"
    return "html"


def generic_fields(source: SourceConfig) -> list[str]:
    """The article fields ``source``'s profile has no selector for."""
    return [f for f in PROFILE_FIELDS if not getattr(source.profile, f)]


def _never_run(source_id: str) -> SourceHealth:
    return SourceHealth(
        source_id=source_id,
        last_run=None,
        last_success=None,
        articles=0,
        errors=0,
        consecutive_failures=0,
        last_error=None,
        degraded=None,
    )


def iso(dt: datetime | None) -> str | None:
    """``dt`` in UTC as ISO 8601 with a ``Z``, whole seconds (None stays None)."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
