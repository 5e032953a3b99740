"""``fetch`` (one pass over sources now) and ``backfill`` (walk older listing pages).

A backfill stopped by SIGINT or SIGTERM exits 128 + the signal's number (130, 143)
after printing its summary; its progress is saved and the same command resumes it.
Both take the source's lease (``scraper.service.leases``) so they never run a
source at the same time as a worker: a busy source is reported, exit 4.
With ``[feed] websub_hubs`` both tell the hubs which feeds their runs changed
(``scraper.cli.announce``: bounded wait at exit, never a different exit code).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from scraper.config import Config, SourceConfig
from scraper.logs import get_logger, say
from scraper.service.leases import SourceBusy

from .announce import announcing
from .common import (
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    counters,
    fetcher_for,
    progress_hidden,
    store_for,
)

log = get_logger("cli")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # they end a backfill at an article boundary


def cmd_fetch(args: argparse.Namespace, config: Config) -> int:
    from scraper.pipeline.runner import SourceRunner
    from scraper.service.leases import SourceLeases
    from scraper.service.publish import NotifyingRunner

    sources = config.selected(args.sources)
    if not sources:
        raise UsageError("no sources configured")

    async def go() -> list:
        with store_for(config) as store:
            async with fetcher_for(config) as fetcher, announcing(config) as announcer:
                runner = NotifyingRunner(SourceRunner(config, store, fetcher), announcer)
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
        if isinstance(r, SourceBusy):
            busy = True
            print(busy_line(r))
            continue
        status = "ok" if r.ok else "FAILED"
        extra = f"  degraded: {r.degraded}" if r.degraded else ""
        print(f"{r.source_id:12} {status:6} {counters(r.new, r.updated, r.unchanged, r.errors)}{extra}")
    ran = [r for r in results if not isinstance(r, SourceBusy)]
    if not all(r.ok and not r.errors for r in ran):  # a source, a listing or an article failed
        return EXIT_FAILED
    return EXIT_BUSY if busy else EXIT_OK


def busy_line(busy: SourceBusy) -> str:
    """A busy source's line, the same for ``fetch`` and ``backfill``."""
    return f"{busy.source_id:12} busy   {busy.detail}"


def cmd_backfill(args: argparse.Namespace, config: Config) -> int:
    """Walk a source's pagination back; SIGINT/SIGTERM stop it at the next article boundary
    (progress, run and lease saved and released, summary printed, exit 130/143); a second
    signal ends the process at once."""
    from tqdm import tqdm

    from scraper.pipeline.runner import SourceRunner
    from scraper.service.leases import SourceLeases

    source = config.source(args.source)
    if args.pages is None and args.since is None:
        raise UsageError("backfill needs --pages N or --since DATE")
    if not source.start_urls:  # feeds list the latest articles only: there is nothing to walk back
        raise UsageError(f"source {source.id} has feed_urls only: backfill walks the HTML listing (start_urls)")
    caught: list[int] = []

    async def go():
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def on_signal(signum: int) -> None:
            caught.append(signum)
            stop.set()
            for sig in STOP_SIGNALS:  # the next one takes the default action
                loop.remove_signal_handler(sig)

        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, on_signal, sig)
        with store_for(config) as store:
            async with fetcher_for(config) as fetcher, announcing(config) as announcer:
                runner = SourceRunner(config, store, fetcher)
                done = 0 if args.restart else await runner.pages_done(source, pages=args.pages, since=args.since)
                total = args.pages * len(source.start_urls) if args.pages else None
                with tqdm(total=total, initial=done, unit="page", desc=f"backfill {source.id}",
                          disable=progress_hidden(args)) as bar:
                    def on_page(page_no: int, r) -> None:
                        bar.update(1)
                        bar.set_postfix(new=r.new, updated=r.updated, errors=r.errors)

                    result = await SourceLeases(store).exclusive(  # SourceBusy: caught below
                        source,
                        lambda: runner.backfill(source, pages=args.pages, since=args.since, max_pages=args.max_pages,
                                                on_page=on_page, restart=args.restart, stop=stop),
                        wait=args.wait,
                    )
                announcer.on_run(source.id, result.new, result.updated)  # interrupted too: it stored them
                return result

    try:
        r = asyncio.run(go())
    except SourceBusy as busy:
        print(busy_line(busy))
        return EXIT_BUSY
    print(f"{r.source_id}: {counters(r.new, r.updated, r.unchanged, r.errors)}")
    for note in r.notes:
        print(f"  walk ended early: {note}")
    if r.pages_unsettled:
        print(f"  {r.pages_unsettled} listing page(s) had articles that may succeed later: "
              "the same command goes on from the first of them")
    if caught:
        name = signal.Signals(caught[0]).name
        say(log, "interrupted", f"interrupted by {name}: progress saved; the same command resumes",
            logging.WARNING, signal=name)
        return 128 + caught[0]  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
    # a page that could not be extracted is logged and skipped by the walk, and still a failure
    return EXIT_OK if r.ok and not r.pages_unsettled and not r.errors else EXIT_FAILED
