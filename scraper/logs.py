"""Structured logs: one line per event, ``key=value`` pairs (logfmt) or JSON.

Every log call goes through ``event(logger, name, **fields)`` so lines are
greppable (``event=fetch source=qk3 status=200 ms=84``) and machine-readable.

Every line qkfeed writes on stderr goes through here: a command's message to the
person at the terminal (``error: …``, ``wrote 12 entries to x.atom``) is ``say()``,
one line as written under ``--log-format logfmt`` and an event with that ``message``
under ``--log-format json``; records of other libraries (asyncio, a stdlib logger)
reach the same handler through the root logger, as ``event=log logger=… message=…``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "qkfeed"


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, *, exc_info: bool = False, **fields: Any) -> None:
    """Log one structured event."""
    logger.log(level, name, extra={"qk_fields": fields}, exc_info=exc_info)


def say(logger: logging.Logger, name: str, message: str, level: int = logging.INFO, *,
        plain: str | None = None, **fields: Any) -> None:
    """A command's line for the person at the terminal: ``plain`` (default ``message``) as is
    in logfmt mode, ``{"event": name, "message": message, …}`` in JSON mode."""
    logger.log(level, name, extra={"qk_fields": {"message": message, **fields},
                                   "qk_plain": message if plain is None else plain})


def _fields(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    """(event name, fields) of a record: ours carry them, another library's becomes ``event=log``."""
    fields = getattr(record, "qk_fields", None)
    if fields is None:
        return "log", {"logger": record.name, "message": record.getMessage()}
    return record.getMessage(), fields


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


class LogfmtFormatter(logging.Formatter):
    """ts=… level=… event=… key=value …"""

    def format(self, record: logging.LogRecord) -> str:
        plain = getattr(record, "qk_plain", None)
        if plain is not None:
            return plain
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        name, fields = _fields(record)
        parts = [f"ts={ts}", f"level={record.levelname.lower()}", f"event={_quote(name)}"]
        for key, value in fields.items():
            if value is not None:
                parts.append(f"{key}={_quote(value)}")
        line = " ".join(parts)
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info), ensure_ascii=False)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        name, fields = _fields(record)
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "event": name,
            **{k: v for k, v in fields.items() if v is not None},
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handlers ``setup_logging`` installed, so a second call replaces them."""


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    """Send qkfeed's logs, and other libraries' warnings, to stderr in the chosen format;
    quiet the chatty libraries."""
    formatter = JsonFormatter() if fmt == "json" else LogfmtFormatter()
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(formatter)
    ours = logging.getLogger(LOGGER_NAME)
    ours.handlers[:] = [handler]
    ours.setLevel(level.upper())
    ours.propagate = False
    # any other logger (asyncio, a library's own) would otherwise reach Python's last-resort
    # handler, which prints bare text; other handlers on the root (a test's capture) stay
    root = logging.getLogger()
    foreign = _OurHandler(sys.stderr)
    foreign.setFormatter(formatter)
    foreign.setLevel(logging.WARNING)
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _OurHandler)] + [foreign]
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
