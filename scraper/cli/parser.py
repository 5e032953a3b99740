"""The argparse tree: every command, its options and ``--help`` text.

Common options (``--config``, ``--log-level``, ``--log-format``) work before and
after the command.  Each sub-parser sets ``func``, the command function that
``scraper.cli.main`` calls with the parsed arguments and the loaded config.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from typing import NoReturn

from scraper.config import DEFAULT_CONFIG_PATH
from scraper.logs import get_logger, say

from .archive import cmd_copy, cmd_migrate, cmd_reextract
from .export import cmd_export, cmd_import, parse_until
from .extract import cmd_extract
from .feeds import cmd_feed, cmd_search, cmd_sources
from .fetching import cmd_backfill, cmd_fetch
from .history import cmd_history
from .service import cmd_demo, cmd_run


def parse_since(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (use YYYY-MM-DD)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def port_number(value: str) -> int:
    """A TCP port, 0 to 65535 (0: any free one), else a usage error (exit 2) like any bad argument."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"ports are 0 to 65535, not {number}")
    return number


WAIT_HELP = ("when a worker (or another command) is running the source, wait up to SECONDS for it "
             "to finish (default 0: report it busy, exit 4)")


def seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {value!r}")
    return seconds



class Parser(argparse.ArgumentParser):
    """argparse with a bad argument reported as one line, like every other error (exit 2).

    ``error`` is the documented hook for this ("users can override this method")."""

    def error(self, message: str) -> NoReturn:
        say(get_logger("cli"), "usage_error", message, logging.ERROR, plain=f"error: {message} (see {self.prog} --help)")
        self.exit(2)


def build_parser() -> argparse.ArgumentParser:
    def common_options(defaults: bool) -> argparse.ArgumentParser:
        # the options work before and after the command; only the top level sets defaults
        p = Parser(add_help=False)
        d = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
        p.add_argument("--config", default=d(DEFAULT_CONFIG_PATH), metavar="FILE", help="config file (default: ./config.toml)")
        p.add_argument("--log-level", default=d("info"), choices=["debug", "info", "warning", "error"])
        p.add_argument("--log-format", default=d("logfmt"), choices=["logfmt", "json"])
        return p

    common = common_options(False)
    parser = Parser(
        prog="run.py",
        description="qkfeed: Vietnamese military news sites -> clean articles -> one combined feed.",
        epilog="Exit codes: 0 ok, 1 something failed (a source, a page, a taken port), 2 usage/config "
               "error (arguments, config file, storage URL), 3 storage error (the store fails when used), "
               "4 busy (a requested source was being fetched by a worker or another command), "
               "130/143 interrupted.",
        parents=[common_options(True)],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", parents=[common], help="the service: scheduler + feed server",
                       description="Keep every source fresh on its schedule and serve the feeds over HTTP "
                                   "until SIGTERM/SIGINT (then finish the write in progress and exit 0). "
                                   "A store that fails its integrity check on start is refused (exit 3).")
    p.add_argument("--host", help="listen address (default: [server] host)")
    p.add_argument("--port", type=port_number, help="listen port (default: [server] port)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", parents=[common], help="the service against bundled sample pages (no network needed)",
                       description="Serve the bundled sample pages of every site on local ports and run the full "
                                   "service against them: the page and feeds fill within seconds.")
    p.add_argument("--host", help="listen address (default: [server] host)")
    p.add_argument("--port", type=port_number, help="listen port (default: [server] port)")
    p.add_argument("--db", metavar="FILE", help="keep the demo database in FILE (default: a temporary one)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("fetch", parents=[common], help="one pass over sources now",
                       description="Fetch the listing pages of the given sources (all enabled ones by default) once, "
                                   "store new and edited articles.")
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="source ids from the config")
    p.add_argument("--wait", type=seconds, default=0.0, metavar="SECONDS", help=WAIT_HELP)
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("backfill", parents=[common], help="walk a source's older listing pages",
                       description="Walk a source's pagination back N pages or until DATE; resumable "
                                   "(an interrupted backfill continues where it stopped; SIGINT/SIGTERM stop it "
                                   "at the next article boundary, exit 130/143).")
    p.add_argument("source", metavar="SOURCE")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--pages", type=positive_int, metavar="N", help="number of listing pages per start URL")
    g.add_argument("--since", type=parse_since, metavar="DATE", help="stop after the page holding articles older than DATE")
    p.add_argument("--restart", action="store_true", help="ignore saved progress and start from page one")
    p.add_argument("--max-pages", type=positive_int, metavar="N",
                   help="listing pages per start URL at most (default 1000); the walk also ends at a page "
                        "walked already and after 3 pages with no article not seen earlier in it")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--wait", type=seconds, default=0.0, metavar="SECONDS", help=WAIT_HELP)
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("feed", parents=[common], help="export a feed",
                       description="Render the combined feed (or one source's) from the store.")
    p.add_argument("--format", choices=["atom", "rss", "json"], default="atom")
    p.add_argument("--source", metavar="ID", help="only this source")
    p.add_argument("--limit", type=positive_int, metavar="N", help="entries (default: [feed] max_entries)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE: a regular file is replaced atomically, a device or FIFO "
                        "(/dev/null, /dev/stdout) written in place; - or none: stdout")
    p.set_defaults(func=cmd_feed)

    p = sub.add_parser("extract", parents=[common], help="extract one page and print it as JSON",
                       description="Run extraction on a saved HTML file or a URL and print the article as JSON "
                                   "(url, title, published, authors, body_text, body_html, ...). "
                                   "The tool for writing and debugging a site profile.")
    p.add_argument("file_or_url", metavar="FILE_OR_URL")
    p.add_argument("--url", help="the page's URL (for a file: resolves links, picks the source)")
    p.add_argument("--source", metavar="ID", help="use this source's profile")
    p.add_argument("--explain", action="store_true",
                   help="show which rule or selector gave each field and which candidates lost "
                        "(an \"explain\" object in the JSON, a readable report on stderr)")
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
    p.add_argument("--limit", type=positive_int, default=20, metavar="N", help="articles to show (default: 20)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("history", parents=[common], help="an article's versions and removal",
                       description="Print a stored article's status (live or removed, and when) and every "
                                   "version seen, oldest first, with the words each edit changed.")
    p.add_argument("article", metavar="URL_OR_GUID", help="the article's URL or feed GUID (urn:uuid:...)")
    p.add_argument("--json", action="store_true",
                   help='one JSON object: url, guid, status, removed_at, versions (oldest first)')
    p.set_defaults(func=cmd_history)

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

    p = sub.add_parser("export", parents=[common], help="the whole archive as WARC, JSONL or CSV",
                       description="Write every stored article (or a selection) as WARC/1.1 (raw pages as "
                                   "response records plus the extracted article as metadata records), JSONL "
                                   "(one article per line, every field) or CSV (UTF-8 with BOM, no body_html). "
                                   "Streamed: memory stays flat in the archive's size; -o FILE is replaced "
                                   "atomically when the export is complete.")
    p.add_argument("--format", choices=["warc", "jsonl", "csv"], required=True)
    p.add_argument("--source", dest="sources", action="extend", nargs="+", metavar="ID",
                   help="only these sources (--source a b, or repeated)")
    p.add_argument("--since", type=parse_since, metavar="DATE", help="published (or first seen) on or after DATE")
    p.add_argument("--until", type=parse_until, metavar="DATE",
                   help="published before DATE (a bare date: through that day)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (replaced atomically; a device or FIFO written in place); - or none: stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", parents=[common], help="store the pages of a WARC file",
                       description="Read a WARC (qkfeed's export or another crawler's) and store every HTML "
                                   "page of an HTTP 200 response through the normal extraction path; the source "
                                   "is --source or the configured source with the page's host. Idempotent.")
    p.add_argument("--format", choices=["warc"], default="warc")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--source", metavar="ID", help="extract every page with this source's profile")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)
    return parser

