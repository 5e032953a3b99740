"""Hosts that are not there: answered within about a second, every line a structured log line.

A refused connection (127.0.0.1 on a closed port) and a name that does not resolve (a
``.invalid`` name, RFC 6761: never an answer) are retried once, quickly
(``scraper.fetch.retry.UNREACHABLE_*``); timeouts, 5xx and 429 keep the ``retries``
policy with backoff.  The commands run as real ``run.py`` processes with
``--log-format json``: every line they write on stderr must parse as JSON.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultserver import FaultServer

from scraper.config import FetchConfig
from scraper.errors import FetchError
from scraper.fetch.client import Fetcher
from scraper.fetch.retry import UNREACHABLE_RETRIES, UNREACHABLE_WAIT

ROOT = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def _get(url: str, *, retries: int = 3, check_robots: bool = False) -> tuple[BaseException | None, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def go() -> BaseException | None:
        cfg = FetchConfig(allow_private_networks=True, retries=retries, per_host_delay=0.0)
        async with Fetcher(cfg, sleep=sleep) as fetcher:
            try:
                await fetcher.get(url, check_robots=check_robots)
            except FetchError as exc:
                return exc
        return None

    return asyncio.run(go()), slept


@pytest.mark.parametrize("url", [f"http://127.0.0.1:{closed_port()}/x-1", "http://qkfeed-test.invalid/x-1"],
                         ids=["refused", "no such name"])
def test_an_unreachable_host_is_tried_twice_with_one_short_wait(url: str) -> None:
    error, slept = _get(url, retries=3)
    assert isinstance(error, FetchError)
    assert slept == [UNREACHABLE_WAIT] * UNREACHABLE_RETRIES  # not 1, 2, 4 s of backoff
    assert f"after {UNREACHABLE_RETRIES + 1} attempts" in str(error)


def test_with_retries_off_an_unreachable_host_is_tried_once() -> None:
    error, slept = _get(f"http://127.0.0.1:{closed_port()}/x-1", retries=0)
    assert isinstance(error, FetchError) and slept == [] and "attempts" not in str(error)


def test_a_server_error_keeps_the_full_retry_policy() -> None:
    with FaultServer() as server:
        error, slept = _get(server.url("/status/503"), retries=3)
    assert isinstance(error, FetchError) and "503" in str(error)
    assert len(slept) == 3  # retries = 3: four attempts, with backoff between them


def _json_lines(stderr: str) -> list[dict]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON log line: {line!r}\n--- stderr ---\n{stderr}")
    return parsed


def test_extract_of_a_refused_url_answers_within_about_a_second(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[fetch]\nallow_private_networks = true\n", encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "--log-format", "json",
                           "extract", f"http://127.0.0.1:{closed_port()}/x-1"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    events = _json_lines(proc.stderr)
    assert events[-1]["event"] == "error" and "robots.txt unreachable" in events[-1]["message"]
    assert took < 5, took  # was ~17 s: four tries with 1 + 2 + 4 s of backoff, for robots.txt alone


def test_fetch_of_dead_hosts_logs_only_json_and_fails_fast(tmp_path: Path) -> None:
    port = closed_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "q.db"}"\n\n'
        "[fetch]\nallow_private_networks = true\n\n"  # the shipped retries = 3
        f'[sources.refused]\nname = "Refused"\nstart_urls = ["http://127.0.0.1:{port}/tin-tuc"]\n\n'
        '[sources.noname]\nname = "No name"\nstart_urls = ["http://qkfeed-test.invalid/tin-tuc"]\n',
        encoding="utf-8",
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "--log-format", "json",
                           "fetch"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stdout + proc.stderr
    events = _json_lines(proc.stderr)
    names = {e["event"] for e in events}
    assert {"robots_txt", "fetch_retry", "fetch"} <= names, names
    assert all("level" in e and "ts" in e for e in events)
    assert [line.split()[1] for line in proc.stdout.splitlines()] == ["FAILED"] * 2, proc.stdout
    assert took < 15, took


@pytest.mark.parametrize("argv", [["run", "--port", "99999"], ["--log-format=json", "fetch", "nosuch"],
                                  ["extract", "/nonexistent/page.html"]], ids=["bad argument", "unknown source", "no file"])
def test_usage_errors_are_json_lines_too(tmp_path: Path, argv: list[str]) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[sources.qk3]\nname = "x"\nstart_urls = ["https://a.vn/"]\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), *argv, "--log-format", "json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    (event,) = _json_lines(proc.stderr)
    assert event["level"] == "error" and event["message"] and not event["message"].startswith("error: ")
