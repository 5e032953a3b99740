"""``run.py import --format warc FILE``: a WARC's pages through the normal extraction path.

Every ``response`` record with an HTTP 200 and an HTML (or unstated) content
type is an article page: its source is ``--source`` or the configured source
whose start URLs share the page's host and port (``www.`` ignored); it is extracted,
normalized and keyed for near-duplicates exactly as a fetched page is
(``scraper.pipeline.runner``'s steps), and upserted with its raw bytes, the
record's ``WARC-Date`` as the fetch time.  Importing the same WARC again
stores nothing new ("unchanged"), so an import is idempotent, and an export
imported into an empty store gives back the same articles (same URLs, guids
and content; first seen becomes the page's fetch time).

Other records (warcinfo, requests, metadata — qkfeed's own included, since the
page is the source of truth —, revisits, non-HTML responses) are skipped and
counted.  A file that is not a WARC, or breaks off, is ``WarcImportError``: a gzipped
one is checked whole before anything is stored; in a plain one the records
before a break are stored (importing again resumes).  warcio reads gzip-per-record and plain WARCs and undoes chunked and
gzip transfer encodings.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from scraper.config import Config, SourceConfig
from scraper.dedup.syndication import cluster_key
from scraper.errors import ExtractError, QkfeedError
from scraper.extract.article import extract_article
from scraper.fetch.charset import decode_html
from scraper.logs import event, get_logger
from scraper.normalize.article import normalize

__all__ = ["ImportResult", "WarcImportError", "import_warc"]

log = get_logger("import")
MAX_MESSAGES = 20


class WarcImportError(QkfeedError):
    """The file is not a WARC warcio can read (or breaks off mid-record)."""


@dataclass
class ImportResult:
    records: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # why -> records
    messages: list[str] = field(default_factory=list)
    changed: Counter[str] = field(default_factory=Counter)  # source id -> articles stored new or updated

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(message)


def _host(url: str) -> str:
    """Host (and port, when the URL names one), without ``www.``: what ties a page to a source."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def source_by_host(config: Config) -> dict[str, SourceConfig]:
    """Host of every start URL -> its source (the first configured one wins)."""
    found: dict[str, SourceConfig] = {}
    for source in config.sources.values():
        for url in source.start_urls:
            found.setdefault(_host(url), source)
    return found


def _warc_date(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def import_warc(
    config: Config,
    store: object,
    stream: BinaryIO,
    *,
    source_id: str | None = None,
    on_record: Callable[[], None] = lambda: None,
) -> ImportResult:
    """Store the article pages of the WARC read from ``stream``; see the module docstring."""
    forced = config.source(source_id) if source_id else None  # ConfigError for an unknown id
    hosts = source_by_host(config)
    result = ImportResult()
    _check_gzip_members(stream)
    try:
        for record in ArchiveIterator(stream):
            if record.format != "warc":  # warcio also reads ARC, and takes a line of words for one
                raise WarcImportError(f"not a WARC file (record {result.records + 1} is {record.format})")
            result.records += 1
            on_record()
            _one(record, config, store, forced, hosts, result)
    except (ArchiveLoadFailed, EOFError, zlib.error) as exc:
        where = f" after {result.records} records" if result.records else ""
        raise WarcImportError(
            f"not a readable WARC{where}: {(str(exc).splitlines() or [type(exc).__name__])[0][:200]}"
        ) from exc
    if not result.records:
        raise WarcImportError("no WARC record in the file")
    return result


def _check_gzip_members(stream: BinaryIO) -> None:
    """A gzipped WARC that breaks off is refused before anything is stored.

    warcio yields the last record of a truncated gzip member with whatever
    payload was there (no error: its digest check only runs at a record's
    end), which would store half a page.  ``gzip`` reads every member to its
    end-of-stream marker and raises ``EOFError`` otherwise, as ``gzip -t``
    does; one streaming pass, then back to the start.  A plain WARC is
    read as it is.
    """
    start = stream.tell()
    if stream.read(2) != b"\x1f\x8b":
        stream.seek(start)
        return
    stream.seek(start)
    try:
        with gzip.GzipFile(fileobj=stream, mode="rb") as members:
            while members.read(1 << 20):
                pass
    except (EOFError, OSError, zlib.error) as exc:
        raise WarcImportError(f"not a readable WARC: the gzip data breaks off or is damaged ({exc})") from exc
    stream.seek(start)


def _one(record: object, config: Config, store: object, forced: SourceConfig | None,
         hosts: dict[str, SourceConfig], result: ImportResult) -> None:
    rec_type = record.rec_type  # type: ignore[attr-defined]
    if rec_type != "response":
        result.skipped[rec_type or "unknown"] += 1
        return
    url = record.rec_headers.get_header("WARC-Target-URI") or ""  # type: ignore[attr-defined]
    http = record.http_headers  # type: ignore[attr-defined]
    if http is None or not url.lower().startswith(("http://", "https://")):
        result.skipped["not http"] += 1
        return
    if http.get_statuscode() != "200":
        result.skipped[f"status {http.get_statuscode()}"] += 1
        return
    content_type = http.get_header("Content-Type")
    if content_type and "html" not in content_type.lower():
        result.skipped["not html"] += 1
        return
    source = forced or hosts.get(_host(url))
    if source is None:
        result.skipped["no source for host"] += 1
        return
    data = record.content_stream().read()  # type: ignore[attr-defined]
    fetched = _warc_date(record.rec_headers.get_header("WARC-Date"))  # type: ignore[attr-defined]
    html, _ = decode_html(data, content_type)
    try:
        raw = extract_article(html, url, source)
        article = normalize(raw, source)
        outcome = store.upsert_article(  # type: ignore[attr-defined]
            article, raw_html=data, now=fetched, cluster_key=cluster_key(article),
            stored_by="backfill",  # an archive brought in: revisited only when recently published
        )
    except ExtractError as exc:
        result.error(f"{url}: {exc}")
        event(log, "import_failed", logging.WARNING, source=source.id, url=url, error=str(exc))
        return
    setattr(result, outcome, getattr(result, outcome) + 1)
    if outcome != "unchanged":  # whose feeds the import changed (WebSub, ``scraper.cli.announce``)
        result.changed[source.id] += 1
    event(log, "import", logging.DEBUG, source=source.id, url=url, result=outcome)
