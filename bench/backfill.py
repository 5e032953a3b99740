"""Backfill speed against the politeness limit, and peak memory.

    python bench/backfill.py [--setting cpu|shipped] [--articles 2000] [--hosts 10]
                             [--latency 0.1] [--per-host 2] [--delay 0] [--page-size 20]
                             [--workers N] [--site-profile] [--profile FILE.html]

Two settings, one command each:

``--setting cpu`` (the default)   ``per_host_delay = 0``: the hosts' slots are the only
                                  limit, so the pipeline's CPU per article decides how
                                  close to the limit it gets
``--setting shipped``             ``config.toml``'s politeness: ``per_host_delay = 1.0``,
                                  ``per_host_concurrency = 2`` (the 1 s spacing is the limit)

``--delay`` and ``--per-host`` override the setting's values.

``--hosts`` synthetic news sites answer on loopback addresses 127.0.0.2,
127.0.0.3, … (distinct hosts, as real sites are: the politeness limiter counts
per host), each delaying every answer by ``--latency`` seconds.  They are
served by a child process (asyncio, HTTP/1.1 keep-alive), so their CPU time
and memory are not the pipeline's.  Every site is the Quân khu 3 copy of
``tests/fixtures/sites/qk3`` grown to ``articles / hosts`` articles: its
listing page and pager, its three article pages as templates (new path, node
id, title and date per article, and new prose in every body paragraph, so no
two articles are near-duplicates of each other), its robots.txt.

The pipeline is the one ``run.py backfill`` runs — ``open_store`` (SQLite in a
temporary directory), ``Fetcher``, ``SourceRunner.backfill`` — for every
source at once, with ``per_host_concurrency = --per-host``,
``per_host_delay = --delay``, ``respect_robots = true``, ``extract_workers =
--workers`` (default: the config's default, 0) and info-level logs written
to a file, as the service does.  The sources have no site profile (the
generic extractor does every page, the costlier path) unless
``--site-profile`` gives them ``config.toml``'s Quân khu 3 profile, as a
configured source has (every bundled source has one).

Measured: wall time; CPU time of the pipeline process and of its extraction
workers (``RUSAGE_CHILDREN``: they are shut down and reaped when the backfill
ends); peak RSS of the pipeline process (``ru_maxrss``) and of its whole
process tree — the pipeline, its workers and multiprocessing's resource
tracker, not the synthetic sites — summed every 50 ms from /proc (pages
the processes share are counted once per process: an upper bound, and a
peak between two samples can be missed).

The peer is the politeness limit itself: no crawler that keeps to it can be
faster.  Every request a host answers counts — its articles, its listing
pages and its robots.txt — and for each host the limit is the larger of
``requests × latency / per-host`` (its slots always busy) and
``(requests − 1) × delay + latency`` (request starts spaced by the delay);
the limit is that of the busiest host.  The older figure, articles only
(``articles × latency / (hosts × per-host)``), is printed beside it.  Goals:
``cpu`` at most 1.3× the limit, ``shipped`` at most 1.05×; peak RSS of the
pipeline's process tree at most 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import TESTS, Goal, fixture_words, peak_rss_mb, print_goals, print_table

SITE_DIR = TESTS / "fixtures" / "sites" / "qk3"
LISTING_PATH = "/chinh-tri-xa-hoi"
ARTICLE_FILES = (
    "dang-uy-quan-su-hung-yen-2024.html",
    "bo-tham-muu-tong-ket-ctd-ctct-2023.html",
    "su-doan-395-ky-niem-79-nam.html",
)
FIRST_IP = 2  # 127.0.0.2, 127.0.0.3, ...
FIRST_ID = 100_000  # node ids of the generated articles
NEWEST = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)  # publish time of article 0; older ones follow
SPACING = timedelta(hours=3, minutes=17)
VN_OFFSET = timedelta(hours=7)
WEEKDAYS = ("Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy", "Chủ nhật")
SETTINGS = {  # --setting: (per_host_delay, per_host_concurrency, time goal × the limit)
    "cpu": (0.0, 2, 1.3),
    "shipped": (1.0, 2, 1.05),  # config.toml's [fetch]
}
MEMORY_GOAL_MB = 100.0
BASE = "{{BASE}}"
_PARAGRAPH = re.compile(r'(<p style="text-align: justify;">)(.*?)(</p>)', re.S)


# --- the synthetic sites (run in a child process) -------------------------------------


@dataclass(frozen=True)
class _ArticleTemplate:
    text: str
    path: str
    node_id: str
    title: str
    date: str


def _article_templates() -> list[_ArticleTemplate]:
    out = []
    for name in ARTICLE_FILES:
        text = (SITE_DIR / name).read_text("utf-8")
        path = _find(r'<link rel="canonical" href="\{\{BASE\}\}([^"]+)"', text, name)
        out.append(
            _ArticleTemplate(
                text=text,
                path=path,
                node_id=_find(r'data-history-node-id="(\d+)"', text, name),
                title=html.unescape(_find(r'<meta property="og:title" content="([^"]+)"', text, name)),
                date=_find(r'field--name-created[^>]*>([^<]+)<', text, name),
            )
        )
    return out


def _find(pattern: str, text: str, name: str) -> str:
    m = re.search(pattern, text)
    if m is None:
        raise SystemExit(f"bench/backfill.py: {name} no longer matches {pattern!r}; update the bench")
    return m.group(1)


def _vn_date(when: datetime) -> str:
    local = when + VN_OFFSET
    return f"{WEEKDAYS[local.weekday()]}, {local:%d/%m/%Y - %H:%M}"


class _Site:
    """One synthetic site: ``count`` articles, ``page_size`` per listing page, newest first."""

    def __init__(self, base: str, count: int, page_size: int, templates: list[_ArticleTemplate]) -> None:
        self.base = base
        self.count = count
        self.page_size = page_size
        self.templates = templates
        listing = (SITE_DIR / "listing.html").read_text("utf-8").replace(BASE, base)
        marker = "<!-- fixture:listing-top -->"
        head, _, rest = listing.partition(marker)
        first = rest.index('<div class="views-row">')
        second = rest.index('<div class="views-row">', first + 1)
        nav_start = rest.index('<nav class="pager"')
        nav_end = rest.index("</nav>", nav_start) + len("</nav>")
        self.item = rest[first:second]
        self.listing_head = head + marker + "\n    "
        self.listing_tail = rest[rest.rindex("</div>", 0, nav_start) : nav_start] + "{pager}" + rest[nav_end:]
        m = re.search(r'<a href="(/[^"]+-\d+)" hreflang="vi">([^<]+)</a></h3>', self.item)
        assert m is not None, "the listing item no longer has its title link"
        self.item_path, self.item_title = m.group(1), m.group(2)
        self.item_date = _find(r'views-field-created"><span class="field-content">([^<]+)<', self.item, "listing.html")
        self.robots = (SITE_DIR / "robots.txt").read_bytes()
        # Sidebar links to the copied site's own articles point at this page's articles instead.
        self.fixture_paths = [t.path for t in templates]
        self.words = fixture_words()

    @property
    def pages(self) -> int:
        return math.ceil(self.count / self.page_size)

    def article_path(self, i: int) -> str:
        slug = re.sub(r"-\d+$", "", self.templates[i % len(self.templates)].path.rsplit("/", 1)[1])
        return f"{LISTING_PATH}/{slug}-{FIRST_ID + i}"

    def title(self, i: int) -> str:
        return f"{self.templates[i % len(self.templates)].title} (tin số {i + 1})"

    def published(self, i: int) -> datetime:
        return NEWEST - i * SPACING

    def article(self, i: int) -> bytes:
        t = self.templates[i % len(self.templates)]
        node = str(FIRST_ID + i)
        text = (
            t.text.replace(t.path, self.article_path(i))
            .replace(f"node/{t.node_id}", f"node/{node}")
            .replace(f"node%2F{t.node_id}", f"node%2F{node}")
            .replace(f'node-id="{t.node_id}"', f'node-id="{node}"')
            .replace(f'"node\\/{t.node_id}"', f'"node\\/{node}"')
            .replace(html.escape(t.title, quote=False), html.escape(self.title(i), quote=False))
            .replace(t.title, self.title(i))
            .replace(t.date, _vn_date(self.published(i)))
            .replace(BASE, self.base)
        )
        rng = random.Random(f"{self.base}/{i}")
        return _PARAGRAPH.sub(lambda m: m.group(1) + self._prose(rng, len(m.group(2))) + m.group(3), text).encode("utf-8")

    def _prose(self, rng: random.Random, chars: int) -> str:
        """About ``chars`` characters of sentences made of fixture words."""
        out: list[str] = []
        size = 0
        while size < chars:
            words = rng.choices(self.words, k=rng.randint(10, 24))
            sentence = words[0].capitalize() + " " + " ".join(words[1:]) + "."
            out.append(sentence)
            size += len(sentence) + 1
        return " ".join(out)

    def listing(self, page: int) -> bytes:
        first = page * self.page_size
        ids = range(first, min(first + self.page_size, self.count))
        items = []
        for i in ids:
            items.append(
                self.item.replace(self.item_path, self.article_path(i))
                .replace(self.item_title, html.escape(self.title(i), quote=False))
                .replace(self.item_date, _vn_date(self.published(i)))
            )
        pager = '<nav class="pager" role="navigation"><ul class="pager__items">'
        if page > 0:
            pager += f'<li class="pager__item"><a href="{LISTING_PATH}?page={page - 1}" rel="prev">‹ Trước</a></li>'
        pager += f'<li class="pager__item is-active"><a href="{LISTING_PATH}?page={page}">{page + 1}</a></li>'
        if page + 1 < self.pages:
            pager += (
                f'<li class="pager__item pager__item--next"><a href="{LISTING_PATH}?page={page + 1}"'
                ' title="Đến trang sau" rel="next"><span aria-hidden="true">Sau ›</span></a></li>'
            )
        pager += "</ul></nav>"
        text = self.listing_head + "".join(items) + self.listing_tail.replace("{pager}", pager)
        for n, path in enumerate(self.fixture_paths):  # "most read" box: this page's articles
            text = text.replace(path, self.article_path(ids[n % len(ids)]) if ids else "/")
        return text.encode("utf-8")

    def answer(self, target: str) -> tuple[int, str, bytes]:
        path, _, query = target.partition("?")
        if path == "/robots.txt" and not query:
            return 200, "text/plain; charset=utf-8", self.robots
        if path == LISTING_PATH:
            page = 0
            if query:
                m = re.fullmatch(r"page=(\d+)", query)
                page = int(m.group(1)) if m else self.pages
            if page < self.pages:
                return 200, "text/html; charset=utf-8", self.listing(page)
        m = re.fullmatch(re.escape(LISTING_PATH) + r"/[a-z0-9-]+-(\d+)", path)
        if m and not query and 0 <= int(m.group(1)) - FIRST_ID < self.count:
            i = int(m.group(1)) - FIRST_ID
            if path == self.article_path(i):
                return 200, "text/html; charset=utf-8", self.article(i)
        return 404, "text/html; charset=utf-8", b"<!DOCTYPE html><title>404</title><h1>Not Found</h1>"


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}


class _Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.busy = 0.0  # seconds of requests in flight, summed over requests
        self.first: float | None = None
        self.last = 0.0


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, site: _Site, latency: float, stats: _Stats
) -> None:
    host = site.base
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            parts = line.decode("latin-1").split()
            while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            stats.requests += 1
            began = time.monotonic()
            stats.first = began if stats.first is None else stats.first
            stats.in_flight[host] = stats.in_flight.get(host, 0) + 1
            stats.max_in_flight[host] = max(stats.max_in_flight.get(host, 0), stats.in_flight[host])
            try:
                await asyncio.sleep(latency)
                if len(parts) != 3:
                    status, ctype, body = 400, "text/plain", b"bad request"
                else:
                    status, ctype, body = site.answer(parts[1])
            finally:
                stats.in_flight[host] -= 1
                stats.last = time.monotonic()
                stats.busy += stats.last - began
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nServer: bench\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: public, max-age=0\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (b"" if parts[:1] == ["HEAD"] else body))
            await writer.drain()
            del header
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def _serve(hosts: int, articles: int, page_size: int, latency: float) -> None:
    templates = _article_templates()
    stats = _Stats()
    servers = []
    counts = [articles // hosts + (1 if n < articles % hosts else 0) for n in range(hosts)]
    out = []
    for n in range(hosts):
        ip = f"127.0.0.{FIRST_IP + n}"
        holder: dict[str, _Site] = {}

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter, holder: dict[str, _Site] = holder) -> None:
            await _serve_connection(r, w, holder["site"], latency, stats)

        server = await asyncio.start_server(handle, ip, 0, backlog=256)
        port = server.sockets[0].getsockname()[1]
        holder["site"] = _Site(f"http://{ip}:{port}", counts[n], page_size, templates)
        servers.append(server)
        out.append({"base": holder["site"].base, "articles": counts[n], "pages": holder["site"].pages})
    print(json.dumps({"sites": out}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    for server in servers:
        server.close()
    print(json.dumps({"requests": stats.requests, "max_in_flight": max(stats.max_in_flight.values(), default=0),
                      "busy": stats.busy, "span": stats.last - (stats.first or stats.last),
                      "cpu": time.process_time()}), flush=True)


class SitesProcess:
    """The synthetic sites in a child process (a context manager)."""

    def __init__(self, hosts: int, articles: int, page_size: int, latency: float) -> None:
        self.args = [sys.executable, __file__, "--serve", f"--hosts={hosts}", f"--articles={articles}",
                     f"--page-size={page_size}", f"--latency={latency}"]
        self.proc: subprocess.Popen[str] | None = None
        self.sites: list[dict[str, Any]] = []
        self.stats: dict[str, Any] = {}

    def __enter__(self) -> SitesProcess:
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            raise SystemExit("bench/backfill.py: the synthetic sites did not start")
        self.sites = json.loads(line)["sites"]
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            line = self.proc.stdout.readline()
            self.stats = json.loads(line) if line else {}
            self.proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, json.JSONDecodeError):
            self.proc.kill()
            self.proc.wait()


# --- memory of the pipeline's process tree ----------------------------------------------


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux: /proc/PID/task/TID/children, over every thread)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0  # the process just ended


class TreeMemory(threading.Thread):
    """Samples the RSS of this process plus all its descendants but ``exclude`` (the synthetic
    sites) every ``interval`` seconds; ``peak`` is the largest sum seen.  Pages shared between
    the processes (libraries, copy-on-write) are counted once per process: an upper bound."""

    def __init__(self, exclude: int | None, interval: float = 0.05) -> None:
        super().__init__(name="bench-tree-memory", daemon=True)
        self.exclude = exclude
        self.interval = interval
        self.peak = 0.0
        self.peak_processes = 0
        self._done = threading.Event()

    def sample(self) -> None:
        pids, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            if pid == self.exclude:
                continue
            pids.append(pid)
            todo.extend(_children(pid))
        total = sum(_rss_mb(p) for p in pids)
        if total > self.peak:
            self.peak, self.peak_processes = total, len(pids)

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample()


def _children_cpu() -> float:
    """CPU seconds of the ended child processes this process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- the pipeline ------------------------------------------------------------------------


def _qk3_profile() -> dict[str, Any]:
    """The site profile of the bundled Quân khu 3 source, whose pages the bench sites copy."""
    return tomllib.loads((TESTS.parent / "config.toml").read_text("utf-8"))["sources"]["qk3"]["profile"]


def _config(sites: list[dict[str, Any]], db: Path, per_host: int, workers: int | None,
            site_profile: bool = False, delay: float = 0.0) -> Any:
    from scraper.config_load import config_from_dict

    profile = {"profile": _qk3_profile()} if site_profile else {}
    sources = {}
    for n, site in enumerate(sites):
        sources[f"h{n + 1}"] = {
            "name": f"Bench site {n + 1}",
            "start_urls": [site["base"] + LISTING_PATH],
            "page_url": "{url}?page={n}",
            "first_page": 0,
            **profile,
        }
    data = {
        "storage": {"url": f"sqlite:///{db}"},
        "fetch": {
            "per_host_concurrency": per_host,
            "per_host_delay": delay,
            "allow_private_networks": True,
            "respect_robots": True,
            "retries": 1,
            **({} if workers is None else {"extract_workers": workers}),
        },
        "sources": sources,
    }
    return config_from_dict(data, "<bench config>")


def _log_to(path: Path) -> logging.Handler:
    """Info-level structured logs, as ``run.py`` writes them, into a file."""
    from scraper.logs import LOGGER_NAME, LogfmtFormatter

    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger(LOGGER_NAME)
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


async def _backfill(config: Any, pages: dict[str, int]) -> tuple[list[Any], int]:
    from scraper.fetch.client import Fetcher
    from scraper.pipeline.runner import SourceRunner
    from storage import open_store

    with open_store(config.storage.url) as store:
        async with Fetcher(config.fetch) as fetcher:
            runner = SourceRunner(config, store, fetcher)
            results = await asyncio.gather(
                *(runner.backfill(s, pages=pages[s.id]) for s in config.sources.values())
            )
        return list(results), store.count_articles()


@dataclass
class Measurement:
    seconds: float
    cpu_seconds: float  # the pipeline process
    worker_cpu_seconds: float  # its extraction workers (reaped when the backfill ends)
    workers: int
    stored: int
    new: int
    errors: int
    peak_rss_mb: float  # the pipeline process
    peak_tree_mb: float  # the pipeline process and its workers, sampled
    tree_processes: int  # processes in the tree at that peak
    requests: int
    max_in_flight: int
    busy: float  # seconds the sites spent answering, summed over requests
    span: float  # from the first request to the last answer, as the sites saw it


def measure(articles: int, hosts: int, latency: float, per_host: int, page_size: int,
            profile: Path | None = None, workers: int | None = None,
            site_profile: bool = False, delay: float = 0.0) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="qkfeed-bench-") as tmp, SitesProcess(
        hosts, articles, page_size, latency
    ) as sites:
        config = _config(sites.sites, Path(tmp) / "bench.db", per_host, workers, site_profile, delay)
        assert sites.proc is not None
        memory = TreeMemory(exclude=sites.proc.pid)
        memory.start()
        pages = {f"h{n + 1}": site["pages"] for n, site in enumerate(sites.sites)}
        handler = _log_to(Path(tmp) / "backfill.log")
        profiler = None
        if profile is not None:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled")
            profiler.start()
        cpu0, children0, t0 = time.process_time(), _children_cpu(), time.perf_counter()
        try:
            results, stored = asyncio.run(_backfill(config, pages))
        finally:
            handler.close()
            memory.stop()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        worker_cpu = _children_cpu() - children0  # the workers are shut down (and reaped) by now
        if profiler is not None and profile is not None:
            profiler.stop()
            profile.write_text(profiler.output_html(), "utf-8")
            print(profiler.output_text(unicode=True, color=False, show_all=False), file=sys.stderr)
        rss = peak_rss_mb()
    return Measurement(
        seconds=seconds,
        cpu_seconds=cpu,
        worker_cpu_seconds=worker_cpu,
        workers=config.fetch.extract_workers,
        stored=stored,
        new=sum(r.new for r in results),
        errors=sum(r.errors for r in results),
        peak_rss_mb=rss,
        peak_tree_mb=memory.peak,
        tree_processes=memory.peak_processes,
        requests=int(sites.stats.get("requests", 0)),
        max_in_flight=int(sites.stats.get("max_in_flight", 0)),
        busy=float(sites.stats.get("busy", 0.0)),
        span=float(sites.stats.get("span", 0.0)),
    )


def politeness_limit(articles: int, hosts: int, page_size: int, latency: float, per_host: int,
                     delay: float, *, articles_only: bool = False) -> float:
    """Seconds no crawler that keeps to the limits can beat: for each host, its requests
    (articles, listing pages, robots.txt; ``articles_only``: articles) with its slots always
    busy, or with their starts spaced by ``delay``, whichever takes longer; the busiest host's."""
    worst = 0.0
    for n in range(hosts):
        count = articles // hosts + (1 if n < articles % hosts else 0)
        requests = count if articles_only else count + math.ceil(count / page_size) + 1
        worst = max(worst, requests * latency / per_host, (requests - 1) * delay + latency)
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="cpu",
                        help="cpu: per_host_delay = 0 (default); shipped: config.toml's politeness (1 s spacing)")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added to every answer")
    parser.add_argument("--per-host", type=int, help="per_host_concurrency (default: the setting's, 2)")
    parser.add_argument("--delay", type=float, help="per_host_delay in seconds (default: the setting's)")
    parser.add_argument("--page-size", type=int, default=20, help="articles per listing page")
    parser.add_argument("--workers", type=int, help="[fetch] extract_workers (default: the config default)")
    parser.add_argument("--site-profile", action="store_true",
                        help="give the sites config.toml's qk3 profile (default: none, the generic extractor)")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument HTML profile here (the pipeline process)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    setting_delay, setting_per_host, time_goal = SETTINGS[args.setting]
    args.delay = setting_delay if args.delay is None else args.delay
    args.per_host = setting_per_host if args.per_host is None else args.per_host
    if min(args.articles, args.hosts, args.per_host, args.page_size) < 1 or min(args.latency, args.delay) < 0:
        parser.error("sizes must be positive and the latency and delay not negative")
    if args.workers is not None and args.workers < 0:
        parser.error("--workers must be 0 or more")
    if args.hosts > 250:
        parser.error("at most 250 hosts (127.0.0.2 … 127.0.0.251)")
    if args.serve:
        asyncio.run(_serve(args.hosts, args.articles, args.page_size, args.latency))
        return 0

    limit = politeness_limit(args.articles, args.hosts, args.page_size, args.latency, args.per_host, args.delay)
    articles_only = politeness_limit(args.articles, args.hosts, args.page_size, args.latency, args.per_host,
                                     args.delay, articles_only=True)
    print(
        f"backfill ({args.setting} setting): {args.articles} articles on {args.hosts} hosts "
        f"({args.page_size} per listing page), {args.latency * 1000:g} ms per answer, "
        f"per_host_concurrency={args.per_host}, per_host_delay={args.delay:g}",
        flush=True,
    )
    m = measure(args.articles, args.hosts, args.latency, args.per_host, args.page_size, args.profile, args.workers,
                args.site_profile, args.delay)
    ratio = m.seconds / limit if limit else float("inf")
    print_table(
        ["measure", "value"],
        [
            ["politeness limit (every request: articles, listings, robots.txt)", f"{limit:.2f} s"],
            ["backfill wall time", f"{m.seconds:.2f} s"],
            ["time / limit", f"{ratio:.2f}×"],
            ["time / limit counting article requests only (as measured before)",
             f"{m.seconds / articles_only:.2f}× ({articles_only:.2f} s)" if articles_only else "-"],
            ["extraction workers ([fetch] extract_workers)", m.workers],
            ["site profile", "qk3 (config.toml)" if args.site_profile else "none (generic extractor)"],
            ["pipeline CPU time: process + workers", f"{m.cpu_seconds + m.worker_cpu_seconds:.2f} s"
             f" ({m.cpu_seconds:.2f} + {m.worker_cpu_seconds:.2f})"],
            ["CPU per article: process + workers",
             f"{(m.cpu_seconds + m.worker_cpu_seconds) / max(m.stored, 1) * 1000:.1f} ms"
             f" ({m.cpu_seconds / max(m.stored, 1) * 1000:.1f} + {m.worker_cpu_seconds / max(m.stored, 1) * 1000:.1f})"],
            ["articles stored (new)", f"{m.stored} ({m.new})"],
            ["errors", m.errors],
            ["HTTP requests served (incl. listings, robots.txt)", m.requests],
            ["most requests in flight to one host", m.max_in_flight],
            ["host slots in use (answer time / (hosts × per-host × wall time))",
             f"{m.busy / (args.hosts * args.per_host * m.seconds):.0%}"],
            ["articles per second", f"{m.stored / m.seconds:.0f}"],
            ["peak RSS of the pipeline process", f"{m.peak_rss_mb:.0f} MB"],
            ["peak RSS of the process tree (sum, sampled every 50 ms)",
             f"{m.peak_tree_mb:.0f} MB ({m.tree_processes} processes)"],
        ],
    )
    complete = m.stored == args.articles and m.errors == 0
    print_goals(
        [
            Goal("backfill time / politeness limit", ratio, time_goal, unit="×",
                 note="" if complete else f"INCOMPLETE: {m.stored}/{args.articles} stored, {m.errors} errors"),
            Goal("peak RSS of the process tree", max(m.peak_tree_mb, m.peak_rss_mb), MEMORY_GOAL_MB, unit=" MB"),
        ]
    )
    if not complete:
        print(f"warning: {args.articles - m.stored} articles missing, {m.errors} errors", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
