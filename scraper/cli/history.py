"""``history URL_OR_GUID [--json]``: an article's status and every version, oldest first (issue 12).

``--json`` prints one object::

    {"url", "guid", "status": "live"|"removed", "removed_at",
     "versions": [{"seen_from", "seen_until", "title", "published", "authors", "body_text"}, ...]}

oldest first, the current state last (its ``seen_until`` null); times ISO 8601 UTC
(``2024-05-01T08:00:00Z``).  Without ``--json``, a short text: the status, then one
block per version with the word-level changes from the one before.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from scraper.config import Config
from scraper.urls import canonical_url
from scraper.versions import ArticleHistory, Version

from .common import EXIT_OK, UsageError, store_for


def iso(when: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, to the second (to the microsecond when it has some)."""
    if when is None:
        return None
    spec = "microseconds" if when.microsecond else "seconds"
    return when.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def history_json(history: ArticleHistory) -> dict[str, Any]:
    """The ``--json`` object (also what the article view's JSON would be built from)."""
    return {
        "url": history.link,
        "guid": history.guid,
        "status": history.status,
        "removed_at": iso(history.removed_at),
        "versions": [_version_json(v) for v in history.versions],
    }


def _version_json(v: Version) -> dict[str, Any]:
    return {
        "seen_from": iso(v.seen_from),
        "seen_until": iso(v.seen_until),
        "title": v.title,
        "published": iso(v.published),
        "authors": list(v.authors),
        "body_text": v.body_text,
    }


def find_history(store: Any, key: str) -> ArticleHistory | None:
    """By GUID, stored id, canonical URL or the URL as fetched (canonicalized)."""
    key = key.strip()
    found = store.article_history(key)
    if found is None and key.startswith(("http://", "https://")):
        found = store.article_history(canonical_url(key))
    return found


def cmd_history(args: argparse.Namespace, config: Config) -> int:
    from feeds.diff import word_diff_text

    with store_for(config) as store:
        history = find_history(store, args.article)
    if history is None:
        raise UsageError(f"no stored article has the URL or GUID {args.article!r}")
    if args.json:
        print(json.dumps(history_json(history), ensure_ascii=False, indent=2))
        return EXIT_OK
    status = history.status + (f" since {iso(history.removed_at)}" if history.removed_at else "")
    count = len(history.versions)
    print(f"{history.link}\n{history.guid}\n{status}, {count} version{'s' if count != 1 else ''}")
    previous: Version | None = None
    for n, v in enumerate(history.versions, start=1):
        until = iso(v.seen_until) or "now"
        print(f"\n#{n}  {iso(v.seen_from)} .. {until}\n    {v.title}")
        if previous is not None:
            for line in word_diff_text(previous, v):
                print(f"    {line}")
        previous = v
    return EXIT_OK
