"""Shared fixtures: the fixture-site server and configs pointing at it."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pg_server  # noqa: E402
from fixture_sites import FixtureSites  # noqa: E402

from scraper.config import Config  # noqa: E402
from scraper.config_load import config_from_dict  # noqa: E402


def pytest_sessionstart(session: pytest.Session) -> None:
    """One line at the start of the run when the PostgreSQL tests cannot run, and why (also
    under ``-q``); where PostgreSQL is required (``.ci/run``) the run stops there instead."""
    reason = pg_server.availability()
    if reason is None:
        return
    if pg_server.required():
        pytest.exit(f"PostgreSQL is required here (QKFEED_REQUIRE_PG or CI set): {reason}", returncode=1)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    line = f"PostgreSQL tests SKIPPED: {reason}"
    if reporter is not None:
        reporter.write_line(line, yellow=True, bold=True)
    else:
        print(line, file=sys.stderr)


@pytest.fixture(scope="session")
def fixture_sites() -> Iterator[FixtureSites]:
    """All fixture sites, read-only (tests that edit pages start their own server)."""
    with FixtureSites() as sites:
        yield sites


@pytest.fixture
def fresh_sites() -> Iterator[FixtureSites]:
    """A private copy of the fixture sites that a test may edit."""
    with FixtureSites() as sites:
        yield sites


def config_for(sites: FixtureSites, storage_url: str, path: Path | None = None, **fetch: object) -> Config:
    """A validated config pointing at ``sites``; also written to ``path`` when given."""
    text = sites.config_text(storage_url, **fetch)
    if path is not None:
        path.write_text(text, encoding="utf-8")
    return config_from_dict(tomllib.loads(text), str(path or "<fixture config>"))
