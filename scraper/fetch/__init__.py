"""Fetch: a URL in, a decoded :class:`~scraper.models.Page` out (or a FetchError).

The one HTTP client of the project: time, size and redirect limits, the
address guard (private networks refused after DNS, on every hop), retries,
robots.txt, per-host spacing and concurrency, conditional requests and
charset detection.
"""

from scraper.fetch.charset import decode_html
from scraper.fetch.client import Fetcher
from scraper.fetch.politeness import HostLimiter, RobotsCache, RobotsUnreachable

__all__ = ["Fetcher", "HostLimiter", "RobotsCache", "RobotsUnreachable", "decode_html"]
