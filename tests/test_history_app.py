"""The feed server's history endpoints in process (issue 12): /edits.*, /removed.*, /articles/{id}."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from test_app import ARTICLES, BORDER, T0, Env, _make_env

STEPS = [3600.0]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield from _make_env(tmp_path)


def edit_and_remove(env: Env) -> int:
    """One edit of BORDER (a word inserted) and one confirmed removal of another article."""
    original = next(a for _, a in ARTICLES if a.url == BORDER)
    edited = dataclasses.replace(original, body_text="Bộ đội Biên phòng đã tuần tra dọc tuyến biên giới.",
                                 body_html="<p>Bộ đội Biên phòng đã tuần tra dọc tuyến biên giới.</p>",
                                 fingerprint=original.fingerprint + "-edited")
    assert env.store.upsert_article(edited, now=T0 + timedelta(days=1)) == "updated"
    gone = next(a for _, a in ARTICLES if a.url != BORDER)
    for hours in (25, 32):
        env.store.record_revisit(gone.url, now=T0 + timedelta(hours=hours), steps=STEPS,  # type: ignore[attr-defined]
                                 confirm_after=3600, evidence="HTTP 404")
    return env.store.get_article(BORDER).id  # type: ignore[union-attr]


def test_empty_history_feeds_are_valid(env: Env) -> None:
    for path in ("/edits.atom", "/edits.rss", "/removed.atom", "/sources/qdnd/removed.rss"):
        r = env.client.get(path)
        assert r.status_code == 200, (path, r.text)
        parsed = feedparser.parse(r.content)
        assert parsed.bozo == 0 and parsed.entries == [], path
    assert env.client.get("/sources/qdnd/edits.json").json()["items"] == []
    assert env.client.get("/sources/nope/edits.atom").status_code == 404
    assert env.client.get("/articles/999999").status_code == 404


def test_an_edit_and_a_removal_in_every_place(env: Env) -> None:
    article_id = edit_and_remove(env)
    items = env.client.get("/edits.json").json()["items"]
    assert len(items) == 1 and items[0]["url"].endswith(f"/articles/{article_id}")
    assert "<ins>đã</ins>" in items[0]["content_html"] and items[0]["title"].startswith("Đã sửa nội dung: ")
    assert env.client.get("/sources/qdnd/edits.json").json()["items"] == items
    assert env.client.get("/sources/qk7/edits.json").json()["items"] == []
    removed = env.client.get("/removed.json").json()["items"]
    assert len(removed) == 1 and removed[0]["title"].startswith("Đã gỡ: ")

    entry = next(e for e in feedparser.parse(env.client.get("/feed.atom").content).entries
                 if e.id == env.store.get_article(BORDER).guid)  # type: ignore[union-attr]
    assert "đã được sửa 1 lần" in entry.content[0].value and f"/articles/{article_id}" in entry.content[0].value

    page = env.client.get(f"/articles/{article_id}")
    assert page.status_code == 200 and "style-src 'sha256-" in page.headers["content-security-policy"]
    assert "đã sửa 1 lần" in page.text and "<ins>đã</ins>" in page.text
    again = env.client.get(f"/articles/{article_id}", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304

    qdnd = env.client.get("/healthz").json()["sources"]
    assert sum(s["edits"] for s in qdnd.values()) == 1 and sum(s["removed"] for s in qdnd.values()) == 1
    assert sum(s["revisits"] for s in qdnd.values()) == 2
