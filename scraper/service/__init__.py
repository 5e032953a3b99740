"""Service: the long-running process.

A config in, a running service out: source leases in the database
(``leases``), every source on its interval with jitter and backoff
(``scheduler``), the feed server in the same event loop (``server``), and the
self-contained demo over the bundled sample sites (``demo``).
"""

from scraper.service.leases import LeaseLost, SourceBusy, SourceLeases
from scraper.service.scheduler import SourceScheduler
from scraper.service.server import PortInUse, serve

__all__ = ["LeaseLost", "PortInUse", "SourceBusy", "SourceLeases", "SourceScheduler", "serve"]
