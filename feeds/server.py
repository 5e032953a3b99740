"""The HTTP server: granian's embedded server, in the caller's event loop.

Why granian: measured with ``bench/serve.py`` against uvicorn running the same
app (``feeds.fastpath.FeedFront``), it got the higher ratio to nginx in every
case (HTTP parsing and writing run in a Rust thread, on hyper, beside the
Python one; README "Benchmarks" has the figures), and its
embedded server (``granian.server.embed.Server``, documented as "embedding
Granian in your project") runs the ASGI app as tasks of the running loop, so
the scheduler and the server share one process and one loop.

``[server]`` limits and how they are kept (``http_server``):

- ``header_timeout``: granian's HTTP/1 ``header_read_timeout``: a head must be
  complete that many seconds after the connection is ready for one, so a
  client that sends nothing, half a head, or stays idle between keep-alive
  requests is closed then;
- ``max_header_bytes``: ``FeedFront`` answers 431 and closes above it; hyper
  itself refuses a never-ending head once its read buffer (``READ_BUFFER``) is
  full, also with 431, so no head costs more memory than that;
- ``max_connections``: granian's ``backpressure``: at most that many
  connections are accepted at once; more wait in the kernel's listen queue
  (``backlog``) until one ends, and the queue's overflow is refused by the
  kernel.  They are not accepted and closed at once: granian offers no such
  knob and owns its listening socket, and waiting in the kernel costs this
  process no file descriptor, which is what the limit protects;
- repeated errors: granian's log records go to ``qkfeed.http`` through a
  ``feeds.logcap.RepeatFilter`` (one line per kind a minute, with a count).
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass
from typing import Any

from granian.http import HTTP1Settings
from granian.server.embed import Server

from scraper.config import ServerConfig
from scraper.logs import event, get_logger

from .logcap import RepeatFilter

__all__ = ["FD_RESERVE", "GRANIAN_LOGGER", "Limits", "http_server", "raise_fd_limit"]

log = get_logger("http")
# the logger granian's Python and Rust parts log to (the name its logging config uses)
GRANIAN_LOGGER = "_granian"
READ_BUFFER = 8192 + 4096 * 100  # hyper's read buffer, granian's default: the hard cap on a head
FD_RESERVE = 256  # descriptors kept for the store, the fetcher and logs beyond the connections
LISTEN_BACKLOG = 1024


@dataclass(frozen=True)
class Limits:
    """The request bounds of ``[server]`` (see the module docstring)."""

    header_timeout: float
    max_header_bytes: int
    max_connections: int

    @classmethod
    def of(cls, server: ServerConfig) -> Limits:
        return cls(server.header_timeout, server.max_header_bytes, server.max_connections)


class _ToQkfeedLog(logging.Handler):
    """Granian's log records as qkfeed events (``event=http_server``), repeats capped."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RepeatFilter())

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, Any] = {"message": record.getMessage()}
        if hasattr(record, "qk_fields"):
            fields.update(record.qk_fields)
        event(log, "http_server", record.levelno, **fields)


def _log_config() -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"qkfeed": {"()": _ToQkfeedLog}},
        "loggers": {
            GRANIAN_LOGGER: {"handlers": ["qkfeed"], "propagate": False},
            "granian.access": {"handlers": ["qkfeed"], "level": "WARNING", "propagate": False},
        },
    }


def raise_fd_limit(limits: Limits) -> None:
    """Raise the soft RLIMIT_NOFILE toward the hard one so ``max_connections`` fit in it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = limits.max_connections + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def http_server(app: Any, host: str, port: int, limits: Limits) -> Server:
    """Granian's embedded server for ``app`` on ``host:port``; ``await .serve()``, ``.stop()``."""
    return Server(
        app,
        address=host,
        port=port,
        interface="asginl",  # no lifespan: the service starts and stops things itself
        http="1",
        websockets=False,
        backlog=LISTEN_BACKLOG,
        backpressure=limits.max_connections,
        http1_settings=HTTP1Settings(
            header_read_timeout=max(1, round(limits.header_timeout * 1000)),  # milliseconds
            keep_alive=True,
            max_buffer_size=READ_BUFFER,
        ),
        log_enabled=True,
        log_level="error",  # its start-up lines (and "experimental!") are not events
        log_dictconfig=_log_config(),
        log_access=False,
    )
