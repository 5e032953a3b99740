"""CLI: argv in, an exit code out (0 ok, 1 failed, 2 usage/config, 3 storage, 4 busy).

One function per command; ``run.py`` and the ``qkfeed`` script call ``main``.
"""

from scraper.cli.commands import build_parser, main, write_atomically

__all__ = ["build_parser", "main", "write_atomically"]
