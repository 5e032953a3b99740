"""``run.py demo``: the whole service against the bundled sample pages, with no network needed.

The sample pages are the fixture copies of every site in ``tests/fixtures/sites``
(built from what is known about the real sites), served on local ports by
``tests/fixture_sites.py``.  The demo points a config at them, keeps its
database in a temporary directory unless ``--db`` is given, and runs the
normal service: within seconds the page at ``/`` and the feeds are filled.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import tomllib
from pathlib import Path

from scraper.config import config_from_dict
from scraper.errors import QkfeedError
from scraper.logs import event, get_logger

log = get_logger("demo")
TESTS_DIR = Path(__file__).resolve().parents[2] / "tests"
DEMO_INTERVAL = "2m"


class DemoUnavailable(QkfeedError):
    """The sample pages are not there (qkfeed was installed without its source tree)."""


def _fixture_sites():
    if not (TESTS_DIR / "fixture_sites.py").exists():
        raise DemoUnavailable(f"the demo needs the sample pages in {TESTS_DIR} (run it from a source checkout)")
    sys.path.insert(0, str(TESTS_DIR))
    from fixture_sites import FixtureSites  # type: ignore[import-not-found]

    return FixtureSites


def run_demo(*, host: str, port: int, db: str | None) -> None:
    """Serve the sample sites and run the service against them until SIGTERM/SIGINT."""
    from scraper.service.server import serve
    from storage import open_store

    fixture_sites = _fixture_sites()
    with tempfile.TemporaryDirectory(prefix="qkfeed-demo-") as tmp, fixture_sites() as sites:
        storage_url = f"sqlite:///{Path(db).resolve() if db else Path(tmp) / 'demo.db'}"
        text = sites.config_text(storage_url)
        text = re.sub(r"(?m)^interval = .*$", f'interval = "{DEMO_INTERVAL}"', text)
        data = tomllib.loads(text)
        data.setdefault("server", {}).update(host=host, port=port, base_url=None)
        data["server"] = {k: v for k, v in data["server"].items() if v is not None}
        config = config_from_dict(data, "<demo config>")
        for sid in config.sources:
            event(log, "demo_site", source=sid, url=sites.base_url(sid))
        print(f"qkfeed demo: open http://{host}:{port}/  (feeds: /feed.atom /feed.rss /feed.json; Ctrl-C stops)",
              file=sys.stderr, flush=True)
        with open_store(config.storage.url) as store:
            asyncio.run(serve(config, store))
