"""Conditional requests and content coding: a ``Rendered`` document -> 200 or 304.

RFC 9110 rules kept here: ``If-None-Match`` (weak comparison, ``*``) takes
precedence over ``If-Modified-Since``; an unparsable HTTP-date is ignored;
``Accept-Encoding: gzip;q=0`` refuses gzip and ``*`` allows it.  Each encoding
has its own strong ETag and ``If-None-Match`` accepts either (same content).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response

from .cache import Rendered

__all__ = ["CACHE_CONTROL", "NOSNIFF", "NO_STORE", "accepts_gzip", "conditional_response"]

CACHE_CONTROL = "public, max-age=300"
NO_STORE = "no-store"
NOSNIFF = {"X-Content-Type-Options": "nosniff"}

_ETAG = re.compile(r'(?:W/)?"([^"]*)"')


def accepts_gzip(header: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip;q=0`` refuses it, ``*`` allows it)."""
    if not header:
        return False
    gzip_q: float | None = None
    star_q: float | None = None
    for part in header.split(","):
        token, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        token = token.lower()
        if token in ("gzip", "x-gzip"):
            gzip_q = q
        elif token == "*":
            star_q = q
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


def _matching_etag(header: str, candidates: Sequence[str]) -> str | None:
    """The candidate that ``If-None-Match`` names (weak comparison), if any."""
    if header.strip() == "*":
        return candidates[0]
    named = {f'"{tag}"' for tag in _ETAG.findall(header)}
    for etag in candidates:
        if etag in named:
            return etag
    return None


def _not_modified_since(header: str, last_modified: datetime | None) -> bool:
    if last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False  # not an HTTP-date: ignored, as RFC 9110 says
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified <= since


def conditional_response(
    request: Request, doc: Rendered, *, extra_headers: Mapping[str, str] | None = None
) -> Response:
    """200 with the encoding the client accepts, or 304 when its copy is current."""
    use_gzip = doc.gzip_body is not None and accepts_gzip(request.headers.get("accept-encoding"))
    etag = doc.gzip_etag if use_gzip and doc.gzip_etag else doc.etag
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if doc.last_modified is not None:
        headers["Last-Modified"] = format_datetime(doc.last_modified, usegmt=True)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        variants = [etag] + [t for t in (doc.etag, doc.gzip_etag) if t and t != etag]
        matched = _matching_etag(if_none_match, variants)
        if matched is not None:
            return Response(status_code=304, headers={**headers, "ETag": matched})
    else:
        since = request.headers.get("if-modified-since")
        if since is not None and _not_modified_since(since, doc.last_modified):
            return Response(status_code=304, headers=headers)
    headers.update(NOSNIFF)
    headers.update(extra_headers or {})
    headers["Content-Type"] = doc.content_type
    if use_gzip and doc.gzip_body is not None:
        headers["Content-Encoding"] = "gzip"
        return Response(doc.gzip_body, headers=headers)
    return Response(doc.body, headers=headers)
