"""``run`` (the long-running service) and ``demo`` (the service against bundled sample pages).

``run`` checks the store's integrity before it starts (``Store.quick_check``).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from scraper.config import Config
from scraper.errors import StorageError

from .common import EXIT_OK, store_for

if TYPE_CHECKING:
    from storage.base import Store


def refuse_damaged(store: Store) -> None:
    """StorageError (exit 3) when the store fails its integrity check: a service must not
    start writing into a corrupted file (it would spread the damage and hide it)."""
    problem = store.quick_check()
    if problem is not None:
        raise StorageError(f"{problem}; refusing to start: restore a backup, "
                           "or copy what can still be read with run.py copy")


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from scraper.service.server import bind_socket, serve

    host = args.host or config.server.host
    port = config.server.port if args.port is None else args.port
    sock = bind_socket(host, port)  # first: a taken port must not leave a new database behind
    try:
        with store_for(config) as store:
            refuse_damaged(store)
            asyncio.run(serve(config, store, host=host, port=port, sock=sock))
    finally:
        sock.close()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    from scraper.service.demo import run_demo

    run_demo(config, host=args.host or config.server.host,
             port=config.server.port if args.port is None else args.port, db=args.db)
    return EXIT_OK

