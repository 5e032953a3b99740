"""Re-run extraction on the raw pages the store kept, without fetching anything.

After a site profile (or the generic rules) changed, ``run.py reextract [SOURCE…]``
reads every stored page of the given sources (all by default), extracts and
normalizes it again with the current config and upserts the result, so an
article whose fields changed shows as "updated" in the feeds.  An article keeps
its key (the stored URL) even if its canonical link now reads differently.

The current state is rewritten in place (a new profile is no edit: no version
is kept for it), and every earlier version (issue 12) is extracted again from
its own stored page.  Pages of sources no longer in the config are skipped; a page that no longer
yields an article is counted as an error and its stored article is left as it
was.  Selectors that matched nothing are counted like in a fetch run, so a
profile that still does not fit is reported (``ReextractResult.degraded``) and becomes
the source's degraded mark (a profile that fits every page clears it), so ``sources`` and
``/healthz`` agree with what ``reextract`` printed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scraper.config import Config, SourceConfig
from scraper.errors import ExtractError
from scraper.extract.article import extract_article
from scraper.fetch.charset import decode_html
from scraper.logs import event, get_logger
from scraper.normalize.article import normalize

__all__ = ["ReextractResult", "reextract"]

log = get_logger("reextract")

DRIFT_THRESHOLD = 0.5  # the same rule as a fetch run (pipeline.DRIFT_THRESHOLD)


@dataclass
class ReextractResult:
    """What one re-extraction pass did, per source and in total."""

    pages: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    skipped: int = 0  # pages of sources that are not in the config
    versions: int = 0  # earlier versions (issue 12) extracted again from their own pages
    messages: list[str] = field(default_factory=list)
    per_source: dict[str, Counter[str]] = field(default_factory=dict)
    drift: dict[str, Counter[str]] = field(default_factory=dict)  # source -> "field\tselector" -> misses

    def count(self, source_id: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.per_source.setdefault(source_id, Counter())[outcome] += 1

    def degraded(self, source_id: str) -> str | None:
        """The selector that missed on at least half of the source's pages, as a fetch run words it."""
        misses = self.drift.get(source_id)
        seen = sum(n for k, n in self.per_source.get(source_id, Counter()).items() if k != "errors")
        if not misses or not seen:
            return None
        key, n = misses.most_common(1)[0]
        if n / seen < DRIFT_THRESHOLD:
            return None
        fld, selector = key.split("\t", 1)
        return f"profile selector '{fld}' ({selector}) matched nothing on {n}/{seen} articles; generic extractor used"


def _reextract_versions(store: object, url: str, page_url: str, source: SourceConfig) -> int:
    """Extract every kept version of ``url`` again from its own raw page; how many were."""
    done = 0
    for seen_from, data in store.versions_for_reextract(url):  # type: ignore[attr-defined]
        try:
            html, _ = decode_html(data, None)
            article = dataclasses.replace(normalize(extract_article(html, page_url, source), source), url=url)
        except ExtractError as exc:  # that version keeps the fields it had
            event(log, "reextract_version_failed", logging.WARNING, source=source.id, url=url,
                  seen_from=seen_from.isoformat(), error=str(exc))
            continue
        done += store.rewrite_version(url, seen_from, article)  # type: ignore[attr-defined]
    return done


def reextract(
    config: Config,
    store: object,
    source_ids: Iterable[str] | None = None,
    *,
    now: Callable[[], datetime] | None = None,
) -> ReextractResult:
    """Extract every stored page of ``source_ids`` (all configured sources when empty) again."""
    clock = now or (lambda: datetime.now(UTC))
    wanted = list(source_ids or [])
    for sid in wanted:
        config.source(sid)  # ConfigError for an unknown id
    result = ReextractResult()
    scopes: list[str | None] = list(wanted) if wanted else [None]
    for scope in scopes:
        for url, sid, data in store.pages_for_reextract(scope):  # type: ignore[attr-defined]
            result.pages += 1
            source = config.sources.get(sid)
            if source is None:
                result.skipped += 1
                continue
            stored = store.get_article(url)  # type: ignore[attr-defined]
            page_url = (stored.article.original_url if stored is not None else "") or url
            html, _ = decode_html(data, None)
            try:
                raw = extract_article(html, page_url, source)
                article = dataclasses.replace(normalize(raw, source), url=url)
                if article.published is None and stored is not None and stored.article.published:
                    # a date from outside the page (the source's feed) is not lost
                    article = dataclasses.replace(article, published=stored.article.published)
                # a new profile is no edit: the current state is rewritten, not kept as a version
                outcome = store.upsert_article(article, now=clock(), keep_version=False)  # type: ignore[attr-defined]
            except ExtractError as exc:
                result.count(sid, "errors")
                if len(result.messages) < 20:
                    result.messages.append(f"{url}: {exc}")
                event(log, "reextract_failed", logging.WARNING, source=sid, url=url, error=str(exc))
                continue
            result.count(sid, outcome)
            for fld, selector in raw.failed_selectors.items():
                result.drift.setdefault(sid, Counter())[f"{fld}\t{selector}"] += 1
            event(log, "reextract", logging.DEBUG, source=sid, url=url, result=outcome)
            result.versions += _reextract_versions(store, url, page_url, source)
    for sid, counts in result.per_source.items():
        degraded = result.degraded(sid)
        if degraded:
            event(log, "layout_drift", logging.WARNING, source=sid, detail=degraded)
        if sum(n for k, n in counts.items() if k != "errors"):
            # the current profile over the stored pages is the freshest verdict: `sources`,
            # /healthz and the next run say the same as this command did
            # (a broken feed noted by the last run is no part of the profile's verdict: its own
            # column, left as it is)
            store.set_degraded(sid, degraded)  # type: ignore[attr-defined]
    return result
