"""``main``: argv in, an exit code out; which error maps to which code is here, once."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from scraper.config import load_config
from scraper.errors import ConfigError, ExtractError, FetchError, StorageError
from scraper.logs import setup_logging
from scraper.service.leases import LeaseLost, SourceBusy
from scraper.service.server import PortInUse

from .common import EXIT_BUSY, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_STORAGE, EXIT_USAGE, UsageError
from .parser import build_parser


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
        return EXIT_INTERRUPTED
