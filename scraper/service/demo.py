"""``run.py demo``: the whole service against the bundled sample pages, with no network needed.

The sample pages are the fixture copies of every site in ``tests/fixtures/sites``
(built from what is known about the real sites), served on local ports by
``tests/fixture_sites.py``.  The demo takes the config file it was given (``--config``:
its sources, profiles, ``[fetch]``, ``[feed]`` and ``[server]`` settings), keeps the
sources that have sample pages with their start URLs moved to the sample servers,
keeps its database in a temporary directory unless ``--db`` is given (never the
config's ``[storage]``: sample articles do not belong in a real archive), and runs
the normal service: within seconds the page at ``/`` and the feeds are filled.

Stable URLs: the sample sites listen on the ports right after the demo's own
(``--port 8080``: 8081, 8082, … in the order of the config's sources), so a demo
restarted on the same ``--port`` and ``--db`` finds the articles it stored (their
URLs hold the port) instead of storing every one again.  The demo's own port is
bound first and the sites' next: a taken port is one line and exit 1, before
anything is announced; "open http://…" is said once the server answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scraper.config import Config
from scraper.config_load import config_from_dict
from scraper.errors import ConfigError, UsageError
from scraper.logs import event, get_logger, say

log = get_logger("demo")
TESTS_DIR = Path(__file__).resolve().parents[2] / "tests"
DEMO_INTERVAL = "2m"
ANNOUNCE_POLL = 0.1  # seconds between two checks that the demo's server answers


class DemoUnavailable(UsageError):
    """The sample pages are not there (qkfeed was installed without its source tree)."""


def _fixture_sites() -> Any:
    if not (TESTS_DIR / "fixture_sites.py").exists():
        raise DemoUnavailable(f"the demo needs the sample pages in {TESTS_DIR} (run it from a source checkout)")
    sys.path.insert(0, str(TESTS_DIR))
    from fixture_sites import FixtureSites, all_site_ids  # type: ignore[import-not-found]

    return FixtureSites, all_site_ids


def _read_toml(path: str) -> dict[str, Any]:
    """The config file as written (already validated by ``load_config``), to be re-aimed."""
    try:
        return tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, None, f"cannot read: {exc}") from None


def demo_sources(config: Config, with_samples: list[str]) -> list[str]:
    """The config's source ids that have sample pages, in config order."""
    return [sid for sid in config.sources if sid in with_samples]


def demo_config(data: dict[str, Any], path: str, *, sites: dict[str, str], storage_url: str,
                host: str, port: int) -> Config:
    """The config file ``data`` aimed at the sample servers (``sites``: id -> base URL)."""
    data = {k: v for k, v in data.items() if k != "storage"}
    data["storage"] = {**(data.get("storage") or {}), "url": storage_url}
    fetch = dict(data.get("fetch") or {})
    fetch.update(allow_private_networks=True, per_host_delay=0.0, retries=1)  # loopback sample sites
    data["fetch"] = fetch
    server = {k: v for k, v in (data.get("server") or {}).items() if k not in ("base_url", "allowed_hosts")}
    data["server"] = {**server, "host": host, "port": port}
    sources = {}
    for sid, raw in (data.get("sources") or {}).items():
        if sid not in sites:
            continue
        raw = dict(raw)
        raw["start_urls"] = [_moved(u, sites[sid]) for u in raw.get("start_urls", [])]
        raw["interval"] = DEMO_INTERVAL
        raw["enabled"] = True
        sources[sid] = raw
    data["sources"] = sources
    return config_from_dict(data, path)


def _moved(url: str, base: str) -> str:
    parts = urlsplit(url)
    return base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


async def _announce_when_up(host: str, port: int, serving: asyncio.Task[None]) -> None:
    """Say "open http://…" once the server accepts connections (not before: it may fail)."""
    while not serving.done():
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(ANNOUNCE_POLL)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        shown = f"[{host}]" if ":" in host else host
        say(log, "demo_ready", f"qkfeed demo: open http://{shown}:{port}/  "
            "(feeds: /feed.atom /feed.rss /feed.json; Ctrl-C stops)", url=f"http://{shown}:{port}/")
        return


def run_demo(config: Config, *, host: str, port: int, db: str | None) -> None:
    """Serve the sample sites and run the service against them until SIGTERM/SIGINT."""
    from scraper.service.server import PortInUse, bind_socket, serve
    from storage import open_store

    fixture_sites, all_site_ids = _fixture_sites()
    ids = demo_sources(config, all_site_ids())
    if not ids:
        raise ConfigError(config.path, "sources", "none of them has sample pages "
                          f"(the demo has: {', '.join(all_site_ids())})")
    sock = bind_socket(host, port)  # first: a taken port fails before anything starts
    try:
        port = sock.getsockname()[1]
        if port + len(ids) > 65535:
            raise UsageError(f"--port {port}: the sample sites need the {len(ids)} ports after it")
        try:
            sites = fixture_sites(ids, first_port=port + 1)
            sites.start()
        except OSError as exc:
            raise PortInUse(f"cannot serve the sample sites on 127.0.0.1:{port + 1}-{port + len(ids)}: "
                            f"{exc.strerror or exc}; pick another --port") from None
        with tempfile.TemporaryDirectory(prefix="qkfeed-demo-") as tmp, contextlib.closing(sites):
            storage_url = f"sqlite:///{Path(db).resolve() if db else Path(tmp) / 'demo.db'}"
            demo = demo_config(_read_toml(config.path), config.path, storage_url=storage_url, host=host,
                               port=port, sites={sid: sites.base_url(sid) for sid in ids})
            for sid in demo.sources:
                event(log, "demo_site", source=sid, url=sites.base_url(sid))
            with open_store(demo.storage.url) as store:
                asyncio.run(_serve_and_announce(serve, demo, store, host, port, sock))
    finally:
        sock.close()


async def _serve_and_announce(serve: Any, config: Config, store: Any, host: str, port: int, sock: Any) -> None:
    serving = asyncio.ensure_future(serve(config, store, host=host, port=port, sock=sock))
    announce = asyncio.ensure_future(_announce_when_up(host, port, serving))
    try:
        await serving
    finally:
        announce.cancel()
