"""CLI: argv in, an exit code out (0 ok, 1 failed, 2 usage/config, 3 storage, 4 busy).

One module per command group: ``fetching`` (fetch, backfill), ``feeds`` (feed,
search, sources), ``extract``, ``archive`` (migrate, copy, reextract),
``service`` (run, demo); ``parser`` builds the argparse tree, ``main`` maps
errors to exit codes, ``output`` writes files atomically.  ``run.py`` and the
``qkfeed`` script call ``main``.
"""

from scraper.cli.main import main
from scraper.cli.output import write_atomically
from scraper.cli.parser import build_parser

__all__ = ["build_parser", "main", "write_atomically"]
