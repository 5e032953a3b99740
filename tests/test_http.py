"""scraper.fetch.client.Fetcher, scraper.fetch.politeness and scraper.fetch.charset.

Most tests run against FaultServer on 127.0.0.1 (with allow_private_networks,
since that is loopback); the address-guard tests use a fake resolver and a test
network backend (FakeNet) that sends the checked public test addresses to local servers,
and nothing anywhere else.  Coroutines run
with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import socketserver
import threading
import time
import tracemalloc
import unicodedata
import zlib
from collections.abc import Callable, Iterator

import httpcore
import httpx
import pytest
from faultserver import BOMB_SIZE, ROBOTS, VI_TEXT, FaultServer, gzip_bomb, to_cp1258

from scraper.config import FetchConfig
from scraper.errors import (
    AddressBlocked,
    BlockedByRobots,
    FetchError,
    HTTPStatusError,
    ResponseTooLarge,
)
from scraper.fetch.charset import decode_html
from scraper.fetch.client import (
    RETRY_EXCEPTIONS,
    RETRY_STATUSES,
    Fetcher,
    GuardedTransport,
    is_public_address,
    parse_retry_after,
)
from scraper.fetch.network import AsyncioBackend
from scraper.fetch.politeness import (
    ROBOTS_ERROR_TTL,
    ROBOTS_STALE_TTL,
    ROBOTS_TTL,
    HostLimiter,
    RobotsCache,
    RobotsUnreachable,
)
from scraper.models import Page

FAST = {
    "timeout": 0.5,
    "deadline": 2.0,
    "backoff_max": 0.1,
    "retries": 1,
    "per_host_delay": 0.0,
    "allow_private_networks": True,
}


def make_cfg(**overrides: object) -> FetchConfig:
    return FetchConfig(**{**FAST, **overrides})


async def _get(cfg: FetchConfig, url: str, fetcher_kw: dict, get_kw: dict) -> Page:
    async with Fetcher(cfg, **fetcher_kw) as fetcher:
        return await fetcher.get(url, **get_kw)


def get(url: str, cfg: FetchConfig | None = None, fetcher_kw: dict | None = None, **kw) -> Page:
    return asyncio.run(_get(cfg or make_cfg(), url, fetcher_kw or {}, kw))


def raises(exc_type: type[FetchError], url: str, cfg: FetchConfig | None = None, **kw):
    with pytest.raises(exc_type) as info:
        get(url, cfg, **kw)
    return info.value


class Sleeps(list):
    """A ``sleep`` for the Fetcher that records and does not wait."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as s:
        yield s


# --- ordinary pages ---------------------------------------------------------------


def test_ok_page(server: FaultServer) -> None:
    cfg = make_cfg()
    page = get(server.url("/ok"), cfg)
    assert page.status == 200
    assert page.url == server.url("/ok")
    assert VI_TEXT in page.text
    assert page.encoding == "utf-8"
    assert page.content.decode() == page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert all(k == k.lower() for k in page.headers)
    hit = [h for h in server.requests if h.path == "/ok"][0]
    assert hit.headers["user-agent"] == cfg.user_agent
    assert "gzip" in hit.headers["accept-encoding"]


def test_empty_200_is_returned_as_is(server: FaultServer) -> None:
    page = get(server.url("/empty"))
    assert (page.status, page.text, page.content) == (200, "", b"")


def test_conditional_get_with_etag(server: FaultServer) -> None:
    first = get(server.url("/etag"))
    assert first.status == 200 and VI_TEXT in first.text
    assert first.etag == '"v1"' and first.last_modified
    again = get(server.url("/etag"), etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.status == 304 and again.text == ""
    assert again.etag == '"v1"'
    hit = server.requests[-1]
    assert hit.headers["if-none-match"] == '"v1"'
    assert hit.headers["if-modified-since"] == first.last_modified


def test_conditional_get_with_last_modified_only(server: FaultServer) -> None:
    first = get(server.url("/etag"))
    again = get(server.url("/etag"), last_modified=first.last_modified)
    assert again.not_modified
    assert "if-none-match" not in server.requests[-1].headers


def test_small_gzip_page_is_decoded(server: FaultServer) -> None:
    page = get(server.url("/gzip"))
    assert VI_TEXT in page.text
    assert page.headers["content-encoding"] == "gzip"


# --- timeouts and the deadline ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/hang-headers", "/hang-body"])
def test_hang_times_out_and_is_retried(server: FaultServer, path: str) -> None:
    t0 = time.monotonic()
    exc = raises(FetchError, server.url(path), make_cfg(retries=1))
    elapsed = time.monotonic() - t0
    assert type(exc) is FetchError and "timed out" in exc.reason
    assert isinstance(exc.__cause__, httpx.ReadTimeout)
    assert server.hits(path) == 2
    assert elapsed < 2.0


def test_slow_drip_stops_at_the_deadline(server: FaultServer) -> None:
    t0 = time.monotonic()
    exc = raises(FetchError, server.url("/drip?interval=0.1&n=100"), make_cfg(deadline=1.0))
    elapsed = time.monotonic() - t0
    assert "deadline" in exc.reason
    assert 0.9 < elapsed < 1.6  # each byte came within the read timeout
    assert server.hits("/drip?interval=0.1&n=100") == 1  # a deadline is not retried


# --- statuses and retries ---------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_until_success(server: FaultServer, status: int) -> None:
    path = f"/status/{status}?times=2"
    page = get(server.url(path), make_cfg(retries=2))
    assert page.status == 200 and VI_TEXT in page.text
    assert server.hits(path) == 3


def test_server_error_after_retries_is_http_status_error(server: FaultServer) -> None:
    path = "/status/503?times=9"
    exc = raises(HTTPStatusError, server.url(path), make_cfg(retries=2))
    assert exc.status == 503
    assert server.hits(path) == 3


@pytest.mark.parametrize("status", [404, 403, 410])
def test_client_errors_are_not_retried(server: FaultServer, status: int) -> None:
    exc = raises(HTTPStatusError, server.url(f"/status/{status}"), make_cfg(retries=3))
    assert exc.status == status
    assert server.hits(f"/status/{status}") == 1


def test_backoff_is_exponential_with_jitter_and_capped(server: FaultServer) -> None:
    sleeps = Sleeps()
    cfg = make_cfg(retries=3, backoff_max=2.5, respect_robots=False)
    get(server.url("/status/500?times=3"), cfg, {"sleep": sleeps})
    assert len(sleeps) == 3
    assert 1.0 <= sleeps[0] <= 2.0  # 1 s + up to 1 s jitter
    assert 2.0 <= sleeps[1] <= 2.5
    assert sleeps[2] == 2.5  # 4 s + jitter, capped


def test_429_retry_after_seconds_is_honoured(server: FaultServer) -> None:
    sleeps = Sleeps()
    cfg = make_cfg(backoff_max=5.0, respect_robots=False)
    page = get(server.url("/retry-after?seconds=3"), cfg, {"sleep": sleeps})
    assert page.status == 200
    assert max(sleeps) == pytest.approx(3.0, abs=0.1)  # waited for the host's pushed-back slot


def test_429_retry_after_http_date_is_honoured(server: FaultServer) -> None:
    sleeps = Sleeps()
    cfg = make_cfg(backoff_max=10.0, respect_robots=False)
    page = get(server.url("/retry-after?date=4"), cfg, {"sleep": sleeps})
    assert page.status == 200
    assert 2.5 < max(sleeps) <= 4.01  # the date has whole seconds


def test_503_retry_after_is_capped_by_backoff_max(server: FaultServer) -> None:
    t0 = time.monotonic()
    page = get(server.url("/retry-after?seconds=100&status=503"), make_cfg(backoff_max=0.2))
    assert page.status == 200
    assert time.monotonic() - t0 < 1.5


def test_429_after_retries_is_http_status_error(server: FaultServer) -> None:
    exc = raises(HTTPStatusError, server.url("/retry-after?seconds=0&times=5"))
    assert exc.status == 429


@pytest.mark.parametrize(
    ("path", "cause"),
    [
        ("/reset", httpx.ReadError),
        ("/truncated", httpx.RemoteProtocolError),
        ("/broken-chunked", httpx.RemoteProtocolError),
    ],
)
def test_broken_bodies_are_retried_then_fetch_error(
    server: FaultServer, path: str, cause: type[Exception]
) -> None:
    exc = raises(FetchError, server.url(path), make_cfg(retries=1))
    assert type(exc) is FetchError
    assert isinstance(exc.__cause__, cause)
    assert "after 2 attempts" in exc.reason
    assert server.hits(path) == 2


def test_connection_refused_is_retried_then_fetch_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    exc = raises(FetchError, f"http://127.0.0.1:{port}/", make_cfg(respect_robots=False))
    assert isinstance(exc.__cause__, httpx.ConnectError)
    assert "after 2 attempts" in exc.reason


def test_retry_policy_is_data() -> None:
    assert {429, 500, 502, 503, 504} <= RETRY_STATUSES
    assert not {400, 401, 403, 404, 410} & RETRY_STATUSES
    assert httpx.ReadTimeout in RETRY_EXCEPTIONS or issubclass(httpx.ReadTimeout, RETRY_EXCEPTIONS)
    assert issubclass(httpx.RemoteProtocolError, RETRY_EXCEPTIONS)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- size cap ---------------------------------------------------------------------------


def test_oversized_content_length_is_refused_up_front(server: FaultServer) -> None:
    t0 = time.monotonic()
    exc = raises(ResponseTooLarge, server.url("/big-length"), make_cfg(max_bytes=1 << 20))
    assert "Content-Length" in exc.reason
    assert time.monotonic() - t0 < 0.5
    assert server.hits("/big-length") == 1


def test_oversized_chunked_body_stops_at_the_cap(server: FaultServer) -> None:
    exc = raises(ResponseTooLarge, server.url("/big-chunked"), make_cfg(max_bytes=1 << 20))
    assert "exceeds the cap" in exc.reason
    assert server.hits("/big-chunked") == 1


def test_gzip_bomb_stops_near_the_cap_without_inflating(server: FaultServer) -> None:
    gzip_bomb()  # built before measuring
    cap = 2 << 20
    tracemalloc.start()
    try:
        exc = raises(ResponseTooLarge, server.url("/gzip-bomb"), make_cfg(max_bytes=cap))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "exceeds the cap" in exc.reason
    assert peak < 4 * cap < BOMB_SIZE


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
def test_bombs_in_every_coding_stop_near_the_cap(coding: str) -> None:
    size, cap = 64 << 20, 1 << 20
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits[coding])
    block = bytes(1 << 20)
    bomb = b"".join(comp.compress(block) for _ in range(size // len(block))) + comp.flush()
    assert len(bomb) < size // 500  # built here, tiny on the wire

    def handler(request: httpx.Request) -> httpx.Response:
        header = "deflate" if coding == "raw-deflate" else coding
        return httpx.Response(200, stream=Streamed(bomb, 65536), headers={"content-encoding": header})

    cfg = make_cfg(max_bytes=cap, respect_robots=False)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge, match="exceeds the cap"):
            get("http://news.test/bomb", cfg, {"transport": httpx.MockTransport(handler)})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * cap


@pytest.mark.parametrize("chunk", [1, 1000])
def test_content_encodings(chunk: int) -> None:
    body = "<p>Bộ Quốc phòng</p>".encode()
    raw = zlib.compressobj(wbits=-15)
    bodies = {
        "deflate": zlib.compress(body),
        "Deflate": raw.compress(body) + raw.flush(),  # raw deflate, no zlib header
        "gzip": gzip.compress(body),
        "identity": body,
        "UTF-8": body,  # a bogus token, ignored as httpx does
    }

    def handler(request: httpx.Request) -> httpx.Response:
        coding = request.url.path[1:]
        data = bodies.get(coding, b"\x00\x01")
        return httpx.Response(
            200, stream=Streamed(data, chunk), headers={"content-encoding": coding}
        )

    cfg = make_cfg(respect_robots=False)
    kw = {"transport": httpx.MockTransport(handler)}
    for coding in bodies:
        assert get(f"http://news.test/{coding}", cfg, kw).text == body.decode(), coding
    with pytest.raises(FetchError, match="unsupported Content-Encoding"):
        get("http://news.test/br", cfg, kw)
    bodies["gzip"] = b"\x1f\x8b not gzip at all"
    with pytest.raises(FetchError, match="corrupt gzip"):
        get("http://news.test/gzip", cfg, kw)


class Streamed(httpx.AsyncByteStream):
    """A response body that httpx has not read yet (unlike ``content=``)."""

    def __init__(self, data: bytes, chunk: int = 1000) -> None:
        self.data = data
        self.chunk = chunk

    async def __aiter__(self):
        for i in range(0, len(self.data), self.chunk):
            yield self.data[i : i + self.chunk]


def test_mock_transport_seam() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/robots.txt":
            return httpx.Response(200, text=ROBOTS)
        if request.url.path == "/big":
            return httpx.Response(200, content=b"x" * 2000)
        return httpx.Response(200, html="<p>Quân đội nhân dân</p>")

    cfg = make_cfg(max_bytes=1000)
    kw = {"transport": httpx.MockTransport(handler)}
    page = get("https://qdnd.test/tin", cfg, kw)
    assert page.text == "<p>Quân đội nhân dân</p>" and page.encoding == "utf-8"
    assert [r.url.path for r in seen] == ["/robots.txt", "/tin"]
    with pytest.raises(BlockedByRobots):
        get("https://qdnd.test/private/x", cfg, kw)
    with pytest.raises(ResponseTooLarge):
        get("https://qdnd.test/big", cfg, kw)


# --- redirects --------------------------------------------------------------------------


def test_redirect_loop_is_detected(server: FaultServer) -> None:
    exc = raises(FetchError, server.url("/loop/a"))
    assert "redirect loop" in exc.reason
    assert server.hits("/loop/a") == 1 and server.hits("/loop/b") == 1


def test_ten_redirects_are_followed_eleven_are_not(server: FaultServer) -> None:
    page = get(server.url("/chain/10"))
    assert page.url == server.url("/ok")
    exc = raises(FetchError, server.url("/chain/11"))
    assert "more than 10 redirects" in exc.reason


def test_redirect_to_another_host_checks_robots_there(server: FaultServer) -> None:
    page = get(server.url("/to-localhost"))
    assert page.url == server.url("/ok", host="localhost")
    hosts = {h.headers["host"].split(":")[0] for h in server.requests if h.path == "/robots.txt"}
    assert hosts == {"127.0.0.1", "localhost"}


def test_redirect_to_a_disallowed_path_is_blocked(server: FaultServer) -> None:
    exc = raises(BlockedByRobots, server.url("/redirect?to=/private/x"))
    assert exc.url == server.url("/private/x")
    assert server.hits("/private/x") == 0


# --- charsets ---------------------------------------------------------------------------


def test_utf8_declared_as_windows_1258_is_utf8(server: FaultServer) -> None:
    page = get(server.url("/charset/utf8-as-1258"))
    assert page.encoding == "utf-8"
    assert VI_TEXT in page.text


@pytest.mark.parametrize("path", ["/charset/1258-as-utf8", "/charset/1258-undeclared"])
def test_real_windows_1258_is_detected(server: FaultServer, path: str) -> None:
    page = get(server.url(path))
    assert page.encoding == "cp1258"
    assert VI_TEXT in unicodedata.normalize("NFC", page.text)


def test_nfd_text_is_returned_unnormalized(server: FaultServer) -> None:
    page = get(server.url("/nfd"))
    assert unicodedata.normalize("NFD", VI_TEXT) in page.text
    assert VI_TEXT in unicodedata.normalize("NFC", page.text)


def test_decode_html_rules() -> None:
    assert decode_html(b"", None) == ("", "utf-8")
    cp = to_cp1258(VI_TEXT)
    assert decode_html(cp, "text/html; charset=windows-1258")[1] == "cp1258"
    assert decode_html(b"\xef\xbb\xbfch\xc3\xa0o", None) == ("chào", "utf-8")
    # a few stray bytes in a UTF-8 page do not turn it into another encoding
    stray = VI_TEXT.encode() * 3 + b"\xff" + VI_TEXT.encode()
    text, enc = decode_html(stray, "text/html")
    assert enc == "utf-8" and text.count("\ufffd") == 1
    # browsers read latin-1 labels as windows-1252
    assert decode_html(b"caf\xe9 \x93x\x94", "text/html; charset=ISO-8859-1") == (
        "café “x”",
        "cp1252",
    )
    # an unknown label falls through to detection
    assert decode_html(cp, "text/html; charset=x-unknown")[1] == "cp1258"


# --- robots.txt -------------------------------------------------------------------------


def test_robots_disallowed_path_is_blocked_and_never_requested(server: FaultServer) -> None:
    exc = raises(BlockedByRobots, server.url("/private/secret"))
    assert exc.url == server.url("/private/secret")
    assert server.hits("/private/secret") == 0


def test_robots_is_fetched_once_per_host(server: FaultServer) -> None:
    async def run() -> None:
        async with Fetcher(make_cfg()) as f:
            await asyncio.gather(*(f.get(server.url(f"/ok?{i}")) for i in range(5)))
            with pytest.raises(BlockedByRobots):
                await f.get(server.url("/private/a"))

    asyncio.run(run())
    assert server.hits("/robots.txt") == 1


def test_robots_can_be_skipped(server: FaultServer) -> None:
    assert get(server.url("/private/a"), check_robots=False).status == 200
    assert get(server.url("/private/b"), make_cfg(respect_robots=False)).status == 200
    assert server.hits("/robots.txt") == 0


@pytest.mark.parametrize("status", [404, 410, 403])
def test_robots_4xx_allows_all(status: int, caplog: pytest.LogCaptureFixture) -> None:
    with FaultServer(robots_status=status) as server:
        assert get(server.url("/private/a")).status == 200
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def robots_rules(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The ``rule`` of every robots_txt log event."""
    return [r.qk_fields["rule"] for r in caplog.records if r.getMessage() == "robots_txt"]


@pytest.mark.parametrize("status", [500, 503])
def test_robots_5xx_disallows_the_host_with_a_warning(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """RFC 9309 2.3.1.4: an unreachable robots.txt means complete disallow (for now: not a
    BlockedByRobots, which the pipeline takes as final)."""
    with FaultServer(robots_status=status, robots=ROBOTS) as server:
        with caplog.at_level(logging.INFO, logger="qkfeed.fetch.robots"):
            exc = raises(RobotsUnreachable, server.url("/ok"), make_cfg(retries=0))
        assert server.hits("/ok") == 0
    assert not isinstance(exc, BlockedByRobots)
    assert "robots.txt unreachable" in exc.reason and f"HTTP {status}" in exc.reason
    assert robots_rules(caplog) == ["unreachable_disallow_all"]
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_unreachable_robots_disallows_the_host(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    with caplog.at_level(logging.INFO, logger="qkfeed.fetch.robots"):
        exc = raises(RobotsUnreachable, f"http://127.0.0.1:{port}/news", make_cfg(retries=0))
    assert "robots.txt unreachable" in exc.reason and "ConnectError" in exc.reason
    assert robots_rules(caplog) == ["unreachable_disallow_all"]


def test_robots_404_allows_all_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with FaultServer(robots_status=404) as server:
        with caplog.at_level(logging.INFO, logger="qkfeed.fetch.robots"):
            assert get(server.url("/private/a")).status == 200
    assert robots_rules(caplog) == ["unavailable_allow_all"]


def oversized_robots(head: str, size: int = 10 << 20) -> str:
    line = "# " + "x" * 77 + "\n"
    return head + line * (size // len(line)) + "User-agent: *\nAllow: /\n"


def test_oversized_robots_is_honoured_from_its_start(caplog: pytest.LogCaptureFixture) -> None:
    """A 10 MB robots.txt (20x this fetcher's body cap) starting with Disallow: / blocks."""
    with FaultServer(robots=oversized_robots("User-agent: *\nDisallow: /\n")) as server:
        with caplog.at_level(logging.INFO, logger="qkfeed.fetch.robots"):
            exc = raises(BlockedByRobots, server.url("/ok"), make_cfg(max_bytes=512 << 10))
        assert server.hits("/ok") == 0 and server.hits("/robots.txt") == 1
    assert exc.reason == "disallowed by robots.txt"
    assert robots_rules(caplog) == ["parsed_prefix"]


def test_oversized_robots_rules_after_the_parsed_prefix_do_not_count() -> None:
    robots = "User-agent: *\nDisallow: /private/\n"
    robots = oversized_robots(robots, 600 << 10) + "Disallow: /late/\n"
    with FaultServer(robots=robots, pages={"/late/a": "<p>late</p>"}) as server:
        assert get(server.url("/late/a")).status == 200
        with pytest.raises(BlockedByRobots):
            get(server.url("/private/a"))


def test_robots_cache_ttl_and_shared_fetch() -> None:
    now = [1000.0]
    calls: list[str] = []

    async def fetch(url: str) -> Page:
        calls.append(url)
        await asyncio.sleep(0.01)
        return Page(url=url, status=200, text=ROBOTS)

    async def run() -> None:
        robots = RobotsCache(make_cfg(), fetch, clock=lambda: now[0])
        results = await asyncio.gather(*(robots.can_fetch("http://a.test/x") for _ in range(5)))
        assert all(results) and len(calls) == 1
        assert not await robots.can_fetch("http://a.test/private/x")
        assert len(calls) == 1
        now[0] += ROBOTS_TTL + 1
        assert await robots.can_fetch("http://a.test/y")
        assert len(calls) == 2
        assert await robots.can_fetch("https://a.test/y")  # another origin
        assert calls[-1] == "https://a.test/robots.txt"

    asyncio.run(run())


def test_robots_cache_disallows_after_failures_and_retries_them_sooner() -> None:
    now = [0.0]
    calls: list[str] = []
    answers: list[Exception | str] = [FetchError("u", "timed out"), HTTPStatusError("u", 503), ROBOTS]

    async def fetch(url: str) -> Page:
        calls.append(url)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Page(url=url, status=200, text=answer)

    async def run() -> None:
        robots = RobotsCache(make_cfg(), fetch, clock=lambda: now[0])
        assert not await robots.can_fetch("http://a.test/x")  # unreachable: all disallowed
        assert not await robots.can_fetch("http://a.test/x")
        assert len(calls) == 1
        now[0] += ROBOTS_ERROR_TTL + 1
        assert not await robots.can_fetch("http://a.test/x")  # a 5xx: still disallowed
        assert len(calls) == 2
        now[0] += ROBOTS_ERROR_TTL + 1
        assert await robots.can_fetch("http://a.test/x")  # fetched at last: its rules
        assert not await robots.can_fetch("http://a.test/private/x")
        assert len(calls) == 3

    asyncio.run(run())


def test_robots_cache_keeps_fetched_rules_through_a_failed_refetch() -> None:
    """RFC 9309 2.4: cached rules may be used while robots.txt is unreachable (here up to
    ROBOTS_STALE_TTL after they were fetched); then the host is disallowed."""
    now = [0.0]
    calls: list[str] = []

    async def fetch(url: str) -> Page:
        calls.append(url)
        if len(calls) == 1:
            return Page(url=url, status=200, text=ROBOTS)
        raise HTTPStatusError(url, 500)

    async def run() -> None:
        robots = RobotsCache(make_cfg(), fetch, clock=lambda: now[0])
        assert await robots.can_fetch("http://a.test/x")
        now[0] += ROBOTS_TTL + 1
        assert await robots.can_fetch("http://a.test/x")  # the refetch failed: old rules
        assert not await robots.can_fetch("http://a.test/private/x")
        assert len(calls) == 2
        now[0] = ROBOTS_STALE_TTL + 1
        assert not await robots.can_fetch("http://a.test/x")  # too old now: all disallowed
        assert len(calls) == 3

    asyncio.run(run())


# --- per-host limits --------------------------------------------------------------------


def test_host_spacing_and_concurrency_seen_by_the_server(server: FaultServer) -> None:
    delay = 0.15
    # generous timeouts and no retries: on a loaded machine a retried request would add a start
    cfg = make_cfg(per_host_concurrency=2, per_host_delay=delay, respect_robots=False,
                   timeout=10.0, deadline=20.0, retries=0)

    async def run() -> None:
        async with Fetcher(cfg) as f:
            await asyncio.gather(*(f.get(server.url(f"/slow?delay=0.4&i={i}")) for i in range(6)))

    asyncio.run(run())
    starts = sorted(h.start for h in server.requests if h.path.startswith("/slow"))
    assert len(starts) == 6
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    # The server stamps a request when its thread gets to it: on a loaded machine one late
    # stamp shortens the gap after it by as much as it lengthens the gap before.  The spacing
    # we enforce shows in the span (jitter cancels out) and in no gap near zero.
    assert starts[-1] - starts[0] >= (len(starts) - 1) * delay - 0.03
    assert min(gaps) >= delay / 2
    assert server.max_concurrency("/slow") == 2


def test_retry_after_pushes_the_host_slot_back() -> None:
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    async def run() -> None:
        limiter = HostLimiter(make_cfg(per_host_delay=1.0), sleep=sleep, clock=lambda: now[0])
        async with limiter.slot("a.test"):
            pass
        limiter.defer("A.test", 30.0)
        async with limiter.slot("a.test"):
            pass
        async with limiter.slot("b.test"):
            pass  # other hosts are not affected
        async with limiter.slot("a.test"):
            pass

    asyncio.run(run())
    assert sleeps == [30.0, 1.0]


# --- address guard ----------------------------------------------------------------------


class FakeNet:
    """The network of the guard tests: canned answers for the given (public, checked) IPs,
    each served by its own server on 127.0.0.1; records every connect.

    ``backend`` is the network backend under the guard (it is handed only checked
    addresses): its connections to those IPs go to their local server.  A connect to an
    address not in ``responses`` fails the test: nothing leaves the machine, and nothing
    but 127.0.0.1 is ever touched.
    """

    def __init__(self, responses: dict[str, bytes] | None = None) -> None:
        self.responses = responses or {}
        self.connects: list[tuple[str, int]] = []
        self._servers: dict[str, socketserver.ThreadingTCPServer] = {}
        net = self

        class LocalBackend(AsyncioBackend):
            async def connect_tcp(self, host, port, timeout=None, local_address=None,
                                  socket_options=None) -> httpcore.AsyncNetworkStream:
                net.connects.append((host, port))
                if host not in net.responses:
                    pytest.fail(f"connection attempted to {host}:{port}")
                return await super().connect_tcp("127.0.0.1", net.port(host), timeout=timeout)

        self.backend = LocalBackend()

    def port(self, ip: str) -> int:
        if ip not in self._servers:
            answer = self.responses[ip]

            class Canned(socketserver.StreamRequestHandler):
                def handle(self) -> None:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        data = self.request.recv(4096)
                        if not data:
                            return
                        head += data
                    self.wfile.write(answer)

            server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Canned)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers[ip] = server
        return self._servers[ip].server_address[1]

    def close(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()


@pytest.fixture
def nets() -> Iterator[Callable[..., FakeNet]]:
    made: list[FakeNet] = []

    def make(responses: dict[str, bytes] | None = None) -> FakeNet:
        made.append(FakeNet(responses))
        return made[-1]

    yield make
    for net in made:
        net.close()


def fake_resolver(table: dict[str, list[str]], calls: list[str] | None = None):
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return table[host]

    return resolve


def canned(status: int = 200, body: bytes = b"hello", headers: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: text/html; charset=utf-8\r\n{headers}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


PUBLIC_IP = "93.184.216.34"
PRIVATE_ANSWERS = [
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "127.0.0.1",
    "::1",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1",
    "2002:a00:1::1",
]


def guarded(resolver, net: FakeNet, **cfg_kw: object) -> tuple[FetchConfig, dict]:
    cfg = make_cfg(allow_private_networks=False, **cfg_kw)
    transport = GuardedTransport(cfg, resolver=resolver, network_backend=net.backend)
    return cfg, {"transport": transport}


@pytest.mark.parametrize("answer", PRIVATE_ANSWERS)
def test_names_resolving_to_private_addresses_are_blocked(
    answer: str, nets: Callable[..., FakeNet]
) -> None:
    net = nets()
    cfg, kw = guarded(fake_resolver({"intranet.test": [answer]}), net)
    with pytest.raises(AddressBlocked) as info:
        get("http://intranet.test/news", cfg, kw)  # robots.txt is refused first
    assert info.value.url == "http://intranet.test/news"
    assert net.connects == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://192.168.1.1:8080/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
    ],
)
def test_literal_private_ips_are_blocked_without_resolving(
    url: str, nets: Callable[..., FakeNet]
) -> None:
    calls: list[str] = []
    net = nets()
    cfg, kw = guarded(fake_resolver({}, calls), net)
    with pytest.raises(AddressBlocked):
        get(url, cfg, kw)
    assert calls == [] and net.connects == []


def test_one_private_answer_among_public_ones_blocks(nets: Callable[..., FakeNet]) -> None:
    net = nets({PUBLIC_IP: canned()})
    cfg, kw = guarded(fake_resolver({"mixed.test": [PUBLIC_IP, "10.0.0.1"]}), net)
    with pytest.raises(AddressBlocked):
        get("http://mixed.test/", cfg, kw, check_robots=False)
    assert net.connects == []


def test_public_answer_connects_to_the_checked_ip(nets: Callable[..., FakeNet]) -> None:
    net = nets({PUBLIC_IP: canned(body="Tin mới".encode())})
    cfg, kw = guarded(fake_resolver({"news.test": [PUBLIC_IP]}), net)
    page = get("http://news.test/a", cfg, kw, check_robots=False)
    assert page.text == "Tin mới"
    assert net.connects == [(PUBLIC_IP, 80)]


def test_dns_rebinding_is_caught_at_connect_time(nets: Callable[..., FakeNet]) -> None:
    answers = iter([[PUBLIC_IP], ["10.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    net = nets({PUBLIC_IP: canned()})
    cfg, kw = guarded(rebinding, net)

    async def run() -> None:
        async with Fetcher(cfg, **kw) as f:
            assert (await f.get("http://news.test/1", check_robots=False)).text == "hello"
            with pytest.raises(AddressBlocked):
                await f.get("http://news.test/2", check_robots=False)

    asyncio.run(run())
    assert net.connects == [(PUBLIC_IP, 80)]


def test_redirect_to_a_private_host_is_blocked(nets: Callable[..., FakeNet]) -> None:
    redirect = canned(302, b"", "Location: http://intranet.test/admin\r\n")
    net = nets({PUBLIC_IP: redirect})
    table = {"news.test": [PUBLIC_IP], "intranet.test": ["192.168.1.1"]}
    cfg, kw = guarded(fake_resolver(table), net)
    with pytest.raises(AddressBlocked) as info:
        get("http://news.test/", cfg, kw, check_robots=False)
    assert info.value.url == "http://intranet.test/admin"
    assert net.connects == [(PUBLIC_IP, 80)]


@pytest.mark.parametrize(
    "location",
    ["http://10.0.0.1/admin", "http://169.254.169.254/latest/", "http://[::1]:8080/", "http://[fd00::1]/"],
)
def test_redirect_to_a_literal_private_ip_is_blocked(
    location: str, nets: Callable[..., FakeNet]
) -> None:
    calls: list[str] = []
    net = nets({PUBLIC_IP: canned(302, b"", f"Location: {location}\r\n")})
    cfg, kw = guarded(fake_resolver({"news.test": [PUBLIC_IP]}, calls), net)
    with pytest.raises(AddressBlocked) as info:
        get("http://news.test/", cfg, kw, check_robots=False)
    assert "redirect from http://news.test/" in info.value.reason
    assert net.connects == [(PUBLIC_IP, 80)] and calls == ["news.test"]


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1/",
        "http://127.1/",
        "http://0/",
        "http://[::ffff:127.0.0.1]/",
        "http://[0:0:0:0:0:ffff:7f00:1]/",
        "http://[::]/",
    ],
)
def test_numeric_spellings_of_loopback_are_blocked(url: str, nets: Callable[..., FakeNet]) -> None:
    """Names the system resolver turns into loopback (inet_aton forms) never connect."""
    net = nets()
    cfg = make_cfg(allow_private_networks=False)
    transport = GuardedTransport(cfg, network_backend=net.backend)  # the system resolver
    with pytest.raises(AddressBlocked):
        get(url, cfg, {"transport": transport})
    assert net.connects == []


@pytest.mark.parametrize("answers", [["not-an-ip"], []])
def test_odd_dns_answers_never_connect(answers: list[str], nets: Callable[..., FakeNet]) -> None:
    net = nets()
    cfg, kw = guarded(fake_resolver({"odd.test": answers}), net)
    with pytest.raises(FetchError) as info:
        get("http://odd.test/", cfg, kw, check_robots=False)
    assert type(info.value) is FetchError and isinstance(info.value.__cause__, httpx.ConnectError)
    assert net.connects == []


def test_allow_private_networks_lifts_the_guard_for_names_redirects_and_literals(
    nets: Callable[..., FakeNet]
) -> None:
    net = nets(
        {
            PUBLIC_IP: canned(302, b"", "Location: http://intranet.test/a\r\n"),
            "10.0.0.1": canned(302, b"", "Location: http://[fd00::1]/b\r\n"),
            "fd00::1": canned(body="Mạng nội bộ".encode()),
        }
    )
    table = {"news.test": [PUBLIC_IP], "intranet.test": ["10.0.0.1"]}
    cfg, kw = guarded(fake_resolver(table), net)
    with pytest.raises(AddressBlocked):
        get("http://news.test/", cfg, kw, check_robots=False)
    open_cfg = make_cfg(allow_private_networks=True)
    transport = GuardedTransport(
        open_cfg, resolver=fake_resolver(table), network_backend=net.backend
    )
    page = get("http://news.test/", open_cfg, {"transport": transport}, check_robots=False)
    assert page.text == "Mạng nội bộ" and page.url == "http://[fd00::1]/b"
    assert net.connects == [(PUBLIC_IP, 80), (PUBLIC_IP, 80), ("10.0.0.1", 80), ("fd00::1", 80)]


def test_literal_private_ip_is_blocked_even_with_a_foreign_transport() -> None:
    transport = httpx.MockTransport(lambda request: pytest.fail("request sent"))
    with pytest.raises(AddressBlocked):
        get("http://10.1.2.3/", make_cfg(allow_private_networks=False), {"transport": transport})


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://[::1]/", "http://127.1/"])
def test_the_transport_checks_ip_literals_itself(url: str, nets: Callable[..., FakeNet]) -> None:
    """The transport checks IP literals without the Fetcher (in its network backend)."""
    net = nets()
    transport = GuardedTransport(make_cfg(allow_private_networks=False), network_backend=net.backend)

    async def run() -> None:
        try:
            with pytest.raises(AddressBlocked):
                await transport.handle_async_request(httpx.Request("GET", url))
        finally:
            await transport.aclose()

    asyncio.run(run())
    assert net.connects == []


def test_loopback_server_is_blocked_unless_allowed(server: FaultServer) -> None:
    closed = make_cfg(allow_private_networks=False)
    with pytest.raises(AddressBlocked):
        get(server.url("/ok"), closed)
    with pytest.raises(AddressBlocked):
        get(server.url("/ok", host="localhost"), closed)  # by name, via the system resolver
    assert server.requests == []
    assert get(server.url("/ok")).status == 200


def test_resolver_is_used_and_host_header_kept(server: FaultServer) -> None:
    calls: list[str] = []
    resolver = fake_resolver({"news.test": ["127.0.0.1"]}, calls)
    page = get(f"http://news.test:{server.port}/ok", make_cfg(), {"resolver": resolver})
    assert page.status == 200 and calls
    assert {h.headers["host"] for h in server.requests} == {f"news.test:{server.port}"}
    with pytest.raises(AddressBlocked):
        get(
            f"http://news.test:{server.port}/ok",
            make_cfg(allow_private_networks=False),
            {"resolver": resolver},
        )


def test_is_public_address() -> None:
    import ipaddress

    assert is_public_address(ipaddress.ip_address(PUBLIC_IP))
    assert is_public_address(ipaddress.ip_address("2606:4700::1111"))
    for answer in PRIVATE_ANSWERS:
        assert not is_public_address(ipaddress.ip_address(answer)), answer


# --- URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://news.test/", "file:///etc/passwd", "http://", "not a url"])
def test_bad_urls_are_fetch_errors(url: str) -> None:
    transport = httpx.MockTransport(lambda request: pytest.fail("request sent"))
    with pytest.raises(FetchError):
        get(url, make_cfg(), {"transport": transport})


def test_fetching_uses_no_private_names_of_its_dependencies() -> None:
    """scraper/fetch imports no underscore module or name of another package, and reaches
    into no object's underscore attributes but its own (``self._x``)."""
    import ast
    from pathlib import Path

    import scraper.fetch

    found = []
    for path in sorted(Path(scraper.fetch.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not (node.module or "").startswith("scraper"):
                names = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")) and not (
                    node.attr.startswith("__") and node.attr.endswith("__")
                ):
                    found.append(f"{path.name}:{node.lineno}: .{node.attr}")
            found += [
                f"{path.name}:{node.lineno}: {n}"
                for n in names
                if any(part.startswith("_") and part != "__future__" for part in n.split("."))
            ]
    assert found == []
