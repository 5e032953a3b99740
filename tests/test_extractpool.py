"""Extraction in worker processes during a backfill (``scraper.pipeline.extractpool``, issue 6): same
results as in process, broken pages and dead workers stay with their article, workers never
outlive the pipeline."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from test_faults import Events, article_page, events, listing_page, make_config  # noqa: F401 (fixture)

from scraper.errors import ExtractError, FetchError
from scraper.fetch.client import Fetcher
from scraper.pipeline import extractpool
from scraper.pipeline.extractpool import ExtractPool, _portable, prepare
from scraper.pipeline.runner import SourceRunner
from storage import open_store

ROOT = Path(__file__).resolve().parent.parent
URL = "https://tin.example.vn/news/bai-1"
LONG = " ".join(["Lực lượng vũ trang tỉnh hoàn thành tốt các chỉ tiêu huấn luyện, diễn tập."] * 12)


def _source():  # type: ignore[no-untyped-def]
    return make_config(Path("/nonexistent.db"), {"s": "https://tin.example.vn/news"}).sources["s"]


def page(title: str = "Hội nghị tổng kết công tác quân sự năm 2023") -> str:
    return article_page(title, extra=f"<p>{LONG}</p>")


def die_on_bai_2(html: str, url: str, source: object) -> extractpool.Prepared:
    """Stands in for the worker's task (pickled by name, so the spawned worker imports this
    module): the page of bai-2 kills its worker, the others are extracted."""
    if url.endswith("bai-2"):
        os._exit(3)
    return extractpool._prepare_in_worker(html, url, source)  # type: ignore[arg-type]


def test_worker_gives_what_the_pipeline_process_gives() -> None:
    source = _source()
    here = prepare(page(), URL, source)

    async def there() -> extractpool.Prepared:
        pool = ExtractPool(1)
        async with pool.using():
            return await pool.prepare(page(), URL, source)

    remote = asyncio.run(there())
    assert remote.article == here.article
    assert here.key is not None and remote.key is not None
    assert (remote.key.signature, remote.key.bands) == (here.key.signature, here.key.bands)
    assert remote.key._shingles == []  # computed in the worker, sent without the shingles
    assert remote.failed_selectors == here.failed_selectors


def test_broken_pages_raise_in_the_caller_as_in_process() -> None:
    source = _source()

    async def run() -> list[BaseException]:
        pool = ExtractPool(1)
        async with pool.using():
            out = await asyncio.gather(
                pool.prepare("<html><body></body></html>", URL, source),  # no body: ExtractError
                pool.prepare(page(), URL, None),  # type: ignore[arg-type]  # a bug: AttributeError
                pool.prepare(page(), URL, source),
                return_exceptions=True,
            )
        return out  # type: ignore[return-value]

    empty, bug, fine = asyncio.run(run())
    assert isinstance(empty, ExtractError)
    assert isinstance(bug, AttributeError)
    assert isinstance(fine, extractpool.Prepared)


def test_an_exception_that_would_not_unpickle_comes_back_as_runtime_error() -> None:
    exc = FetchError("https://a.vn/x", "boom")  # its __init__ takes two arguments, its args one
    portable = _portable(exc)
    assert isinstance(portable, RuntimeError) and "FetchError: https://a.vn/x: boom" in str(portable)
    ok = ExtractError("no body")
    assert _portable(ok) is ok


def test_a_dead_worker_is_replaced_and_its_pages_tried_again() -> None:
    source = _source()

    async def run() -> list[object]:
        pool = ExtractPool(1)
        async with pool.using():
            first = await pool.prepare(page(), URL, source)
            executor = pool._running()
            executor.submit(os._exit, 9)  # the worker dies under the next pages
            out = await asyncio.gather(*(pool.prepare(page(f"Bài số {n} của ngày hôm nay"), URL, source)
                                         for n in range(6)), return_exceptions=True)
            assert pool._executor is not executor  # replaced
        return [first, *out]

    results = asyncio.run(run())
    assert all(isinstance(r, extractpool.Prepared) for r in results), results


def serve_news(server: Any, db: Path, *, articles: int) -> Any:
    """``articles`` article pages and their listing on ``server``; a config with one worker."""
    paths = [f"/news/bai-{n}" for n in range(1, articles + 1)]
    for n, path in enumerate(paths, 1):
        server.add_page(path, article_page(f"Bài số {n} trong ngày hôm nay"))
    server.add_page("/news", listing_page(paths))
    return make_config(db, {"s": server.url("/news")}, extract_workers=1)


async def backfill_one_page(config: Any, store: object) -> object:
    """A one-page backfill of source ``s`` with the worker started before the first page."""
    async with Fetcher(config.fetch) as fetcher:
        runner = SourceRunner(config, store, fetcher)
        async with runner.extraction.using():
            await asyncio.gather(*map(asyncio.wrap_future, runner.extraction._started))
            return await runner.backfill(config.sources["s"], pages=1)


def test_a_page_that_kills_its_worker_twice_fails_alone(tmp_path: Path, events: Events,  # noqa: F811
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from faultserver import FaultServer

    monkeypatch.setattr(extractpool, "_prepare_in_worker", die_on_bai_2)
    with FaultServer() as server:
        config = serve_news(server, tmp_path / "q.db", articles=5)
        with open_store(config.storage.url) as store:
            result = asyncio.run(backfill_one_page(config, store))
            stored = {a.article.url for a in store.latest(limit=10)}
    assert result.errors == 1 and result.new == 4, result.messages  # type: ignore[attr-defined]
    assert server.url("/news/bai-2") not in stored and len(stored) == 4
    (failed,) = events.named("article_failed")
    assert failed["url"] == server.url("/news/bai-2") and "worker died" in str(failed["error"])
    assert result.retry_listings  # type: ignore[attr-defined]  # tried again on a later run


def test_workers_exit_when_the_pipeline_process_is_killed() -> None:
    code = textwrap.dedent(
        """
        import asyncio, sys
        from scraper.pipeline.extractpool import ExtractPool

        async def main():
            pool = ExtractPool(1)
            async with pool.using():
                await asyncio.gather(*map(asyncio.wrap_future, pool._started))
                print(*pool._executor._processes, flush=True)
                await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_no_workers_when_configured_off(tmp_path: Path) -> None:
    config = make_config(tmp_path / "q.db", {"s": "https://tin.example.vn/news"}, extract_workers=0)
    pool = ExtractPool(config.fetch.extract_workers)

    async def run() -> bool:
        async with pool.using():
            return pool.active or pool._executor is not None

    assert asyncio.run(run()) is False


def test_listing_pages_read_here_when_the_worker_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faultserver import FaultServer

    async def dead(self: ExtractPool, *args: object) -> object:
        raise extractpool.WorkerDied("listing: the extraction worker died (2 times)")

    monkeypatch.setattr(ExtractPool, "read_listing", dead)
    with FaultServer() as server:
        config = serve_news(server, tmp_path / "q.db", articles=3)
        with open_store(config.storage.url) as store:
            result = asyncio.run(backfill_one_page(config, store))
    assert result.new == 3 and result.errors == 0  # type: ignore[attr-defined]
