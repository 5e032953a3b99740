"""The WARC/1.1 export, written with warcio: replayable pages plus what qkfeed made of them.

Per article, in the archive's id order:

- a ``response`` record of its stored page: ``WARC-Target-URI`` is the URL as
  fetched, ``WARC-Date`` when the page was stored, the payload the raw bytes
  as fetched.  qkfeed keeps neither the HTTP status nor the response headers
  of a page (only pages of successful fetches are stored), so the HTTP head is
  written as what is known — ``200 OK``, ``Content-Type: text/html``, the
  ``Content-Length`` — and every such record says so in a
  ``Qkfeed-HTTP-Head: reconstructed`` field (the warcinfo record too);
- a ``metadata`` record (``application/json``) of the extracted article
  (``scraper.export.records``), linked to the response by
  ``WARC-Refers-To`` and ``WARC-Concurrent-To`` (same capture).  An article
  whose page is not stored gets the metadata record alone.

Each record is its own gzip member (``warcio index`` can seek to any of
them).  Record ids are UUIDv5 of the URL and fetch time, so exporting the same
archive twice gives the same ids.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from scraper.logs import event, get_logger
from storage._export import ArchivedArticle

from .records import article_record

__all__ = ["RECONSTRUCTED", "WarcCounts", "write_warc"]

log = get_logger("export")

RECONSTRUCTED = "Qkfeed-HTTP-Head"
HEAD_NOTE = (
    "qkfeed stores a page's body and fetch time, not its HTTP status or headers; each response "
    "record's HTTP head is reconstructed (200 OK, Content-Type text/html, Content-Length) and "
    f"marked '{RECONSTRUCTED}: reconstructed'"
)


class WarcCounts:
    """What ``write_warc`` wrote."""

    def __init__(self) -> None:
        self.articles = self.responses = self.metadata = self.corrupt_pages = 0


def warc_date(when: datetime) -> str:
    """WARC/1.1 date with microseconds (WARC 1.1 §5.4 allows fractions of a second)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record_id(kind: str, url: str, when: datetime | None) -> str:
    stamp = when.isoformat() if when is not None else ""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'qkfeed:{kind}:{url}:{stamp}')}>"


def _software() -> str:
    names = []
    for dist in ("qkfeed", "warcio"):
        try:
            names.append(f"{dist}/{version(dist)}")
        except PackageNotFoundError:
            names.append(dist)
    return " ".join(names)


def write_warc(
    out: BinaryIO,
    items: Iterable[ArchivedArticle],
    *,
    filename: str | None = None,
    on_item: Callable[[], None] = lambda: None,
) -> WarcCounts:
    """A warcinfo record, then the records of every item (see the module docstring)."""
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    writer.write_record(writer.create_warcinfo_record(filename or "", {
        "software": _software(),
        "format": "WARC File Format 1.1",
        "description": "qkfeed archive export: a response record per stored page, "
                       "a metadata record per article (application/json)",
        "http-headers": HEAD_NOTE,
    }))
    counts = WarcCounts()
    for item in items:
        _write_item(writer, item, counts)
        counts.articles += 1
        on_item()
    return counts


def _write_item(writer: WARCWriter, item: ArchivedArticle, counts: WarcCounts) -> None:
    article = item.stored.article
    fetched = item.fetched_at or item.stored.updated
    response_id = None
    try:
        page = item.page
    except zlib.error as exc:  # a corrupt stored page loses its response record, not the export
        counts.corrupt_pages += 1
        event(log, "export_page_corrupt", logging.WARNING, url=article.url, error=str(exc))
        page = None
    if page is not None and item.fetched_at is not None:
        target = article.original_url or article.url
        response_id = _record_id("response", target, item.fetched_at)
        http_headers = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html"), ("Content-Length", str(len(page)))],
            protocol="HTTP/1.1",
        )
        writer.write_record(writer.create_warc_record(
            target, "response", payload=io.BytesIO(page), length=len(page),
            http_headers=http_headers,
            warc_headers_dict={
                "WARC-Record-ID": response_id,
                "WARC-Date": warc_date(item.fetched_at),
                RECONSTRUCTED: "reconstructed",
            },
        ))
        counts.responses += 1
    body = json.dumps(article_record(item), ensure_ascii=False, indent=1).encode("utf-8")
    headers = {
        "WARC-Record-ID": _record_id("metadata", article.url, fetched),
        "WARC-Date": warc_date(fetched),
    }
    if response_id is not None:
        headers["WARC-Refers-To"] = response_id
        headers["WARC-Concurrent-To"] = response_id
    writer.write_record(writer.create_warc_record(
        article.url, "metadata", payload=io.BytesIO(body), length=len(body),
        warc_content_type="application/json", warc_headers_dict=headers,
    ))
    counts.metadata += 1
