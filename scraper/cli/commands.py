"""The ``run.py`` command line: parses arguments, loads config, calls one function per command.

Exit codes (scripts rely on them):
  0  everything worked
  1  the command ran but something failed (a source failed, a page could not be extracted)
  2  usage or configuration error (bad arguments, malformed config, unknown source)
  3  storage error (unreadable database path, database from a newer qkfeed)
  4  busy: another worker or command was running a requested source (``fetch``,
     ``backfill``: they take the source's lease, see ``scraper.service.leases``), nothing failed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from scraper.config import DEFAULT_CONFIG_PATH, Config, SourceConfig, load_config
from scraper.errors import ConfigError, ExtractError, FetchError, QkfeedError, StorageError
from scraper.logs import setup_logging
from scraper.service.leases import LeaseLost, SourceBusy
from scraper.service.server import PortInUse

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORAGE, EXIT_BUSY = 0, 1, 2, 3, 4


class UsageError(QkfeedError):
    """Bad command-line input that argparse itself cannot catch."""


# --- helpers ---------------------------------------------------------------------------------


def _open_store(config: Config):  # -> storage.base.Store
    from storage import open_store

    return open_store(config.storage.url, pool_size=config.storage.pool_size)


def _fetcher(config: Config):
    from scraper.fetch.client import Fetcher

    return Fetcher(config.fetch)


def write_atomically(path: str | Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename: readers never see a half-written file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parse_since(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (use YYYY-MM-DD)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


WAIT_HELP = ("when a worker (or another command) is running the source, wait up to SECONDS for it "
             "to finish (default 0: report it busy, exit 4)")


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {value!r}")
    return seconds


def _fmt_time(when: datetime | None) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if when else "-"


# --- commands --------------------------------------------------------------------------------


def cmd_fetch(args: argparse.Namespace, config: Config) -> int:
    from scraper.pipeline.runner import SourceRunner
    from scraper.service.leases import SourceLeases

    sources = config.selected(args.sources)
    if not sources:
        raise UsageError("no sources configured")

    async def go() -> list:
        with _open_store(config) as store:
            async with _fetcher(config) as fetcher:
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
        with _open_store(config) as store:
            async with _fetcher(config) as fetcher:
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


def cmd_feed(args: argparse.Namespace, config: Config) -> int:
    from feeds.render import feed_meta, render

    if args.source:
        config.source(args.source)
    base = (config.server.base_url or config.feed.link or f"http://{config.server.host}:{config.server.port}").rstrip("/")
    with _open_store(config) as store:
        items = store.latest(source_id=args.source, limit=args.limit or config.feed.max_entries,
                             collapse_clusters=args.source is None)
    meta = feed_meta(config, source_id=args.source, base_url=base, fmt=args.format)
    data = render(args.format, meta, items, config.sources)
    if args.output and args.output != "-":
        try:
            write_atomically(args.output, data)
        except OSError as exc:  # a directory, a path under a file, no space: the old file stays
            raise UsageError(f"{args.output}: cannot write ({exc.strerror or exc})") from None
        print(f"wrote {len(items)} entries to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return EXIT_OK


def _source_for_url(config: Config, url: str | None, source_id: str | None) -> SourceConfig:
    from scraper.urls import same_site

    if source_id:
        return config.source(source_id)
    if url:
        for source in config.sources.values():
            if any(same_site(url, s) for s in source.start_urls):
                return source
    return SourceConfig(id="generic", name="generic", start_urls=("https://example.invalid/",))


def cmd_extract(args: argparse.Namespace, config: Config) -> int:
    from scraper.fetch.charset import decode_html
    from scraper.pipeline.runner import article_from_file

    target = args.file_or_url
    if target.startswith(("http://", "https://")):
        url = args.url or target

        async def get():
            async with _fetcher(config) as fetcher:
                return await fetcher.get(target)

        page = asyncio.run(get())
        html, url = page.text, args.url or page.url
    else:
        path = Path(target)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{target}: cannot read ({exc.strerror})") from None
        html, _ = decode_html(data, None)
        url = args.url or path.resolve().as_uri().replace("file://", "https://localhost")
    source = _source_for_url(config, url, args.source)
    article = article_from_file(html, url, source)
    out = {
        "url": article.original_url,
        "canonical_url": article.url,
        "source": source.id,
        "title": article.title,
        "published": article.published.strftime("%Y-%m-%dT%H:%M:%SZ") if article.published else None,
        "authors": list(article.authors),
        "agencies": list(article.agencies),
        "summary": article.summary,
        "image": article.image_url,
        "body_text": article.body_text,
        "body_html": article.body_html,
    }
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_reextract(args: argparse.Namespace, config: Config) -> int:
    from scraper.pipeline.reextract import reextract

    with _open_store(config) as store:
        r = reextract(config, store, args.sources)
    for sid, counts in sorted(r.per_source.items()):
        degraded = r.degraded(sid)
        extra = f"  degraded: {degraded}" if degraded else ""
        print(f"{sid:12} updated={counts['updated']} unchanged={counts['unchanged']} new={counts['new']} errors={counts['errors']}{extra}")
    for message in r.messages:
        print(f"error: {message}", file=sys.stderr)
    print(f"{r.pages} stored pages: updated={r.updated} unchanged={r.unchanged} new={r.new} errors={r.errors} skipped={r.skipped}")
    return EXIT_OK if not r.errors else EXIT_FAILED


def cmd_sources(args: argparse.Namespace, config: Config) -> int:
    with _open_store(config) as store:
        rows = store.source_health(list(config.sources))
    if args.json:
        print(json.dumps([
            {"id": h.source_id, "name": config.sources[h.source_id].name,
             "last_run": h.last_run.isoformat() if h.last_run else None,
             "last_success": h.last_success.isoformat() if h.last_success else None,
             "articles": h.articles, "errors": h.errors, "consecutive_failures": h.consecutive_failures,
             "last_error": h.last_error, "degraded": h.degraded} for h in rows
        ], ensure_ascii=False, indent=2))
        return EXIT_OK
    header = f"{'SOURCE':12} {'LAST RUN (UTC)':17} {'LAST SUCCESS':17} {'ARTICLES':>8} {'ERRORS':>6} {'FAILS':>5}  STATUS"
    print(header)
    for h in rows:
        if h.last_run is None:
            status = "never run"
        elif h.consecutive_failures:
            status = f"failing: {h.last_error or ''}"
        elif h.degraded:
            status = f"degraded: {h.degraded}"
        else:
            status = "ok"
        print(f"{h.source_id:12} {_fmt_time(h.last_run):17} {_fmt_time(h.last_success):17} {h.articles:8d} {h.errors:6d} {h.consecutive_failures:5d}  {status}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    if args.source:
        config.source(args.source)
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    with _open_store(config) as store:
        items = store.latest(source_id=args.source, limit=args.limit, q=args.query,
                             collapse_clusters=args.source is None)
    for item in items:
        art = item.article
        print(f"{_fmt_time(item.published_or_seen)}  {art.source_id:10} {art.title}\n    {art.original_url or art.url}")
        for sib in item.siblings:
            print(f"    also {sib.source_id}: {sib.link}")
    if not items:
        print("no article matches", file=sys.stderr)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    from scraper.dedup.syndication import index_archive
    from storage._migrations import load_migrations

    with _open_store(config) as store:  # opening applies the pending migrations
        filed = index_archive(store)
    print(f"schema version {len(load_migrations())}")
    if filed:
        print(f"{filed} articles filed among syndicated copies")
    return EXIT_OK


def cmd_copy(args: argparse.Namespace, config: Config) -> int:
    from tqdm import tqdm

    from storage import open_store
    from storage.copy import copy_store, source_rows

    with open_store(args.source or config.storage.url) as source, open_store(args.target) as target:
        with tqdm(total=source_rows(source), unit="row", desc="copy", disable=args.quiet or None) as bar:
            def on_rows(table: str, n: int) -> None:
                bar.set_postfix_str(table, refresh=False)
                bar.update(n)

            report = copy_store(source, target, progress=on_rows)
        from scraper.dedup.syndication import index_archive

        index_archive(target)  # clusters are not copied (ids differ): found again on the target
    for line in report.lines():
        print(line)
    return EXIT_OK


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from scraper.service.server import bind_socket, serve

    host = args.host or config.server.host
    port = config.server.port if args.port is None else args.port
    sock = bind_socket(host, port)  # first: a taken port must not leave a new database behind
    try:
        with _open_store(config) as store:
            asyncio.run(serve(config, store, host=host, port=port, sock=sock))
    finally:
        sock.close()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    from scraper.service.demo import run_demo

    run_demo(host=args.host or config.server.host, port=config.server.port if args.port is None else args.port, db=args.db)
    return EXIT_OK


# --- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    def common_options(defaults: bool) -> argparse.ArgumentParser:
        # the options work before and after the command; only the top level sets defaults
        p = argparse.ArgumentParser(add_help=False)
        d = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
        p.add_argument("--config", default=d(DEFAULT_CONFIG_PATH), metavar="FILE", help="config file (default: ./config.toml)")
        p.add_argument("--log-level", default=d("info"), choices=["debug", "info", "warning", "error"])
        p.add_argument("--log-format", default=d("logfmt"), choices=["logfmt", "json"])
        return p

    common = common_options(False)
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="qkfeed: Vietnamese military news sites -> clean articles -> one combined feed.",
        epilog="Exit codes: 0 ok, 1 something failed, 2 usage/config error, 3 storage error, "
               "4 busy (a requested source was being fetched by a worker or another command).",
        parents=[common_options(True)],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", parents=[common], help="the service: scheduler + feed server",
                       description="Keep every source fresh on its schedule and serve the feeds over HTTP "
                                   "until SIGTERM/SIGINT (then finish the write in progress and exit 0).")
    p.add_argument("--host", help="listen address (default: [server] host)")
    p.add_argument("--port", type=int, help="listen port (default: [server] port)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", parents=[common], help="the service against bundled sample pages (no network needed)",
                       description="Serve the bundled sample pages of every site on local ports and run the full "
                                   "service against them: the page and feeds fill within seconds.")
    p.add_argument("--host", help="listen address (default: [server] host)")
    p.add_argument("--port", type=int, help="listen port (default: [server] port)")
    p.add_argument("--db", metavar="FILE", help="keep the demo database in FILE (default: a temporary one)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("fetch", parents=[common], help="one pass over sources now",
                       description="Fetch the listing pages of the given sources (all enabled ones by default) once, "
                                   "store new and edited articles.")
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="source ids from the config")
    p.add_argument("--wait", type=_seconds, default=0.0, metavar="SECONDS", help=WAIT_HELP)
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("backfill", parents=[common], help="walk a source's older listing pages",
                       description="Walk a source's pagination back N pages or until DATE; resumable "
                                   "(an interrupted backfill continues where it stopped).")
    p.add_argument("source", metavar="SOURCE")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--pages", type=_positive_int, metavar="N", help="number of listing pages per start URL")
    g.add_argument("--since", type=_parse_since, metavar="DATE", help="stop after the page holding articles older than DATE")
    p.add_argument("--restart", action="store_true", help="ignore saved progress and start from page one")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--wait", type=_seconds, default=0.0, metavar="SECONDS", help=WAIT_HELP)
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("feed", parents=[common], help="export a feed",
                       description="Render the combined feed (or one source's) from the store.")
    p.add_argument("--format", choices=["atom", "rss", "json"], default="atom")
    p.add_argument("--source", metavar="ID", help="only this source")
    p.add_argument("--limit", type=_positive_int, metavar="N", help="entries (default: [feed] max_entries)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE atomically (default: stdout)")
    p.set_defaults(func=cmd_feed)

    p = sub.add_parser("extract", parents=[common], help="extract one page and print it as JSON",
                       description="Run extraction on a saved HTML file or a URL and print the article as JSON "
                                   "(url, title, published, authors, body_text, body_html, ...). "
                                   "The tool for writing and debugging a site profile.")
    p.add_argument("file_or_url", metavar="FILE_OR_URL")
    p.add_argument("--url", help="the page's URL (for a file: resolves links, picks the source)")
    p.add_argument("--source", metavar="ID", help="use this source's profile")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("reextract", parents=[common], help="extract the stored pages again (no fetching)",
                       description="Re-run extraction on the raw pages kept in the store (all sources, or the "
                                   "given ones) after a profile changed, without refetching; changed articles "
                                   "are stored as updated.")
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="source ids from the config")
    p.set_defaults(func=cmd_reextract)

    p = sub.add_parser("sources", parents=[common], help="health of every source",
                       description="Table of sources: last run, last success, articles, errors, status.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("search", parents=[common], help="full-text search of the archive",
                       description="Print the newest stored articles holding every word of QUERY (accent- and "
                                   "case-insensitive: 'bien gioi' finds 'biên giới'), one story per entry with "
                                   "its copies on other sites, or only the given source's articles.")
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--source", metavar="ID", help="only this source")
    p.add_argument("--limit", type=_positive_int, default=20, metavar="N", help="articles to show (default: 20)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("migrate", parents=[common], help="apply pending schema migrations",
                       description="Apply the pending schema migrations to the configured store and print "
                                   "its schema version (every command also migrates on open).")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("copy", parents=[common], help="copy a whole archive to another store",
                       description="Copy every article (guid, first_seen, updated, raw page), the run history, "
                                   "HTTP cache, source and backfill state from one store to another, e.g. "
                                   "SQLite to PostgreSQL. Copying again changes nothing; an article the target "
                                   "holds in a different, newer-or-equal version stops the copy (exit 3) and "
                                   "leaves the target as it was (one transaction).")
    p.add_argument("--from", dest="source", metavar="URL", help="storage URL to read (default: [storage] url)")
    p.add_argument("--to", dest="target", metavar="URL", required=True, help="storage URL to write (migrated first)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_copy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        config = load_config(args.config)
        return args.func(args, config)
    except (ConfigError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except SourceBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except (FetchError, ExtractError, LeaseLost) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
