"""The Store interface every backend implements, and the rules they share.

Backends: ``storage.sqlite.SQLiteStore`` (default) and
``storage.postgres.PostgresStore``, behind this same interface and the same
numbered migrations; ``storage.copy`` moves an archive between them.

Shared rules (implemented once here, so backends cannot drift apart):

- an article's key is ``Article.url`` (already canonical); its feed ``guid`` is
  ``urn:uuid:`` + uuid5(NAMESPACE_URL, url), fixed at first insert;
- an upsert is "unchanged" (and writes nothing) when fingerprint, title,
  published, authors and summary all equal the stored ones, else "updated",
  and the state it replaces is kept as a version (``storage._history``);
- search is full-text, over the ``search_text`` column
  (``fold_accents(title + " " + body_text)``): the words of ``fold_accents(q)``
  (``search_terms``) must all occur as whole words, in any order, so it ignores
  case, punctuation and Vietnamese diacritics and does not care whether either
  side was NFC or NFD.  A query with no word in it finds nothing; an empty one
  is no filter.  SQLite keeps an FTS5 index, PostgreSQL a GIN index on a
  tsvector (migration 0002); neither scans the archive.

- syndicated copies: ``upsert_article(..., cluster_key=...)`` files the
  article's LSH band keys and signature and, in the same transaction, joins it
  to the cluster of every stored article whose signature ``cluster_key``
  accepts (``storage._clusters``); ``latest(collapse_clusters=True)`` returns
  one entry per cluster, its earliest article, with the others as
  ``StoredArticle.siblings``;
- source leases (``take_lease`` / ``renew_lease`` / ``release_lease``): one
  conditional write each, so of several workers taking the same free lease
  exactly one gets it.

Health: ``check_health()`` is the cheap probe (file identity, last failure,
connection), ``quick_check()`` the integrity check run on start.

Datetimes go in and come out timezone-aware UTC; a naive datetime is a
programming error (``ValueError``).  Every failure of the database itself is a
``scraper.errors.StorageError`` with a one-line message.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self, runtime_checkable

from scraper.errors import StorageError
from scraper.models import Article, SourceHealth, StoredArticle
from scraper.text import fold_accents

UpsertResult = Literal["new", "updated", "unchanged"]

DEFAULT_LATEST_LIMIT = 50
# A search word: letters and digits (what FTS5's unicode61 tokenizer keeps together).
_WORD = re.compile(r"[^\W_]+")


class StoreLost(StorageError):
    """The database file was deleted or replaced while the store had it open.

    Every later write raises it, and so does ``check_health``: nothing written
    from now on would survive a restart, so the process must stop and be
    restarted (which opens the file that is there now).
    """


class ClusterKey(Protocol):
    """What the store needs to file an article among near-duplicates (``scraper.dedup.syndication``)."""

    @property
    def bands(self) -> Sequence[int]:
        """LSH band keys (signed 64-bit): an article sharing one is a candidate."""

    @property
    def signature(self) -> bytes:
        """The MinHash signature, stored to verify later candidates against."""

    def matches(self, signature: bytes) -> bool:
        """Whether a candidate with this stored signature is a copy of the same story."""


@dataclass(frozen=True)
class LeaseState:
    """A source's lease after ``take_lease``: ``taken`` says whether the caller holds it now."""

    taken: bool
    holder: str | None  # who holds it (None: free)
    expires: datetime | None
    last_run: datetime | None  # start of the last run (when its lease was taken), by anyone
    now: datetime  # the store's clock when the lease was looked at


@dataclass(frozen=True)
class ArticleFilter:
    """What ``Store.browse`` and ``count_matching`` select (every field optional, ANDed).

    ``source_ids``: any of these sources (``()``: every source); ``q``: search as in
    ``latest``; ``start`` (inclusive) and ``end`` (exclusive) bound (published or
    first_seen); ``sections``: the canonical URL has one of these as a path
    segment, or the article is from one of ``section_sources`` (sources whose
    every article is in those sections); ``collapse_clusters``: one entry per story, as in ``latest`` (only
    without ``source_ids``).
    """

    source_ids: tuple[str, ...] = ()
    q: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    sections: tuple[str, ...] = ()
    section_sources: tuple[str, ...] = ()
    collapse_clusters: bool = False

    @property
    def collapses(self) -> bool:
        return self.collapse_clusters and not self.source_ids


@runtime_checkable
class Store(Protocol):
    """Where articles, raw pages, fetch validators and source health are kept."""

    def migrate(self) -> None:
        """Apply pending migrations; StorageError if the database is newer than the code."""

    def upsert_article(
        self,
        article: Article,
        *,
        raw_html: bytes | None = None,
        now: datetime | None = None,
        cluster_key: ClusterKey | None = None,
        stored_by: str = "fetch",
        keep_version: bool = True,
    ) -> UpsertResult:
        """Insert or update by ``article.url``; ``raw_html`` is kept for re-extraction.

        An update keeps the state it replaces as a version (``storage._history``)
        unless ``keep_version`` is False (``reextract``: a new profile is no edit);
        ``stored_by`` ("fetch" or "backfill") decides a new article's revisits.

        With ``cluster_key`` a new or updated article is (re)filed among
        near-duplicates in the same transaction; without it an update leaves
        the article's cluster as it was.
        """

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
        collapse_clusters: bool = False,
    ) -> list[StoredArticle]:
        """Newest first by (published or first_seen), then id; ``since`` is inclusive.

        ``collapse_clusters`` (only without ``source_id``): one entry per story,
        its earliest article, with the other copies as ``siblings`` (earliest
        first); a story matches ``q`` when any of its copies does, and ``since``
        and the order go by the earliest copy.
        """

    def browse(
        self,
        flt: ArticleFilter,
        *,
        before: tuple[datetime, int] | None = None,
        limit: int = DEFAULT_LATEST_LIMIT,
    ) -> list[StoredArticle]:
        """Like ``latest``, with ``flt``; ``before`` = (published or first_seen, id) of the
        last entry already shown: only entries after it in the feed order."""

    def count_matching(self, flt: ArticleFilter) -> int:
        """How many entries ``browse(flt)`` would list without a limit."""

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
        feed_problem: str | None = None,
    ) -> None:
        """Append to the run history and update the source's state.

        ``degraded`` is the profile's verdict (selector drift), ``feed_problem`` why the
        run's feeds failed (None: they worked, or the run read none and says so itself)."""

    def set_degraded(self, source_id: str, degraded: str | None) -> None:
        """Set or clear a source's degraded mark outside a run (``reextract`` ran the current
        profile over the stored pages); a source that never ran has no mark to set."""

    def source_health(
        self, source_ids: Iterable[str], *, now: datetime | None = None
    ) -> list[SourceHealth]:
        """One entry per distinct id, in the given order; never-run sources get zeros."""

    def backfill_state_get(self, source_id: str) -> dict[str, Any] | None: ...

    def backfill_state_put(self, source_id: str, state: dict[str, Any]) -> None: ...

    def backfill_state_clear(self, source_id: str) -> None: ...

    def pages_for_reextract(self, source_id: str | None = None) -> Iterator[tuple[str, str, bytes]]:
        """(url, source_id, html) of every stored page, optionally of one source."""

    def archive_page(
        self,
        *,
        after_id: int = 0,
        limit: int = 200,
        source_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        with_pages: bool = False,
    ) -> list[Any]:
        """One keyset page of the archive for exports (``storage._export.ArchivedArticle``s,
        id order, id above ``after_id``); ``since`` inclusive, ``until`` exclusive."""

    def articles_between(
        self,
        start: datetime,
        end: datetime,
        *,
        source_id: str | None = None,
        collapse_clusters: bool = False,
    ) -> list[StoredArticle]:
        """Articles published (or first seen) in [start, end), newest first (archive feeds)."""

    def neighbour_instant(
        self,
        at: datetime,
        *,
        before: bool,
        source_id: str | None = None,
        collapse_clusters: bool = False,
    ) -> datetime | None:
        """Sort key of the nearest feed entry before ``at`` / at or after it (archive feeds)."""

    def unfiled(self, *, after_id: int = 0, limit: int = 100) -> list[StoredArticle]:
        """Articles never filed among near-duplicates (stored before migration 0003, by a
        copy, or without a key), id above ``after_id``, in id order."""

    def file_article(self, url: str, cluster_key: ClusterKey | None) -> None:
        """File a stored article among near-duplicates now (None: it has no key)."""

    def take_lease(
        self,
        source_id: str,
        holder: str,
        *,
        ttl: float,
        min_gap: float,
        steal_from: str | None = None,
        now: datetime | None = None,
    ) -> LeaseState:
        """Take the source's lease for ``ttl`` seconds if it is free, expired, ours or
        ``steal_from``'s, and its last run started at least ``min_gap`` seconds ago;
        taking it records now as the start of the last run."""

    def renew_lease(
        self, source_id: str, holder: str, *, ttl: float, now: datetime | None = None
    ) -> bool:
        """Extend our lease to ``ttl`` seconds from now; False if it is no longer ours."""

    def release_lease(
        self,
        source_id: str,
        holder: str,
        *,
        last_run: datetime | None,
        now: datetime | None = None,
    ) -> None:
        """Free our lease, recording ``last_run`` (the run's start) unless it is None."""

    def check_health(self) -> str | None:
        """None when the store can be used, else a one-line reason (names the database).

        Cheap (a ``stat`` and a one-row read, no scan), so the service can call
        it every scheduler interval and on every ``/healthz``: SQLite reports
        the last operation failed for disk full / read-only / corruption, or a
        read-only mount; PostgreSQL, a ``SELECT 1`` that fails or cannot get a
        connection within a second.  Raises ``StoreLost`` when the SQLite
        file was deleted or replaced since open: that one needs a restart.
        """

    def quick_check(self) -> str | None:
        """None when the database passes an integrity check, else a one-line reason.

        SQLite: ``PRAGMA quick_check`` (reads every page: seconds on a large
        file; ``run`` calls it once on start).  PostgreSQL checks its own pages:
        the same as ``check_health``.
        """

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


def search_terms(q: str) -> list[str]:
    """The words a search for ``q`` requires, folded like ``search_text``."""
    return _WORD.findall(fold_accents(q))


def fts5_query(terms: Iterable[str]) -> str:
    """An FTS5 MATCH expression requiring every term as a whole word."""
    return " ".join(f'"{t}"' for t in terms)  # a term never holds a quote


def content_unchanged(
    article: Article,
    *,
    fingerprint: str,
    title: str,
    published: datetime | None,
    authors: tuple[str, ...],
    summary: str | None = None,
) -> bool:
    """True when a stored row needs no update for ``article``.

    These are the extracted fields whose change keeps the previous state as a
    version (title, published, authors, lead, body text: the fingerprint is
    of the cleaned title and body text, so whitespace and Unicode form do not
    count); ``summary`` (the lead) is compared only when given.
    """
    return (
        article.fingerprint == fingerprint
        and article.title == title
        and article.published == published
        and tuple(article.authors) == authors
        and (summary is None or article.summary == summary)
    )


def utc(value: datetime, name: str = "datetime") -> datetime:
    """``value`` converted to UTC; ValueError if it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
