"""``run.py reextract``: stored raw pages extracted again after a profile change, without fetching."""

from __future__ import annotations

import asyncio
import json
import tomllib
from pathlib import Path

import pytest
from conftest import config_for
from fixture_sites import toml_dumps

from scraper.cli import main
from scraper.config_load import config_from_dict
from scraper.fetch.client import Fetcher
from scraper.pipeline.reextract import reextract
from scraper.pipeline.runner import SourceRunner
from storage import open_store

SEED = "/chinh-tri-xa-hoi/bo-tham-muu-quan-khu-tong-ket-cong-tac-dang-cong-tac-chinh-tri-nam-2023-4048"
CAPTION = "Thiếu tướng Phạm Hoàng Long chứng kiến các đơn vị ký kết giao ước thi đua năm 2024"


def _fetch(config, db: Path, sources: list[str]) -> None:
    async def go() -> None:
        with open_store(config.storage.url) as store:
            async with Fetcher(config.fetch) as fetcher:
                runner = SourceRunner(config, store, fetcher)
                for sid in sources:
                    result = await runner.backfill(config.source(sid), pages=2)
                    assert result.ok and result.new >= 3, result

    asyncio.run(go())


def _with_profile(config_path: Path, source_id: str, **profile: object) -> None:
    data = tomllib.loads(config_path.read_text("utf-8"))
    data["sources"][source_id]["profile"] = profile
    config_path.write_text(toml_dumps(data), "utf-8")


@pytest.fixture
def fetched(fresh_sites, tmp_path: Path):
    db = tmp_path / "qk.db"
    path = tmp_path / "config.toml"
    config = config_for(fresh_sites, f"sqlite:///{db}", path)
    _fetch(config, db, ["qk3", "qk7"])
    fresh_sites.clear_hits()
    return fresh_sites, path, db


def test_reextract_applies_a_changed_profile_without_fetching(fetched) -> None:
    sites, path, db = fetched
    config = config_from_dict(tomllib.loads(path.read_text("utf-8")), str(path))
    with open_store(config.storage.url) as store:
        before = store.get_article(_key(sites, SEED))
        assert before is not None and CAPTION in before.article.body_text
        unchanged = reextract(config, store)
        assert unchanged.updated == 0 and unchanged.errors == 0
        assert unchanged.unchanged == unchanged.pages >= 6

    # a profile change: image captions are now dropped from qk3 bodies
    _with_profile(path, "qk3", remove=["p[style*='center'] em"])
    config = config_from_dict(tomllib.loads(path.read_text("utf-8")), str(path))
    with open_store(config.storage.url) as store:
        result = reextract(config, store, ["qk3"])
        after = store.get_article(_key(sites, SEED))
    assert result.errors == 0
    assert result.per_source["qk3"]["updated"] >= 1
    assert set(result.per_source) == {"qk3"}
    assert after is not None
    assert CAPTION not in after.article.body_text
    assert after.guid == before.guid and after.first_seen == before.first_seen
    assert after.updated > before.updated
    assert sites.hits("qk3") == [] and sites.hits("qk7") == []  # nothing was fetched


def test_reextract_command(fetched, capsys) -> None:
    sites, path, db = fetched
    assert main(["--config", str(path), "reextract"]) == 0
    out = capsys.readouterr().out
    assert "updated=0" in out and "errors=0" in out

    # a selector that no longer matches: the generic extractor fills in and the output says so
    _with_profile(path, "qk7", body="div.content-tin-moi", lead="h2.title-content-tin", date="div.date")
    assert main(["--config", str(path), "reextract", "qk7"]) == 0
    out = capsys.readouterr().out
    assert "qk7" in out and "qk3" not in out.split("stored pages")[0]
    assert "degraded: profile selector 'body' (div.content-tin-moi)" in out

    assert main(["--config", str(path), "reextract", "nosuchsite"]) == 2
    assert sites.hits("qk7") == []


def test_reextract_skips_sources_gone_from_the_config(fetched) -> None:
    sites, path, db = fetched
    data = tomllib.loads(path.read_text("utf-8"))
    del data["sources"]["qk7"]
    config = config_from_dict(data, str(path))
    with open_store(config.storage.url) as store:
        result = reextract(config, store)
    assert result.skipped >= 3 and result.errors == 0
    assert json.dumps(sorted(result.per_source)) == '["qk3"]'


def _key(sites, path: str) -> str:
    from scraper.urls import canonical_url

    return canonical_url(sites.url("qk3", path))


def test_reextract_keeps_the_feed_note_of_the_last_run(fetched) -> None:
    """The profile's verdict replaces the selector mark, not a broken feed's note."""
    from datetime import UTC, datetime

    sites, path, db = fetched
    config = config_from_dict(tomllib.loads(path.read_text("utf-8")), str(path))
    now = datetime.now(UTC)
    note = "https://x.test/rss/a.rss: HTTP 404; HTML listing used"
    with open_store(config.storage.url) as store:
        store.record_run("qk3", started=now, finished=now, ok=True, new=0, updated=0, errors=1,
                         degraded="profile selector 'body' (div.gone) stopped matching", feed_problem=note)
        reextract(config, store, ["qk3"])
        health = store.source_health(["qk3"])[0]
    assert health.feed_problem == note
    assert "div.gone" not in (health.degraded or "")  # the profile fits again
    assert health.warning and health.warning.startswith("feed listing failed: " + note)


def test_reextract_rebuilds_every_version_and_keeps_none_of_its_own(fetched) -> None:
    """Issue 12: a profile change is no edit (no version is kept for it), and every earlier
    version is extracted again from its own stored page."""
    import dataclasses
    from datetime import UTC, datetime, timedelta

    from scraper.pipeline.runner import article_from_file

    sites, path, db = fetched
    config = config_from_dict(tomllib.loads(path.read_text("utf-8")), str(path))
    key = _key(sites, SEED)
    with open_store(config.storage.url) as store:
        html = next(data for url, _, data in store.pages_for_reextract("qk3") if url == key).decode("utf-8")
        stored = store.get_article(key)
        edited_html = html.replace("Thiếu tướng Phạm Hoàng Long", "Thiếu tướng Phạm Hoàng Long (sửa)", 1)
        assert edited_html != html
        page_url = stored.article.original_url
        edited = dataclasses.replace(article_from_file(edited_html, page_url, config.source("qk3")), url=key)
        later = datetime.now(UTC) + timedelta(seconds=1)
        assert store.upsert_article(edited, raw_html=edited_html.encode(), now=later) == "updated"
        before = store.article_history(key)
        assert before.edits == 1 and CAPTION in before.versions[0].body_text

    _with_profile(path, "qk3", remove=["p[style*='center'] em"])  # captions dropped from now on
    config = config_from_dict(tomllib.loads(path.read_text("utf-8")), str(path))
    with open_store(config.storage.url) as store:
        result = reextract(config, store, ["qk3"])
        after = store.article_history(key)
    assert result.errors == 0 and result.versions == 1
    assert after.edits == 1  # the new profile started no version
    assert [v.seen_from for v in after.versions] == [v.seen_from for v in before.versions]
    assert after.versions[0].seen_until == after.versions[1].seen_from
    assert CAPTION not in after.versions[0].body_text  # the old version too, from its own page
    assert "Phạm Hoàng Long (sửa) chứng kiến" not in after.versions[1].body_text
    assert "(sửa)" not in after.versions[0].title + after.versions[0].body_text
