"""The scheduler's runner, telling the WebSub publisher after each run (``feeds.websub``).

Wraps ``SourceRunner`` so the scheduler stays as it is: ``run_source`` returns
the run's result unchanged, after handing its counts to the publisher, which
only queues notifications (it never waits on a hub, and a failure there never
reaches the run).
"""

from __future__ import annotations

import logging
from typing import Any

from scraper.config import SourceConfig
from scraper.logs import event, get_logger

__all__ = ["NotifyingRunner"]

log = get_logger("websub")


class NotifyingRunner:
    """``runner`` whose every ``run_source`` ends with ``publisher.on_run(source, new, updated)``."""

    def __init__(self, runner: Any, publisher: Any) -> None:
        self.runner = runner
        self.publisher = publisher

    async def run_source(self, source: SourceConfig) -> Any:
        result = await self.runner.run_source(source)
        try:
            self.publisher.on_run(source.id, result.new, result.updated)
        except Exception as exc:  # notifications are a courtesy: the run stands
            event(log, "websub_failed", logging.ERROR, source=source.id, error=repr(exc)[:200])
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)
