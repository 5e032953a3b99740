"""WebSub for one-off commands: ``fetch``, ``backfill`` and ``import`` tell the hubs too.

The service tells ``[feed] websub_hubs`` after every run that stored or changed
articles (``scraper.service.publish``); a command run from cron stores articles
as well, so it does the same through the same ``WebSubPublisher`` (same
notifications, retries, address guard).  Differences, because a command exits:

- It sends while it runs, then waits at most ``GRACE`` seconds for what is still
  queued; whatever that cuts off (and whatever a hub refused) is one
  ``websub_undelivered`` warning.  A hub that is down or slow never changes the
  command's exit code and never holds it up longer than ``GRACE``.
- The topic URLs are ``[server] base_url`` only.  The service falls back to its
  bind address, which is where it serves; a command serves nothing, so without
  ``base_url`` it cannot know the public feed URLs.  It then sends nothing and logs
  one ``websub_skipped`` warning (only when the run changed something).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from scraper.config import Config
from scraper.logs import event, get_logger

__all__ = ["GRACE", "Announcer", "announcing"]

log = get_logger("websub")

GRACE = 5.0  # seconds a finished command waits for notifications still queued
WORKERS = 8  # more than the service's: a hub retried through the grace should not starve another
MAX_LISTED = 20  # cut-off topics named in the warning (the count is always whole)


class Announcer:
    """``on_run(source_id, new, updated)`` after each run; what ``NotifyingRunner`` calls."""

    def __init__(self, publisher: object | None) -> None:
        self.publisher = publisher
        self.changed: list[str] = []  # sources whose articles changed, in order, once each

    def on_run(self, source_id: str, new: int, updated: int) -> None:
        if not (new or updated):
            return
        if source_id not in self.changed:
            self.changed.append(source_id)
        if self.publisher is not None:
            self.publisher.on_run(source_id, new, updated)  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def announcing(config: Config, *, grace: float = GRACE) -> AsyncIterator[Announcer]:
    """An ``Announcer`` for the command's runs; on exit, the bounded drain and its warning."""
    if not config.feed.websub_hubs:
        yield Announcer(None)
        return
    if not config.server.base_url:
        announcer = Announcer(None)
        try:
            yield announcer
        finally:
            if announcer.changed:
                event(log, "websub_skipped", logging.WARNING, sources=",".join(announcer.changed),
                      reason="[server] base_url is not set: the public feed URLs are unknown, no hub told")
        return
    from scraper.service.publish import WebSubPublisher

    publisher = WebSubPublisher(config, config.server.base_url, workers=WORKERS)
    publisher.start()
    try:
        yield Announcer(publisher)
    finally:
        await publisher.close(grace)
        if publisher.cut_off or publisher.failed or publisher.dropped:
            cut = publisher.cut_off
            event(log, "websub_undelivered", logging.WARNING, sent=publisher.sent, failed=publisher.failed,
                  dropped=publisher.dropped, cut_off=len(cut), grace=grace,
                  hubs=",".join(sorted({hub for hub, _ in cut})),
                  topics=",".join(sorted({topic for _, topic in cut})[:MAX_LISTED]))
