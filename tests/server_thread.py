"""An app served by the service's real HTTP server (granian, ``feeds.server``) in a thread.

::

    with server_in_thread(app) as port:
        ...  # talk to 127.0.0.1:port

The server runs in its own event loop in a daemon thread, with the service's
``[server]`` limits (or the ones given); the block's end stops it and waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from feeds.server import Limits, http_server

START_TIMEOUT = 10.0  # seconds
HOST = "127.0.0.1"
DEFAULT_LIMITS = Limits(header_timeout=10.0, max_header_bytes=64 * 1024, max_connections=1000)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
        return True
    return False


@contextlib.contextmanager
def server_in_thread(app: Any, limits: Limits = DEFAULT_LIMITS) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1 until the block ends; yields the port."""
    port = _free_port()
    ready: dict[str, Any] = {}
    failed: list[BaseException] = []

    async def main() -> None:
        server = http_server(app, HOST, port, limits)
        ready["loop"], ready["server"] = asyncio.get_running_loop(), server
        await server.serve()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by the test thread
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(port):
            assert not failed, f"the server did not start: {failed[0]!r}"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        yield port
    finally:
        if "loop" in ready:
            ready["loop"].call_soon_threadsafe(ready["server"].stop)
        thread.join(START_TIMEOUT)
    assert not thread.is_alive(), "the server did not stop"
