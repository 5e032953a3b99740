"""The Store interface every backend implements, and the rules they share.

Backends: ``storage.sqlite.SQLiteStore`` (default) and
``storage.postgres.PostgresStore``, behind this same interface and the same
numbered migrations; ``storage.copy`` moves an archive between them.

Shared rules (implemented once here, so backends cannot drift apart):

- an article's key is ``Article.url`` (already canonical); its feed ``guid`` is
  ``urn:uuid:`` + uuid5(NAMESPACE_URL, url), fixed at first insert;
- an upsert is "unchanged" (and writes nothing) when fingerprint, title,
  published and authors all equal the stored ones, else "updated";
- search matches ``fold_accents(q)`` as a substring of
  ``fold_accents(title + " " + body_text)``, so it ignores case and Vietnamese
  diacritics and does not care whether either side was NFC or NFD.

Datetimes go in and come out timezone-aware UTC; a naive datetime is a
programming error (``ValueError``).  Every failure of the database itself is a
``scraper.errors.StorageError`` with a one-line message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self, runtime_checkable

from scraper.models import Article, SourceHealth, StoredArticle
from scraper.text import fold_accents

UpsertResult = Literal["new", "updated", "unchanged"]

DEFAULT_LATEST_LIMIT = 50
LIKE_ESCAPE = "\\"


@runtime_checkable
class Store(Protocol):
    """Where articles, raw pages, fetch validators and source health are kept."""

    def migrate(self) -> None:
        """Apply pending migrations; StorageError if the database is newer than the code."""

    def upsert_article(
        self, article: Article, *, raw_html: bytes | None = None, now: datetime | None = None
    ) -> UpsertResult:
        """Insert or update by ``article.url``; ``raw_html`` is kept for re-extraction."""

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """The subset of ``urls`` already stored as articles."""

    def get_article(self, url: str) -> StoredArticle | None: ...

    def count_articles(self, source_id: str | None = None) -> int: ...

    def latest(
        self,
        *,
        source_id: str | None = None,
        limit: int = DEFAULT_LATEST_LIMIT,
        q: str | None = None,
        since: datetime | None = None,
    ) -> list[StoredArticle]:
        """Newest first by (published or first_seen), then id; ``since`` is inclusive."""

    def version(self) -> str:
        """A cheap token that changes whenever any article row changes."""

    def http_cache_get(self, url: str) -> tuple[str | None, str | None]:
        """(etag, last_modified) stored for a listing URL, or (None, None)."""

    def http_cache_put(self, url: str, etag: str | None, last_modified: str | None) -> None: ...

    def record_run(
        self,
        source_id: str,
        *,
        started: datetime,
        finished: datetime,
        ok: bool,
        new: int,
        updated: int,
        errors: int,
        message: str | None = None,
        degraded: str | None = None,
    ) -> None:
        """Append to the run history and update the source's state."""

    def source_health(
        self, source_ids: Iterable[str], *, now: datetime | None = None
    ) -> list[SourceHealth]:
        """One entry per distinct id, in the given order; never-run sources get zeros."""

    def backfill_state_get(self, source_id: str) -> dict[str, Any] | None: ...

    def backfill_state_put(self, source_id: str, state: dict[str, Any]) -> None: ...

    def backfill_state_clear(self, source_id: str) -> None: ...

    def pages_for_reextract(self, source_id: str | None = None) -> Iterator[tuple[str, str, bytes]]:
        """(url, source_id, html) of every stored page, optionally of one source."""

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def article_guid(url: str) -> str:
    """The feed entry id of an article: stable for its canonical URL."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, url))


def search_text(article: Article) -> str:
    """What ``latest(q=...)`` searches: folded title and body text."""
    return fold_accents(article.title + " " + article.body_text)


def like_pattern(q: str) -> str | None:
    """A LIKE pattern (escape character ``LIKE_ESCAPE``) for a search, or None if empty."""
    folded = fold_accents(q)
    if not folded:
        return None
    escaped = (
        folded.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


def content_unchanged(
    article: Article,
    *,
    fingerprint: str,
    title: str,
    published: datetime | None,
    authors: tuple[str, ...],
) -> bool:
    """True when a stored row needs no update for ``article``."""
    return (
        article.fingerprint == fingerprint
        and article.title == title
        and article.published == published
        and tuple(article.authors) == authors
    )


def utc(value: datetime, name: str = "datetime") -> datetime:
    """``value`` converted to UTC; ValueError if it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
