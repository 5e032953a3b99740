"""Reading the archive: ``feed`` (render a feed), ``search`` and ``sources`` (health table)."""

from __future__ import annotations

import argparse
import json

from scraper.config import Config
from scraper.logs import get_logger, say

from .common import EXIT_OK, UsageError, fmt_time, store_for
from .output import STDOUT, check_target, write_output

log = get_logger("cli")


def cmd_feed(args: argparse.Namespace, config: Config) -> int:
    from feeds.render import feed_meta, render

    if args.source:
        config.source(args.source)
    target = args.output or STDOUT
    try:
        check_target(target)  # before the store is opened (or created)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write ({exc.strerror or exc})") from None
    base = (config.server.base_url or config.feed.link or f"http://{config.server.host}:{config.server.port}").rstrip("/")
    with store_for(config) as store:
        items = store.latest(source_id=args.source, limit=args.limit or config.feed.max_entries,
                             collapse_clusters=args.source is None)
    meta = feed_meta(config, source_id=args.source, base_url=base, fmt=args.format)
    data = render(args.format, meta, items, config.sources)
    try:
        write_output(target, data)
    except OSError as exc:  # a directory, a missing folder, no space: the old file stays
        raise UsageError(f"{target}: cannot write ({exc.strerror or exc})") from None
    if target != STDOUT:
        say(log, "feed_written", f"wrote {len(items)} entries to {target}", entries=len(items), path=target)
    return EXIT_OK



def cmd_sources(args: argparse.Namespace, config: Config) -> int:
    from feeds.health import generic_fields, listing_kind

    with store_for(config) as store:
        rows = store.source_health(list(config.sources))
        history = store.history_counts(list(config.sources))  # revisits, edits, removals (issue 12)
    if args.json:
        print(json.dumps([
            {"id": h.source_id, "name": config.sources[h.source_id].name,
             "last_run": h.last_run.isoformat() if h.last_run else None,
             "last_success": h.last_success.isoformat() if h.last_success else None,
             "articles": h.articles, "errors": h.errors, "consecutive_failures": h.consecutive_failures,
             "last_error": h.last_error, "degraded": h.degraded, "feed_problem": h.feed_problem,
             "listing": listing_kind(config.sources[h.source_id]),
             "confidence": config.sources[h.source_id].confidence,
             "generic_fields": generic_fields(config.sources[h.source_id]),
             "revisits": history[h.source_id].revisits, "edits": history[h.source_id].edits,
             "removed": history[h.source_id].removed} for h in rows
        ], ensure_ascii=False, indent=2))
        return EXIT_OK
    # CONF: how much of the source's profile rests on real pages ("seen", "cfg": someone's
    # scraper config, "guess"); LISTING: feed, html, or feed+html (feeds, HTML as fallback)
    header = (f"{'SOURCE':12} {'CONF':5} {'LISTING':9} {'LAST RUN (UTC)':17} {'LAST SUCCESS':17} "
              f"{'ARTICLES':>8} {'ERRORS':>6} {'FAILS':>5} {'REVISITS':>8} {'EDITS':>5} {'REMOVED':>7}  STATUS")
    print(header)
    for h in rows:
        source = config.sources[h.source_id]
        if h.last_run is None:
            status = "never run"
        elif h.consecutive_failures:
            status = f"failing: {h.last_error or ''}"
        elif h.warning:
            status = f"degraded: {h.warning}"
        else:
            status = "ok"
        c = history[h.source_id]
        print(f"{h.source_id:12} {source.confidence:5} {listing_kind(source):9} {fmt_time(h.last_run):17} {fmt_time(h.last_success):17} {h.articles:8d} {h.errors:6d} {h.consecutive_failures:5d} {c.revisits:8d} {c.edits:5d} {c.removed:7d}  {status}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    from storage.base import search_terms

    if args.source:
        config.source(args.source)
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if not search_terms(args.query):  # '', '*', '?!' alike: nothing to match words against
        raise UsageError(f"QUERY {args.query!r} has no word to search for "
                         "(for the newest articles: run.py feed, or the page at /)")
    with store_for(config) as store:
        items = store.latest(source_id=args.source, limit=args.limit, q=args.query,
                             collapse_clusters=args.source is None)
    for item in items:  # one line per story, its copies on other sites at the end
        art = item.article
        also = "".join(f"  also {sib.source_id}: {sib.link}" for sib in item.siblings)
        title = " ".join(art.title.split())
        print(f"{fmt_time(item.published_or_seen)}  {art.source_id:10} {title}  {art.original_url or art.url}{also}")
    if not items:
        say(log, "search_empty", "no article matches")
    return EXIT_OK

