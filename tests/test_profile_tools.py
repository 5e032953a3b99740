"""The tools a profile writer uses: ``extract`` names every selector that missed, a saved file
needs its page's URL, and ``reextract`` and ``sources`` say the same about a profile."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
from fixture_sites import FixtureSites, toml_dumps

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = "/chinh-tri-xa-hoi/bo-tham-muu-quan-khu-tong-ket-cong-tac-dang-cong-tac-chinh-tri-nam-2023-4048"
COUNTERS = re.compile(r"new=\d+ updated=\d+ unchanged=\d+ errors=\d+")


def run(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(cfg), *args],
                          cwd=cfg.parent, capture_output=True, text=True, timeout=120)


def write_config(sites: FixtureSites, tmp: Path, **profile: str) -> Path:
    data = tomllib.loads(sites.config_text(f"sqlite:///{tmp / 'q.db'}"))
    data["sources"] = {"qk3": data["sources"]["qk3"]}
    data["sources"]["qk3"].setdefault("profile", {}).update(profile)
    cfg = tmp / "config.toml"
    cfg.write_text(toml_dumps(data), encoding="utf-8")
    return cfg


def test_extract_names_every_selector_that_missed_on_every_run(fixture_sites: FixtureSites, tmp_path: Path) -> None:
    cfg = write_config(fixture_sites, tmp_path, title="h1.khong-co", date="div.cung-khong-co")
    for _ in range(2):  # every run, not once
        proc = run(cfg, "extract", fixture_sites.url("qk3", ARTICLE))
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["title"]  # the generic extractor filled it in
        missed = [line for line in proc.stderr.splitlines() if "matched nothing" in line]
        assert len(missed) == 2, proc.stderr
        assert any("'title' (h1.khong-co) of source qk3" in line for line in missed)
        assert any("'date' (div.cung-khong-co) of source qk3" in line for line in missed)


def test_extract_of_a_file_takes_its_url_from_the_page_or_refuses(fixture_sites: FixtureSites, tmp_path: Path) -> None:
    cfg = write_config(fixture_sites, tmp_path)
    html = httpx.get(fixture_sites.url("qk3", ARTICLE), timeout=10).text
    saved = tmp_path / "saved.html"
    saved.write_text(html, encoding="utf-8")
    proc = run(cfg, "extract", str(saved))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["url"] == fixture_sites.url("qk3", ARTICLE) and data["source"] == "qk3"
    assert "localhost" not in proc.stdout
    assert f"no --url: using the page's own address {data['url']}" in proc.stderr

    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r'<link rel="canonical"[^>]*>', "", html).replace('property="og:url"', 'property="x"'),
                    encoding="utf-8")
    proc = run(cfg, "extract", str(bare))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == (f"error: {bare}: the page's URL is unknown (no canonical link in it): "
                                   "pass --url https://site/path-of-the-page")


def _health(cfg: Path) -> dict:
    proc = run(cfg, "sources", "--json")
    assert proc.returncode == 0, proc.stderr
    return {row["id"]: row for row in json.loads(proc.stdout)}


def test_reextract_and_sources_agree_on_a_profile(fixture_sites: FixtureSites, tmp_path: Path) -> None:
    cfg = write_config(fixture_sites, tmp_path)
    fetch = run(cfg, "fetch", "qk3")
    assert fetch.returncode == 0, fetch.stdout + fetch.stderr
    assert _health(cfg)["qk3"]["degraded"] is None

    broken = write_config(fixture_sites, tmp_path, body="div.bo-cuc-moi")  # the layout "changed"
    proc = run(broken, "reextract", "qk3")
    line = proc.stdout.splitlines()[0]
    assert "degraded: profile selector 'body' (div.bo-cuc-moi) matched nothing" in line, proc.stdout
    reported = line.split("degraded: ", 1)[1]
    assert _health(broken)["qk3"]["degraded"] == reported  # sources says what reextract said
    table = run(broken, "sources").stdout
    assert f"degraded: {reported}" in table

    # fetch and reextract print their counters in one order
    assert COUNTERS.search(fetch.stdout) and COUNTERS.search(line)
    for out in (fetch.stdout, line):
        keys = re.findall(r"(new|updated|unchanged|errors)=", out)
        assert keys[:4] == ["new", "updated", "unchanged", "errors"], out

    fixed = write_config(fixture_sites, tmp_path)  # the profile fixed again
    proc = run(fixed, "reextract", "qk3")
    assert "degraded" not in proc.stdout, proc.stdout
    assert _health(fixed)["qk3"]["degraded"] is None


def test_the_psycopg_hint_is_the_readme_s_command() -> None:
    hint = "pip install '.[postgres]'"
    assert hint in (ROOT / "storage" / "__init__.py").read_text("utf-8")
    assert hint in (ROOT / "README.md").read_text("utf-8")
    assert "qkfeed[postgres]" not in (ROOT / "storage" / "__init__.py").read_text("utf-8")
