"""Without PostgreSQL a test run says so in one line at its start, and ``.ci/run`` fails instead.

Runs pytest itself in a subprocess on a small selection of the storage tests, with
``QKFEED_TEST_PG=off`` standing in for a machine where ``initdb`` cannot run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "QKFEED_REQUIRE_PG", "QKFEED_TEST_PG")}
    environ.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
         str(ROOT / "tests" / "test_storage.py"), "-k", "test_migrations_are_idempotent"],
        capture_output=True, text=True, cwd=tmp_path, env=environ, timeout=300,
    )


def test_skipped_postgresql_tests_are_announced_at_the_start(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, QKFEED_TEST_PG="off")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("PostgreSQL tests SKIPPED: QKFEED_TEST_PG=off"), proc.stdout
    assert " skipped" in proc.stdout.splitlines()[-1]


def test_where_postgresql_is_required_a_run_without_it_fails(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, QKFEED_TEST_PG="off", QKFEED_REQUIRE_PG="1")
    assert proc.returncode != 0
    assert "PostgreSQL is required here" in proc.stdout + proc.stderr
    assert "passed" not in proc.stdout


def test_ci_requires_postgresql() -> None:
    assert "export QKFEED_REQUIRE_PG=1" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
