"""New articles on the fixture sites while a test runs, so the service always has ingest to do.

url = copy_article(sites, "qk3", 7)        # one copy of the site's first article, linked
                                           # at the top of its first listing page
with Publisher(sites, every=2.0) as pub:   # a copy every 2 s, round-robin over the sites
    ...
pub.published                              # URLs of the copies so far
"""

from __future__ import annotations

import html
import re
import threading
from types import TracebackType

from fixture_sites import SITES_DIR, FixtureSites, expected_articles

__all__ = ["Publisher", "copy_article"]


def copy_article(sites: FixtureSites, site_id: str, n: int) -> str:
    """Publish a copy of the site's first article under a new path and title; its URL."""
    manifest = sites.manifest(site_id)
    seed = manifest["articles"][0]
    gold = next(e for e in expected_articles(site_id) if e["url"] == seed)
    page = (SITES_DIR / site_id / manifest["routes"][seed]).read_text("utf-8")
    head, _, last = seed.rpartition("/")
    path = f"{head}/ban-sao-{n}-{last}"
    page = page.replace(seed, path)
    numeric_id = re.search(r"(\d{4,})(?:\.html?)?$", last)
    if numeric_id:  # the id may also be in a canonical or short link: give the copy its own
        old_id = numeric_id.group(1)
        new_id = str(int(old_id) + 100_000 + n)
        path = path.replace(old_id, new_id)
        page = page.replace(old_id, new_id)
    title = gold["title"]
    new_title = f"{title} (bản {n})"
    page = page.replace(html.escape(title, quote=False), html.escape(new_title, quote=False))
    page = page.replace(title, new_title)
    sites.add_article(site_id, path, page, manifest["start_urls"][0], title=new_title)
    return sites.url(site_id, path)


class Publisher:
    """A thread that publishes a copy every ``every`` seconds (at most ``limit``)."""

    def __init__(
        self, sites: FixtureSites, *, every: float = 2.0, limit: int = 200, first: int = 10_000
    ) -> None:
        self.sites = sites
        self.every = every
        self.limit = limit
        self.first = first
        self.published: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)

    def _run(self) -> None:
        ids = self.sites.site_ids
        while len(self.published) < self.limit and not self._stop.wait(self.every):
            n = len(self.published)
            self.published.append(copy_article(self.sites, ids[n % len(ids)], self.first + n))

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(10)
