"""WebSub from one-off commands: ``run.py fetch`` / ``backfill`` / ``import`` as real subprocesses
tell a local hub (127.0.0.1) which feeds they changed, and a hub that is down costs at most the grace.

The hub is ``test_websub.Hub`` (a real HTTP server in a thread); the fetches run
against the fixture sites, the store is SQLite in the test's temp dir.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from fixture_sites import FixtureSites
from service_proc import free_port, service_config
from test_websub import Hub, down_url

from feeds.websub import changed_feeds
from scraper.cli.announce import GRACE

BASE = "http://feeds.example.org"


@pytest.fixture
def sites() -> Iterator[FixtureSites]:
    with FixtureSites(["qk3"]) as s:
        yield s


def write_config(sites: FixtureSites, tmp_path: Path, hubs: tuple[str, ...], base_url: str | None = BASE,
                 name: str = "qk.db") -> Path:
    text = sites.config_text(f"sqlite:///{tmp_path / name}")
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(service_config(text, port=free_port(), base_url=base_url, feed={"websub_hubs": list(hubs)}),
                   encoding="utf-8")
    return cfg


def run(cfg: Path, *args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), "--log-format", "json",
                           *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    return proc, time.monotonic() - started


def events(proc: subprocess.CompletedProcess[str], name: str) -> list[dict[str, Any]]:
    found = []
    for line in proc.stderr.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == name:
                found.append(record)
    return found


def test_fetch_tells_the_hub_once_per_changed_feed_and_a_quiet_fetch_nothing(sites, tmp_path: Path) -> None:
    with Hub() as hub:
        cfg = write_config(sites, tmp_path, (hub.url,))
        first, _ = run(cfg, "fetch", "qk3", cwd=tmp_path)
        assert first.returncode == 0, first.stderr[-2000:]
        assert "new=0" not in first.stdout, first.stdout
        after_first = hub.topics()  # complete: the command drained its queue before exiting
        second, _ = run(cfg, "fetch", "qk3", cwd=tmp_path)
        assert second.returncode == 0, second.stderr[-2000:]
        assert "new=0 updated=0" in second.stdout, second.stdout
        after_second = hub.topics()
    assert sorted(after_first) == sorted(changed_feeds(BASE, "qk3"))  # each changed feed, once
    assert all(form["hub.mode"] == ["publish"] for form in hub.received)
    assert len(events(first, "websub_published")) == len(after_first)
    assert not events(first, "websub_undelivered")
    assert after_second == after_first  # the quiet fetch told the hub nothing
    assert not events(second, "websub_published")


def test_a_hub_that_is_down_costs_at_most_the_grace_and_is_logged(sites, tmp_path: Path) -> None:
    quiet, quiet_took = run(write_config(sites, tmp_path, (), name="nohub.db"), "fetch", "qk3", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    proc, took = run(write_config(sites, tmp_path, (down_url(),)), "fetch", "qk3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]  # the hub being down is not the fetch failing
    assert took < quiet_took + GRACE + 3.0, (took, quiet_took)
    [undelivered] = events(proc, "websub_undelivered")
    assert undelivered["level"] == "warning", undelivered
    assert undelivered["sent"] == 0
    assert undelivered["cut_off"] + undelivered["failed"] == len(changed_feeds(BASE, "qk3"))
    assert "/sources/qk3/" in undelivered["topics"]


def test_without_base_url_nothing_is_sent_and_one_warning_says_why(sites, tmp_path: Path) -> None:
    with Hub() as hub:
        proc, _ = run(write_config(sites, tmp_path, (hub.url,), base_url=None), "fetch", "qk3", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert hub.received == []
    [skipped] = events(proc, "websub_skipped")
    assert skipped["sources"] == "qk3" and "base_url" in skipped["reason"]


def test_backfill_and_import_tell_the_hub_what_they_stored(sites, tmp_path: Path) -> None:
    with Hub() as hub:
        cfg = write_config(sites, tmp_path, (hub.url,))
        proc, _ = run(cfg, "backfill", "qk3", "--pages", "2", "--quiet", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        after_backfill = hub.topics()
        warc = tmp_path / "qk3.warc.gz"
        exported, _ = run(cfg, "export", "--format", "warc", "-o", str(warc), "--quiet", cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr[-2000:]
        imported, _ = run(write_config(sites, tmp_path, (hub.url,), name="copy.db"), "import", str(warc),
                          "--quiet", cwd=tmp_path)
        assert imported.returncode == 0, imported.stderr[-2000:]
        after_import = hub.topics()
        again, _ = run(write_config(sites, tmp_path, (hub.url,), name="copy.db"), "import", str(warc),
                       "--quiet", cwd=tmp_path)
        assert again.returncode == 0 and "new=0 updated=0" in again.stdout, again.stdout
        after_again = hub.topics()
    feeds = sorted(changed_feeds(BASE, "qk3"))
    assert sorted(after_backfill) == feeds
    assert sorted(after_import[len(after_backfill):]) == feeds
    assert after_again == after_import  # an import that changed nothing tells nobody
