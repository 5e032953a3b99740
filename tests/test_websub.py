"""WebSub publisher: a local hub (127.0.0.1) receives one publish notification per changed feed.

The runs are real (``SourceRunner`` against the fixture sites, SQLite), the
hub a real HTTP server in a thread that records each POST and can be slow or
down; one test runs the whole service (``run.py run``) and reads its feeds'
links and ``Link`` headers over HTTP while a slow hub holds notifications.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest
from conftest import config_for
from fixture_sites import FixtureSites
from service_proc import free_port, service_config, start_service, wait_for

from feeds.websub import changed_feeds, link_header
from scraper.fetch.client import Fetcher
from scraper.pipeline.runner import SourceRunner
from scraper.service.publish import NotifyingRunner, WebSubPublisher
from storage import open_store

BASE = "http://feeds.example.org"


class Hub:
    """A WebSub hub that records publish notifications; ``delay`` seconds before each answer."""

    def __init__(self, delay: float = 0.0, status: int = 204) -> None:
        self.delay = delay
        self.status = status
        self.received: list[dict[str, list[str]]] = []
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                time.sleep(hub.delay)
                with hub.lock:
                    hub.received.append(form)
                self.send_response(hub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def topics(self) -> list[str]:
        with self.lock:
            return [url for form in self.received for url in form.get("hub.url", [])]


@pytest.fixture
def sites() -> Iterator[FixtureSites]:
    with FixtureSites(["qk3"]) as s:
        yield s


def down_url() -> str:
    return f"http://127.0.0.1:{free_port()}/hub"  # nothing listens there


def test_one_notification_per_changed_feed_and_none_after_a_quiet_run(sites, tmp_path: Path) -> None:
    with Hub() as hub:
        config = config_for(sites, f"sqlite:///{tmp_path / 'a.db'}")
        config = config.model_copy(update={"feed": config.feed.model_copy(update={"websub_hubs": (hub.url,)})})

        async def main() -> tuple[int, int, list[str], list[str]]:
            with open_store(config.storage.url) as store:
                async with Fetcher(config.fetch) as fetcher:
                    publisher = WebSubPublisher(config, BASE)
                    publisher.start()
                    runner = NotifyingRunner(SourceRunner(config, store, fetcher), publisher)
                    first = await runner.run_source(config.source("qk3"))
                    await publisher.drain()
                    after_first = hub.topics()
                    second = await runner.run_source(config.source("qk3"))
                    await asyncio.sleep(0.3)
                    await publisher.drain()
                    await publisher.close()
                    return first.new, second.new + second.updated, after_first, hub.topics()

        new, changed_again, after_first, after_second = asyncio.run(main())
    assert new >= 1 and changed_again == 0
    assert sorted(after_first) == sorted(changed_feeds(BASE, "qk3"))  # each changed feed once
    assert all(form["hub.mode"] == ["publish"] for form in hub.received)
    assert after_second == after_first  # the quiet run told nobody anything


def test_a_hub_that_is_down_or_slow_never_delays_a_run(sites, tmp_path: Path) -> None:
    with Hub(delay=1.0) as slow, Hub() as ok:
        config = config_for(sites, f"sqlite:///{tmp_path / 'a.db'}")
        hubs = (down_url(), slow.url, ok.url)
        config = config.model_copy(update={"feed": config.feed.model_copy(update={"websub_hubs": hubs})})

        async def main() -> tuple[float, float, float, int]:
            with open_store(config.storage.url) as store:
                async with Fetcher(config.fetch) as fetcher:
                    publisher = WebSubPublisher(config, BASE, backoff=0.05)
                    publisher.start()
                    runner = NotifyingRunner(SourceRunner(config, store, fetcher), publisher)
                    lag = 0.0
                    stop = asyncio.Event()

                    async def ticker() -> None:  # how long the event loop is ever held
                        nonlocal lag
                        while not stop.is_set():
                            t = time.perf_counter()
                            await asyncio.sleep(0.01)
                            lag = max(lag, time.perf_counter() - t - 0.01)

                    tick = asyncio.create_task(ticker())
                    started = time.perf_counter()
                    result = await runner.run_source(config.source("qk3"))
                    run_s = time.perf_counter() - started
                    t = time.perf_counter()
                    publisher.on_run("qk3", 1, 0)  # queueing never waits
                    queue_s = time.perf_counter() - t
                    await asyncio.wait_for(publisher.drain(), 30)
                    stop.set()
                    await tick
                    await publisher.close()
                    assert result.new >= 1
                    return run_s, queue_s, lag, publisher.failed

        run_s, queue_s, lag, failed = asyncio.run(main())
    assert queue_s < 0.05
    assert run_s < 5  # the fixture run alone; a slow hub (1 s a POST) would add 6 s or more
    assert lag < 0.5, lag
    feeds = changed_feeds(BASE, "qk3")
    assert sorted(set(ok.topics())) == sorted(feeds)  # the working hub got them all
    assert sorted(set(slow.topics())) == sorted(feeds)
    assert failed >= len(feeds)  # the down hub's, after their retries


def test_a_blocked_hub_address_is_refused_without_allow_private_networks(sites, tmp_path: Path) -> None:
    with Hub() as hub:
        config = config_for(sites, f"sqlite:///{tmp_path / 'a.db'}", allow_private_networks=False)
        config = config.model_copy(update={"feed": config.feed.model_copy(update={"websub_hubs": (hub.url,)})})

        async def main() -> int:
            publisher = WebSubPublisher(config, BASE, backoff=0.01)
            publisher.start()
            publisher.on_run("qk3", 1, 0)
            await asyncio.wait_for(publisher.drain(), 10)
            await publisher.close()
            return publisher.failed

        assert asyncio.run(main()) == 6
    assert hub.received == []  # the address guard kept the request from 127.0.0.1


def test_the_service_advertises_hubs_and_notifies_them(sites, tmp_path: Path) -> None:
    with Hub(delay=2.0) as hub:
        def make(port: int) -> str:
            text = sites.config_text(f"sqlite:///{tmp_path / 'svc.db'}")
            return service_config(text, port=port, interval="1h", base_url=f"http://127.0.0.1:{port}",
                                  feed={"websub_hubs": [hub.url]})

        svc = start_service(make, tmp_path)
        try:
            base = svc.base_url.rstrip("/")
            # while the slow hub holds the notifications of the first run, feeds answer at once
            wait_for(lambda: svc.healthz()["sources"]["qk3"]["last_success"], 30, "the first run")
            for _ in range(5):
                t = time.perf_counter()
                status, headers, body = svc.get("/feed.atom", headers={"Host": "localhost"})
                assert status == 200 and time.perf_counter() - t < 1.0
            assert headers["link"] == link_header([hub.url], f"{base}/feed.atom")  # base_url, not Host
            parsed = feedparser.parse(body)
            rels = {(ln["rel"], ln["href"]) for ln in parsed.feed.links}
            assert ("hub", hub.url) in rels and ("self", f"{base}/feed.atom") in rels
            status, headers, body = svc.get("/sources/qk3/feed.rss")
            assert f'<atom:link rel="hub" href="{hub.url}"/>'.encode() in body
            assert f'<{base}/sources/qk3/feed.rss>; rel="self"' in headers["link"]
            import json
            doc = json.loads(svc.get("/feed.json")[2])
            assert doc["hubs"] == [{"type": "WebSub", "url": hub.url}]
            assert doc["feed_url"] == f"{base}/feed.json"
            wait_for(lambda: len(hub.topics()) >= 6, 60, "the publish notifications")
            time.sleep(1)
            assert sorted(hub.topics()) == sorted(changed_feeds(base, "qk3"))
        finally:
            svc.close()
