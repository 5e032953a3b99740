"""What every command shares: exit codes, the usage error, opening the store and the fetcher.

Exit codes (scripts rely on them; the rule is in ``main``'s docstring and the README):
  0  everything worked
  1  the command ran but something failed (a source, a listing or article page, a taken port)
  2  usage or configuration error (bad arguments, malformed config, unknown source, a storage
     URL that names no store, an output folder that does not exist)
  3  storage error (a store that cannot be opened or used: unreadable, newer, damaged, down)
  4  busy: another worker or command was running a requested source (``fetch``,
     ``backfill``: they take the source's lease, see ``scraper.service.leases``), nothing failed

Heavy modules (storage backends, the fetcher) are imported inside the helpers so
that ``run.py --help`` and the light commands start fast.
"""

from __future__ import annotations

from argparse import Namespace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from scraper.config import Config
from scraper.errors import UsageError

if TYPE_CHECKING:
    from scraper.fetch.client import Fetcher
    from storage.base import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORAGE, EXIT_BUSY = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130

__all__ = ["EXIT_BUSY", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_STORAGE", "EXIT_USAGE",
           "UsageError", "counters", "fetcher_for", "fmt_time", "progress_hidden", "store_for"]


def store_for(config: Config) -> Store:
    """The configured store, migrated (``storage.open_store``)."""
    from storage import open_store

    return open_store(config.storage.url, pool_size=config.storage.pool_size)


def fetcher_for(config: Config) -> Fetcher:
    """The one HTTP client, with the configured limits."""
    from scraper.fetch.client import Fetcher

    return Fetcher(config.fetch)


def counters(new: int, updated: int, unchanged: int, errors: int) -> str:
    """A run's counts, in the one order every command prints them."""
    return f"new={new} updated={updated} unchanged={unchanged} errors={errors}"


def progress_hidden(args: Namespace) -> bool | None:
    """``tqdm(disable=…)``: no bar with ``--quiet`` or JSON logs (every stderr line is then
    JSON), else one only on a terminal (None)."""
    return True if getattr(args, "quiet", False) or getattr(args, "log_format", "") == "json" else None


def fmt_time(when: datetime | None) -> str:
    """A table cell for a time: UTC to the minute, ``-`` for never."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if when else "-"
