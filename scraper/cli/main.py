"""``main``: argv in, an exit code out; which error maps to which code is here, once.

The rule (the README's table; ``common.py`` lists the codes):

* ``2`` whatever the person can fix in the command line or the config file before anything
  ran: bad arguments (``--port 99999``, ``--port 80abc``), a malformed config, an unknown
  source, a storage URL that names no store (``mysql://…``, ``sqlite:///`` without a path,
  also as ``copy --to``), an output path whose folder does not exist;
* ``3`` a store that is named right but fails when used: cannot be opened or written, from a
  newer qkfeed, damaged, its server down, its driver not installed;
* ``1`` the command ran and something in it failed: a source, a listing or an article page
  (fetch or extraction), the port to listen on is taken;
* ``4`` busy (a source's lease is held elsewhere); ``130``/``143`` interrupted;
* an unexpected exception (a bug) is logged with its traceback (``event=crashed``), exit 1.

A listing page past the end of the pagination (a 404 one page after the last) is how a
backfill learns the walk is over: not a failure.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from scraper.config_load import load_config
from scraper.errors import ConfigError, ExtractError, FetchError, StorageError, StorageURLError
from scraper.logs import event, get_logger, say, setup_logging
from scraper.service.leases import LeaseLost, SourceBusy
from scraper.service.server import PortInUse

from .common import EXIT_BUSY, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_STORAGE, EXIT_USAGE, UsageError
from .parser import build_parser

log = get_logger("cli")

# the first class an error is an instance of decides the exit code (subclasses first)
EXIT_CODES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int], ...] = (
    ((ConfigError, UsageError, StorageURLError), EXIT_USAGE),
    (StorageError, EXIT_STORAGE),
    (SourceBusy, EXIT_BUSY),
    ((PortInUse, FetchError, ExtractError, LeaseLost), EXIT_FAILED),
)


def _log_format(argv: list[str]) -> str:
    """``--log-format`` as given, before the arguments are parsed (they may be wrong)."""
    for i, arg in enumerate(argv):
        if arg == "--log-format=json" or (arg == "--log-format" and argv[i + 1 : i + 2] == ["json"]):
            return "json"
    return "logfmt"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging("info", _log_format(argv))  # so that a bad argument is reported in that format too
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        config = load_config(args.config)
        return args.func(args, config)
    except KeyboardInterrupt:
        say(log, "interrupted", "interrupted", logging.WARNING)
        return EXIT_INTERRUPTED
    except Exception as exc:
        for kinds, code in EXIT_CODES:
            if isinstance(exc, kinds):
                if isinstance(exc, SourceBusy):
                    say(log, "busy", str(exc), logging.WARNING, plain=f"busy: {exc}", exit=code)
                else:
                    say(log, "error", str(exc), logging.ERROR, plain=f"error: {exc}", exit=code)
                return code
        # a bug: its traceback still reaches stderr, as one structured line (``exc``)
        event(log, "crashed", logging.CRITICAL, exc_info=True, error=f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED
