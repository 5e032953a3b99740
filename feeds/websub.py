"""WebSub (W3C WebSub): what the feeds advertise, and which feeds a run changed.

The publisher that sends the notifications is ``scraper.service.publish``
(it needs the fetcher's guarded transport, which ``feeds/`` does not import).

Settings: ``[feed] websub_hubs`` (hub URLs; none: no hub links) and
``[server] base_url`` (the topic and self URLs; the service falls back to its
bind address, never a request's ``Host``).

- Every unfiltered feed advertises each hub and its own URL: ``rel="hub"`` /
  ``rel="self"`` as Atom links, RSS ``atom:link``s, JSON Feed ``hubs``, and an
  HTTP ``Link`` header (``hub_links``, ``link_header``).
- After a scheduled run that stored or changed articles, each hub is told
  about every feed in ``changed_feeds`` (the combined feed and the source's,
  each format), once.
"""

from __future__ import annotations

from collections.abc import Iterable

from .entries import FEED_FILES, FORMATS

__all__ = ["changed_feeds", "hub_links", "link_header"]


def hub_links(hubs: Iterable[str], self_url: str) -> tuple[tuple[str, str], ...]:
    """The feed-level links a WebSub subscriber looks for: each hub, then self."""
    return tuple(("hub", hub) for hub in hubs) + (("self", self_url),)


def link_header(hubs: Iterable[str], self_url: str) -> str:
    """The HTTP ``Link`` header value with the same links (RFC 8288)."""
    return ", ".join(f'<{href}>; rel="{rel}"' for rel, href in hub_links(hubs, self_url))


def changed_feeds(base_url: str, source_id: str) -> list[str]:
    """The feed URLs a change to ``source_id``'s articles changes: the combined feed and its own."""
    base = base_url.rstrip("/")
    return [f"{base}/{FEED_FILES[fmt]}" for fmt in FORMATS] + [
        f"{base}/sources/{source_id}/{FEED_FILES[fmt]}" for fmt in FORMATS
    ]
