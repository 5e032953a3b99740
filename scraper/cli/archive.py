"""Maintaining the archive: ``migrate``, ``copy`` (store to store) and ``reextract``."""

from __future__ import annotations

import argparse
import logging

from scraper.config import Config
from scraper.logs import get_logger, say

from .common import EXIT_FAILED, EXIT_OK, counters, progress_hidden, store_for

log = get_logger("cli")


def cmd_reextract(args: argparse.Namespace, config: Config) -> int:
    from scraper.pipeline.reextract import reextract

    with store_for(config) as store:
        r = reextract(config, store, args.sources)
    for sid, counts in sorted(r.per_source.items()):
        degraded = r.degraded(sid)
        extra = f"  degraded: {degraded}" if degraded else ""
        print(f"{sid:12} {counters(counts['new'], counts['updated'], counts['unchanged'], counts['errors'])}{extra}")
    for message in r.messages:
        say(log, "reextract_failed", message, logging.ERROR, plain=f"error: {message}")
    print(f"{r.pages} stored pages: {counters(r.new, r.updated, r.unchanged, r.errors)} skipped={r.skipped}")
    return EXIT_OK if not r.errors else EXIT_FAILED



def cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    from scraper.dedup.syndication import index_archive
    from storage._migrations import load_migrations

    with store_for(config) as store:  # opening applies the pending migrations
        filed = index_archive(store)
    print(f"schema version {len(load_migrations())}")
    if filed:
        print(f"{filed} articles filed among syndicated copies")
    return EXIT_OK


def cmd_copy(args: argparse.Namespace, config: Config) -> int:
    from tqdm import tqdm

    from storage import check_url, open_store
    from storage.copy import copy_store, source_rows

    check_url(args.target)  # both ends named right before either is opened (or created)
    check_url(args.source or config.storage.url)
    with open_store(args.source or config.storage.url) as source, open_store(args.target) as target:
        with tqdm(total=source_rows(source), unit="row", desc="copy", disable=progress_hidden(args)) as bar:
            def on_rows(table: str, n: int) -> None:
                bar.set_postfix_str(table, refresh=False)
                bar.update(n)

            report = copy_store(source, target, progress=on_rows)
        from scraper.dedup.syndication import index_archive

        index_archive(target)  # clusters are not copied (ids differ): found again on the target
    for line in report.lines():
        print(line)
    return EXIT_OK

