"""What every command shares: exit codes, the usage error, opening the store and the fetcher.

Exit codes (scripts rely on them):
  0  everything worked
  1  the command ran but something failed (a source failed, a page could not be extracted)
  2  usage or configuration error (bad arguments, malformed config, unknown source)
  3  storage error (unreadable database path, database from a newer qkfeed)
  4  busy: another worker or command was running a requested source (``fetch``,
     ``backfill``: they take the source's lease, see ``scraper.service.leases``), nothing failed

Heavy modules (storage backends, the fetcher) are imported inside the helpers so
that ``run.py --help`` and the light commands start fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from scraper.config import Config
from scraper.errors import QkfeedError

if TYPE_CHECKING:
    from scraper.fetch.client import Fetcher
    from storage.base import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORAGE, EXIT_BUSY = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130


class UsageError(QkfeedError):
    """Bad command-line input that argparse itself cannot catch."""


def store_for(config: Config) -> Store:
    """The configured store, migrated (``storage.open_store``)."""
    from storage import open_store

    return open_store(config.storage.url, pool_size=config.storage.pool_size)


def fetcher_for(config: Config) -> Fetcher:
    """The one HTTP client, with the configured limits."""
    from scraper.fetch.client import Fetcher

    return Fetcher(config.fetch)


def fmt_time(when: datetime | None) -> str:
    """A table cell for a time: UTC to the minute, ``-`` for never."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if when else "-"
