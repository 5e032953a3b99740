"""``run`` (the long-running service) and ``demo`` (the service against bundled sample pages)."""

from __future__ import annotations

import argparse
import asyncio

from scraper.config import Config

from .common import EXIT_OK, store_for


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from scraper.service.server import bind_socket, serve

    host = args.host or config.server.host
    port = config.server.port if args.port is None else args.port
    sock = bind_socket(host, port)  # first: a taken port must not leave a new database behind
    try:
        with store_for(config) as store:
            asyncio.run(serve(config, store, host=host, port=port, sock=sock))
    finally:
        sock.close()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    from scraper.service.demo import run_demo

    run_demo(host=args.host or config.server.host, port=config.server.port if args.port is None else args.port, db=args.db)
    return EXIT_OK

