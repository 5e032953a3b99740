"""Config loading: the documented shape works, every mistake is one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scraper.config import DEFAULT_STORAGE_URL, parse_duration
from scraper.config_load import config_from_dict, load_config
from scraper.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

MINIMAL = """
[storage]
url = "sqlite:///data/qkfeed.db"
[fetch]
allow_private_networks = false
[sources.qk3]
name = "Quân khu 3"
start_urls = ["https://quankhu3.vn/chinh-tri-xa-hoi"]
"""


def test_bundled_config_has_every_site() -> None:
    config = load_config(ROOT / "config.toml")
    for sid in ("qk3", "qdnd", "qk7", "qk4", "bienphong", "haiquan", "qptd"):
        assert sid in config.sources, sid
        assert config.sources[sid].start_urls
    assert config.sources["qdnd"].profile.title == "h1.post-title"
    assert config.sources["bienphong"].profile.date == "span.bp-date-time"


def test_minimal_shape(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    config = load_config(path)
    qk3 = config.sources["qk3"]
    assert qk3.name == "Quân khu 3"
    assert qk3.profile.is_empty
    assert config.storage.url == DEFAULT_STORAGE_URL
    assert config.fetch.allow_private_networks is False


def test_storage_defaults_when_omitted() -> None:
    config = config_from_dict({"sources": {"a": {"name": "A", "start_urls": ["https://a.vn/"]}}})
    assert config.storage.url == DEFAULT_STORAGE_URL
    assert config.fetch.extract_workers == 0  # no extraction process: backfills extract in process
    assert config_from_dict({"fetch": {"extract_workers": 0}}).fetch.extract_workers == 0  # in process


def test_selectors_on_source_or_in_profile_table() -> None:
    flat = config_from_dict({"sources": {"a": {"name": "A", "start_urls": ["https://a.vn/"], "title": "h1.x", "remove": ".ads"}}})
    nested = config_from_dict({"sources": {"a": {"name": "A", "start_urls": ["https://a.vn/"], "profile": {"title": "h1.x", "remove": [".ads"]}}}})
    assert flat.sources["a"].profile == nested.sources["a"].profile
    assert flat.sources["a"].profile.remove == (".ads",)


@pytest.mark.parametrize(
    ("doc", "key", "problem"),
    [
        ({"sources": {"qk3": {"name": "x"}}}, "sources.qk3.start_urls", "required key is missing"),
        ({"sources": {"qk3": {"start_urls": ["https://a.vn"]}}}, "sources.qk3.name", "required key is missing"),
        ({"sources": {"qk3": {"name": "x", "start_urls": "https://a.vn"}}}, "sources.qk3.start_urls", "must be a list of URLs"),
        ({"sources": {"qk3": {"name": "x", "start_urls": ["ftp://a"]}}}, "sources.qk3.start_urls", "not an http(s) URL"),
        ({"sources": {"qk3": {"name": "x", "start_urls": ["https://a.vn"], "colour": 1}}}, "sources.qk3.colour", "unknown key"),
        ({"fetch": {"bogus": 1}}, "fetch.bogus", "unknown key"),
        ({"fetch": {"timeout": "fast"}}, "fetch.timeout", "must be a number"),
        ({"fetch": {"allow_private_networks": "yes"}}, "fetch.allow_private_networks", "must be true or false"),
        ({"storage": {"url": "mysql://x"}}, "storage.url", "sqlite:///"),
        ({"storage": {"url": "sqlite:///"}}, "storage.url", "sqlite:///relative/path.db"),
        ({"sources": {"qk3": {"name": "x", "start_urls": ["https://a.vn"], "profile": {"title": "h1[[["}}}},
         "sources.qk3.profile.title", "invalid CSS selector 'h1[[['"),
        ({"sources": {"qk3": {"name": "x", "start_urls": ["https://a.vn"], "remove": [".ok", "p::"]}}},
         "sources.qk3.profile.remove", "invalid CSS selector 'p::'"),
        ({"server": {"port": "80"}}, "server.port", "must be a whole number"),
        ({"storage": {"pool_size": 0}}, "storage.pool_size", "greater than or equal to 1"),
        ({"fetch": {"extract_workers": -1}}, "fetch.extract_workers", "greater than or equal to 0"),
        ({"fetch": {"extract_workers": 17}}, "fetch.extract_workers", "less than or equal to 16"),
        ({"fetch": {"extract_workers": "2"}}, "fetch.extract_workers", "must be a whole number"),
        ({"sources": {"qk3": {"name": "x", "start_urls": ["https://a.vn"], "interval": "soon"}}}, "sources.qk3.interval", "duration"),
        ({"sources": {"qk3": {"name": "x", "start_urls": ["https://a.vn"], "timezone": "Mars/Base"}}}, "sources.qk3.timezone", "unknown time zone"),
        ({"sources": {"q k": {"name": "x", "start_urls": ["https://a.vn"]}}}, "sources.q k", "source ids"),
        ({"sources": {"qk3": {"name": "x", "start_urls": ["https://a.vn"], "page_url": "{url}/p"}}}, "sources.qk3.page_url", "{n}"),
        ({"sources": {"qk3": {"name": "x", "start_urls": ["https://a.vn"], "profile": {"tittle": "h1"}}}}, "sources.qk3.profile.tittle", "unknown key"),
        ({"sources": 3}, "sources", "table"),
    ],
)
def test_bad_config_names_file_key_and_problem(doc: dict, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc, "my.toml")
    message = str(info.value)
    assert message.startswith(f"my.toml: {key}: "), message
    assert problem in message
    assert "\n" not in message


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sources.qk3\nname = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_bad_config_in_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace('name = "Quân khu 3"', "name = 3"), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(bad), "sources"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {bad}: sources.qk3.name: must be a string (in quotes)"]


def test_unknown_source_id_is_a_usage_error() -> None:
    config = config_from_dict({"sources": {"a": {"name": "A", "start_urls": ["https://a.vn/"]}}}, "c.toml")
    with pytest.raises(ConfigError, match=r"c.toml: sources.zz: no such source \(known: a\)"):
        config.source("zz")


@pytest.mark.parametrize(("value", "seconds"), [(90, 90.0), ("30m", 1800.0), ("2h", 7200.0), ("1d", 86400.0), ("45", 45.0)])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds  # type: ignore[arg-type]


def test_every_broken_selector_is_named_at_once() -> None:
    doc = {"sources": {"qk3": {"name": "x", "start_urls": ["https://a.vn"],
                               "profile": {"title": "h1[[[", "body": "div..x", "links": "a:nth-child(", "date": "span.ok"}}}}
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc, "my.toml")
    message = str(info.value)
    assert message.startswith("my.toml: ") and "\n" not in message
    for key, selector in (("title", "h1[[["), ("body", "div..x"), ("links", "a:nth-child(")):
        assert f"sources.qk3.profile.{key}: invalid CSS selector {selector!r}" in message, message
    assert "span.ok" not in message


def test_pydantic_wording_never_reaches_the_user() -> None:
    doc = {"fetch": {"retries": "3", "timeout": [1], "respect_robots": 1, "user_agent": 5},
           "server": {"allowed_hosts": "x"}, "feed": {"max_entries": 1.5},
           "sources": {"qk3": {"name": "x", "start_urls": "https://a.vn", "profile": 3}}}
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc, "my.toml")
    message = str(info.value)
    assert "Input should" not in message and "valid tuple" not in message and "Value error" not in message, message
