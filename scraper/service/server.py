"""``run.py run``: the scheduler and the feed server in one process, until SIGTERM/SIGINT.

Serving: granian's embedded server in this process's event loop
(``feeds.server``), running ``feeds.app``, whose front answers repeated feed
requests from prebuilt ASGI messages (``feeds.fastpath``); the store version is
read at most every ``DEFAULT_VERSION_CHECK`` seconds (``feeds.version``), and
at once after each write of this process's own scheduler.  Request bounds and
the ``Host`` allowlist come from ``[server]`` (``feeds.server``, ``feeds.guard``).

Storage watch: every ``STORE_WATCH_INTERVAL`` seconds the store's health is
checked off the loop (``feeds.storeprobe``: what ``/healthz`` and ``/metrics``
answer).  When the SQLite file was deleted or replaced (``StoreLost``) the
service stops writing, says so in the log and in health, shuts down and
``run`` exits 3, so the supervisor starts it again on the file that is there.

Shutdown: the first signal stops the scheduler, lets the write in progress
finish (store writes are single transactions) and stops the server; the
process then exits 0.  A restart picks up where it left off because all state
is in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable
from typing import Any

from scraper.config import Config
from scraper.errors import QkfeedError
from scraper.logs import event, get_logger
from storage.base import StoreLost

log = get_logger("service")
GRACEFUL_SECONDS = 3.0  # answers in progress get this long after SIGTERM; then connections are dropped
STORE_WATCH_INTERVAL = 1.0  # seconds between the service's own store health checks


class PortInUse(QkfeedError):
    """The feed server's address is taken."""


class _WriteNotifyingStore:
    """The store as the scheduler sees it: a write that can change a feed marks the version stale."""

    # record_revisit: a removal or a restore changes the feeds (issue 12)
    WRITES = frozenset({"upsert_article", "file_article", "record_revisit", "rewrite_version"})

    def __init__(self, store: Any, on_write: Callable[[], None]) -> None:
        self._store = store
        self._on_write = on_write

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name not in self.WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            finally:
                self._on_write()

        return write


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before starting anything, so a taken port is one clear error.

    ``serve`` closes it and the HTTP server binds the same address (granian
    binds its own listening socket); with port 0 the port chosen here is used.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    except OverflowError:  # a --port outside 0..65535
        sock.close()
        raise PortInUse(f"cannot listen on {host}:{port}: ports are 0 to 65535") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(
    config: Config,
    store: object,
    *,
    host: str | None = None,
    port: int | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Run scheduler + feed server until a termination signal (on ``sock`` when given)."""
    from feeds.app import DEFAULT_VERSION_CHECK, create_app
    from feeds.guard import default_allowed_hosts, url_host
    from feeds.logcap import RepeatFilter
    from feeds.server import Limits, http_server, raise_fd_limit
    from scraper.fetch.client import Fetcher
    from scraper.pipeline.runner import SourceRunner
    from scraper.service.leases import SourceLeases
    from scraper.service.scheduler import SourceScheduler

    host = host or config.server.host
    port = config.server.port if port is None else port
    if sock is None:
        sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    sock.close()  # the HTTP server binds host:actual_port itself
    base_url = config.server.base_url or f"http://{url_host(host)}:{actual_port}"
    allowed = config.server.allowed_hosts or default_allowed_hosts(config.server.base_url, host)
    app = create_app(config, store, base_url=base_url, version_check=DEFAULT_VERSION_CHECK,
                     allowed_hosts=allowed)
    limits = Limits.of(config.server)
    raise_fd_limit(limits)
    for name in ("asyncio", "qkfeed.app"):  # a flood of one error: one line a minute, with a count
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(RepeatFilter())
    server = http_server(app, host, actual_port, limits)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with Fetcher(config.fetch) as fetcher:
        leases = SourceLeases(store)  # other workers may share the store
        writes = _WriteNotifyingStore(store, app.state.versions.invalidate)
        runner: Any = SourceRunner(config, writes, fetcher)
        publisher = None
        if config.feed.websub_hubs:  # service.publish: hubs told in the background after a run
            from scraper.service.publish import NotifyingRunner, WebSubPublisher

            publisher = WebSubPublisher(config, base_url)
            publisher.start()
            runner = NotifyingRunner(runner, publisher)
        scheduler = SourceScheduler(config, runner, leases=leases)
        scheduler.start()
        server_task = asyncio.create_task(server.serve())
        event(log, "service_started", url=base_url + "/", sources=len(config.selected(None)),
              worker=leases.holder)
        stop_task = asyncio.create_task(stop.wait())
        watch_task = asyncio.create_task(_watch_store(app.state.probe))
        await asyncio.wait({server_task, stop_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
        event(log, "service_stopping")
        watch_task.cancel()
        await scheduler.stop()
        if publisher is not None:
            await publisher.close()
        if server_task.done():
            server_task.result()  # the server could not start: its error, not a silent exit
        server.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server_task, timeout=GRACEFUL_SECONDS)
        stop_task.cancel()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    event(log, "service_stopped")
    if app.state.probe.lost:
        raise StoreLost(f"{app.state.probe.reason}; stopped so that a restart opens the file there now")


async def _watch_store(probe: Any) -> None:
    """Check the store's health every STORE_WATCH_INTERVAL; return when its file is lost."""
    was_up = True
    while not probe.lost:
        await probe.check()
        if probe.up != was_up:
            was_up = probe.up
            if was_up:
                event(log, "store_back")
            else:
                event(log, "store_down", logging.ERROR, reason=probe.reason)
        await asyncio.sleep(STORE_WATCH_INTERVAL)
    event(log, "store_lost", logging.ERROR, reason=probe.reason)
