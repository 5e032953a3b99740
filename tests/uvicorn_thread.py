"""An app served by a real uvicorn on 127.0.0.1, in a thread of the test process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

START_TIMEOUT = 10.0  # seconds


@contextlib.contextmanager
def uvicorn_in_thread(app: Any, **config: Any) -> Iterator[int]:
    """Serve ``app`` (uvicorn.Config keywords in ``config``) until the block ends; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", ws="none", log_level="warning",
                                           access_log=False, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not stop"
