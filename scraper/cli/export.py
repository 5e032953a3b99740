"""``export`` (the archive as WARC, JSONL or CSV) and ``import`` (a WARC's pages into the store).

An import that stored or changed articles tells ``[feed] websub_hubs`` as ``fetch`` does
(``scraper.cli.announce``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timedelta
from pathlib import Path

from scraper.config import Config

from .announce import announcing
from .common import EXIT_FAILED, EXIT_OK, UsageError, store_for
from .output import STDOUT, open_output


def parse_until(value: str) -> datetime:
    """``--until``: an instant, or a bare date meaning through that day (its next midnight, UTC)."""
    from .parser import parse_since

    when = parse_since(value)
    return when + timedelta(days=1) if len(value.strip()) == 10 else when


def cmd_export(args: argparse.Namespace, config: Config) -> int:
    from tqdm import tqdm

    from scraper.export.tables import write_csv, write_jsonl
    from scraper.export.walk import Selection, count_selected, walk_archive
    from scraper.export.warc import write_warc

    for sid in args.sources or ():
        config.source(sid)  # ConfigError (exit 2) for an unknown id
    until = args.until
    if args.since is not None and until is not None and until <= args.since:
        raise UsageError("--until is before --since: the export would be empty")
    selection = Selection(tuple(args.sources or ()), args.since, until)
    target = args.output or STDOUT
    failed = False  # a stored page that could not be read (its article is exported without it)
    try:
        with store_for(config) as store:
            total = count_selected(store, selection)
            items = walk_archive(store, selection, with_pages=args.format == "warc")
            with tqdm(total=total, unit="article", desc="export", disable=args.quiet or None,
                      file=sys.stderr) as bar, open_output(target) as out:
                tick = lambda: bar.update(1)  # noqa: E731
                if args.format == "warc":
                    name = Path(target).name if target != STDOUT else None
                    counts = write_warc(out, items, filename=name, on_item=tick)
                    written, extra = counts.articles, f", {counts.responses} pages"
                    failed = counts.corrupt_pages > 0
                    if counts.corrupt_pages:
                        extra += f", {counts.corrupt_pages} corrupt stored pages left out"
                elif args.format == "jsonl":
                    written, extra = write_jsonl(out, items, on_item=tick), ""
                else:
                    written, extra = write_csv(out, items, on_item=tick), ""
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from exc
    where = "standard output" if target == STDOUT else target
    print(f"{written} articles{extra} exported as {args.format} to {where}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_import(args: argparse.Namespace, config: Config) -> int:
    from tqdm import tqdm

    from scraper.export.warcin import WarcImportError, import_warc

    try:
        stream = open(args.file, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    with stream, store_for(config) as store:
        with tqdm(unit="record", desc="import", disable=args.quiet or None, file=sys.stderr) as bar:
            try:
                r = import_warc(config, store, stream, source_id=args.source,
                                on_record=lambda: bar.update(1))
            except WarcImportError as exc:
                raise UsageError(f"{args.file}: {exc}") from exc
    if r.changed and config.feed.websub_hubs:
        asyncio.run(_announce(config, r.changed))
    for message in r.messages:
        print(f"error: {message}", file=sys.stderr)
    skipped = ", ".join(f"{why} {n}" for why, n in sorted(r.skipped.items())) or "none"
    print(f"{r.records} records: new={r.new} updated={r.updated} unchanged={r.unchanged} "
          f"errors={r.errors} skipped: {skipped}")
    return EXIT_OK if not r.errors else EXIT_FAILED


async def _announce(config: Config, changed: dict[str, int]) -> None:
    """Tell the hubs which sources' feeds the import changed (bounded wait, see ``announce``)."""
    async with announcing(config) as announcer:
        for source_id, count in changed.items():
            announcer.on_run(source_id, count, 0)
