"""Repeated log lines, once per interval with a count: a flood of one error stays a few lines.

A server that runs out of file descriptors (EMFILE) or meets a stream of broken
clients can hit the same error thousands of times a second; logged each time,
that is megabytes of identical tracebacks and a disk that fills.  ``RepeatFilter``
lets the first record of a kind (logger, level, message template) through,
drops the next ones for ``interval`` seconds while counting them, and lets the
next one after that through with ``repeated=N`` (the dropped count) added.

Hand-written: the stdlib has no rate-limiting filter, and this is ~40 lines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["DEFAULT_INTERVAL", "RepeatFilter"]

DEFAULT_INTERVAL = 60.0  # seconds between two records of one kind


class RepeatFilter(logging.Filter):
    """Passes one record of each kind per ``interval`` seconds, counting the rest."""

    def __init__(
        self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, int, str], tuple[float, int]] = {}  # -> (passed at, dropped)

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        with self._lock:
            passed_at, dropped = self._kinds.get(kind, (-float("inf"), 0))
            if now - passed_at < self.interval:
                self._kinds[kind] = (passed_at, dropped + 1)
                return False
            self._kinds[kind] = (now, 0)
        if dropped:
            fields = getattr(record, "qk_fields", None)
            if isinstance(fields, dict):
                record.qk_fields = {**fields, "repeated": dropped}
            else:
                record.msg = f"{record.getMessage()} (repeated {dropped} times since the last line)"
                record.args = ()
        return True
