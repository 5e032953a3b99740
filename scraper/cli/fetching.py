"""``fetch`` (one pass over sources now) and ``backfill`` (walk older listing pages).

Both take the source's lease (``scraper.service.leases``) so they never run a
source at the same time as a worker: a busy source is reported, exit 4.
"""

from __future__ import annotations

import argparse
import asyncio

from scraper.config import Config, SourceConfig
from scraper.service.leases import SourceBusy

from .common import EXIT_BUSY, EXIT_FAILED, EXIT_OK, UsageError, fetcher_for, store_for


def cmd_fetch(args: argparse.Namespace, config: Config) -> int:
    from scraper.pipeline.runner import SourceRunner
    from scraper.service.leases import SourceLeases

    sources = config.selected(args.sources)
    if not sources:
        raise UsageError("no sources configured")

    async def go() -> list:
        with store_for(config) as store:
            async with fetcher_for(config) as fetcher:
                runner = SourceRunner(config, store, fetcher)
                leases = SourceLeases(store)

                async def one(source: SourceConfig):
                    try:
                        return await leases.exclusive(source, lambda: runner.run_source(source), wait=args.wait)
                    except SourceBusy as busy:
                        return busy

                return list(await asyncio.gather(*(one(s) for s in sources)))

    results = asyncio.run(go())
    busy = False
    for r in results:
        if isinstance(r, Exception):
            busy = True
            print(f"{r.source_id:12} busy   {r.detail}")
            continue
        status = "ok" if r.ok else "FAILED"
        extra = f"  degraded: {r.degraded}" if r.degraded else ""
        print(f"{r.source_id:12} {status:6} new={r.new} updated={r.updated} unchanged={r.unchanged} errors={r.errors}{extra}")
    if not all(r.ok for r in results if not isinstance(r, Exception)):
        return EXIT_FAILED
    return EXIT_BUSY if busy else EXIT_OK


def cmd_backfill(args: argparse.Namespace, config: Config) -> int:
    from tqdm import tqdm

    from scraper.pipeline.runner import SourceRunner
    from scraper.service.leases import SourceLeases

    source = config.source(args.source)
    if args.pages is None and args.since is None:
        raise UsageError("backfill needs --pages N or --since DATE")

    async def go():
        with store_for(config) as store:
            async with fetcher_for(config) as fetcher:
                runner = SourceRunner(config, store, fetcher)
                with tqdm(total=args.pages, unit="page", desc=f"backfill {source.id}", disable=args.quiet or None) as bar:
                    def on_page(page_no: int, r) -> None:
                        bar.update(1)
                        bar.set_postfix(new=r.new, updated=r.updated, errors=r.errors)

                    return await SourceLeases(store).exclusive(
                        source,
                        lambda: runner.backfill(source, pages=args.pages, since=args.since, on_page=on_page, restart=args.restart),
                        wait=args.wait,
                    )

    r = asyncio.run(go())
    print(f"{r.source_id}: new={r.new} updated={r.updated} unchanged={r.unchanged} errors={r.errors}")
    return EXIT_OK if r.ok else EXIT_FAILED

