"""The benchmarks in bench/ still run: each at a tiny size, a few seconds.

They are measurements, not tests, so no number is checked here: only that the
command exits 0 and prints its table and a GOAL line per goal.  bench/serve.py
needs wrk and nginx: skipped without them, except in CI (``CI`` set), where
``.ci/run`` installs them.  PostgreSQL runs reuse the tests' server
(``pg_server``), handed to the benchmark as ``QKFEED_TEST_PG``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pg_server
import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180


def run_bench(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *args],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    out = done.stdout
    assert "GOAL MET" in out or "GOAL MISSED" in out, out
    assert "not measured" not in out, out
    assert "|---" in out, out  # the table
    return out


def pg_env() -> dict[str, str]:
    """QKFEED_TEST_PG naming the tests' PostgreSQL server (skips, or fails in CI, without one)."""
    return {"QKFEED_TEST_PG": pg_server.server().admin_url}


@pytest.mark.parametrize("profile", [[], ["--site-profile"]], ids=["generic", "qk3-profile"])
def test_backfill_bench(profile: list[str]) -> None:
    out = run_bench("backfill.py", "--articles=40", "--hosts=2", "--latency=0.01", "--page-size=10", *profile)
    assert "| 40 (40)" in out  # every article stored, all new
    assert "| 0 " in out.split("errors", 1)[1].splitlines()[0]  # no page failed to extract
    assert out.count("GOAL") == 2


def test_ingest_bench_sqlite() -> None:
    out = run_bench("ingest.py", "--sizes=200,400", "--batch=40", "--rounds=1", "--backends=sqlite")
    assert out.count("GOAL") == 1


def test_ingest_bench_postgresql() -> None:
    out = run_bench("ingest.py", "--sizes=200,400", "--batch=40", "--rounds=1", "--backends=postgresql",
                    env=pg_env())
    assert "| postgresql" in out


def test_render_bench() -> None:
    out = run_bench("render.py", "--size=200", "--runs=3", "--backends=sqlite,postgresql", env=pg_env())
    assert "| sqlite" in out and "| postgresql" in out


def test_serve_bench() -> None:
    missing = [tool for tool in ("wrk", "nginx") if not (shutil.which(tool) or Path("/usr/sbin", tool).exists())]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{' and '.join(missing)} missing in CI (.ci/run installs them)", pytrace=False)
        pytest.skip(f"{' and '.join(missing)} not installed (Debian packages wrk, nginx)")
    out = run_bench("serve.py", "--duration=1", "--articles=100", "--connections=4")
    assert out.count("GOAL") == 3


def test_export_bench() -> None:
    out = run_bench("export.py", "--sizes=50,150", "--formats=warc,jsonl")
    assert out.count("GOAL") == 2


def _wild_page(title: str, when: str, author: str) -> str:
    text = " ".join(f"Sentence {n} of the synthetic article about {title.lower()}, long enough to be a body." for n in range(8))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title} - Synthetic Times</title>"
        f"<meta property='article:published_time' content='{when}'><meta name='author' content='{author}'></head>"
        f"<body><article><h1>{title}</h1><p>{text}</p><p>{text}</p></article></body></html>"
    )


def test_extraction_wild_bench(tmp_path: Path) -> None:
    """Both sets, laid out as their projects lay them out, with two synthetic pages each."""
    import gzip
    import json

    dates, fundus = tmp_path / "dates", tmp_path / "fundus" / "xx"
    (dates / "eval").mkdir(parents=True)
    fundus.mkdir(parents=True)
    truth, versions = {}, {}
    for n, (when, day) in enumerate([("2021-03-04T09:15:00+01:00", "2021-03-04"), ("2022-07-01T23:30:00Z", "2022-07-01")]):
        (dates / "eval" / f"p{n}.html").write_text(_wild_page(f"Story number {n}", when, "Dana Whitfield"), "utf-8")
        truth[f"https://example.org/p{n}"] = {"file": f"p{n}.html", "date": day}
        (fundus / f"Pub_2024_05_0{n + 1}.html.gz").write_bytes(
            gzip.compress(_wild_page(f"Story number {n}", when, "Dana Whitfield").encode()))
        versions[f"V{n + 1}"] = {"title": f"Story number {n}", "authors": ["Dana Whitfield"], "publishing_date": when}
    (dates / "eval_default.json").write_text(json.dumps(truth), "utf-8")
    (fundus / "Pub.json").write_text(json.dumps(versions), "utf-8")
    out = run_bench("extraction_wild.py", f"--dates={dates}", f"--fundus={tmp_path / 'fundus'}",
                    "--tools=qkfeed,htmldate")
    assert "(d) date evaluation set: 2 pages" in out and "(e) fundus parser test data: 2 pages" in out
    assert "| qkfeed   | 1.000 | 1.000" in out  # both sets: every field of these plain pages right
    assert out.count("GOAL") == 2  # (d) against htmldate; (e) needs trafilatura in --tools


def test_extraction_wild_bench_without_data() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "extraction_wild.py")], capture_output=True, text=True,
                         timeout=TIMEOUT, cwd=ROOT, env={k: v for k, v in os.environ.items() if not k.startswith("QKFEED_EVAL")})
    assert out.returncode == 0 and out.stdout.count("skipped: no data directory") == 2
