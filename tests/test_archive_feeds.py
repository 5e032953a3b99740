"""Archived feeds (RFC 5005 §4): walking ``prev-archive`` from a feed meets every stored article once.

A few hundred articles over eight months (some republished by two sources, one
published this month) on SQLite and PostgreSQL, served by the real app
through Starlette's TestClient; feeds and archive documents are read with
feedparser (Atom, RSS) and json (JSON Feed), validated with jing against the
RFC 4287 schema (its ``extensionElement`` admits ``fh:archive``), and their
ETag and Cache-Control checked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pg_server
import pytest
from conftest import ROOT
from test_storage import make_article

from feeds.app import create_app
from feeds.archive import ARCHIVE_CACHE_CONTROL, Month
from feeds.conditional import CACHE_CONTROL
from scraper.config_load import config_from_dict
from scraper.dedup.syndication import cluster_key
from storage import open_store

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from starlette.testclient import TestClient

BASE = "http://testserver"
SCHEMA = ROOT / "tests" / "schemas" / "atom.rnc"
T0 = datetime(2024, 1, 3, 6, 0, tzinfo=UTC)
ARTICLES = 240  # over ~8 months, one every day
SOURCES = ("s0", "s1", "s2")
COPY_EVERY = 30  # article n is the same story as n - 1, on another source
HISTORY = "http://purl.org/syndication/history/1.0"

CONFIG = config_from_dict({
    "feed": {"title": "qkfeed", "description": "Tin", "max_entries": 20},
    "server": {"base_url": BASE},
    "sources": {s: {"name": f"Nguồn {s}", "start_urls": [f"https://{s}.example.vn/"]} for s in SOURCES},
})


def _body(n: int) -> str:
    story = n - 1 if n % COPY_EVERY == 0 else n  # a copy carries the previous article's text
    return " ".join(f"câu{story}x{i} tin tức quân khu biên giới số {story}" for i in range(40))


def article(n: int, **changes: object):
    body = _body(n)
    fields = dict(published=T0 + timedelta(days=n), source_id=SOURCES[n % 3], body_text=body,
                  body_html=f"<p>{body}</p>", fingerprint=f"fp{n}")
    fields.update(changes)
    return make_article(n, **fields)


def fill(store) -> None:
    for n in range(1, ARTICLES + 1):
        a = article(n)
        store.upsert_article(a, now=T0 + timedelta(days=n, hours=1), cluster_key=cluster_key(a))
    now = datetime.now(UTC)
    a = article(ARTICLES + 1, published=now)
    store.upsert_article(a, now=now, cluster_key=cluster_key(a))  # this month


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('arch') / 'a.db'}"
        with open_store(url) as store:
            fill(store)
            yield store, TestClient(create_app(CONFIG, store))
    else:
        with pg_server.fresh_database() as url, open_store(url) as store:
            fill(store)
            yield store, TestClient(create_app(CONFIG, store))


def link(parsed, rel: str) -> str | None:
    return next((ln["href"] for ln in parsed.feed.get("links", []) if ln.get("rel") == rel), None)


def walk(client: TestClient, path: str) -> list[tuple[str, bytes, feedparser.FeedParserDict]]:
    """(url, body, parsed) of every archive document, following prev-archive from ``path``."""
    start = feedparser.parse(client.get(path).content)
    url = link(start, "prev-archive")
    assert url is not None, start.feed.get("links")
    assert link(start, "current") == BASE + path
    seen = []
    while url is not None:
        assert url.startswith(BASE) and url not in [u for u, _, _ in seen]
        resp = client.get(url[len(BASE):])
        assert resp.status_code == 200, url
        parsed = feedparser.parse(resp.content)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert link(parsed, "current") == BASE + path
        seen.append((url, resp.content, parsed))
        url = link(parsed, "prev-archive")
    return seen


def test_walking_the_combined_feed_meets_every_article_once(served) -> None:
    store, client = served
    docs = walk(client, "/feed.atom")
    entry_ids = [e.id for _, _, p in docs for e in p.entries]
    assert len(entry_ids) == len(set(entry_ids))  # no entry in two archive documents
    related = [ln["href"] for _, _, p in docs for e in p.entries for ln in e.get("links", [])
               if ln.get("rel") == "related"]
    stored = {store.get_article(make_article(n).url) for n in range(1, ARTICLES + 2)}
    by_guid = {s.guid: s.article.url for s in stored}
    by_link = {s.article.original_url: s.article.url for s in stored}
    met = [by_guid[i] for i in entry_ids] + [by_link[h] for h in related]
    assert sorted(met) == sorted(by_guid.values())  # every stored article, exactly once
    copies = ARTICLES // COPY_EVERY
    assert len(related) == copies and len(entry_ids) == ARTICLES + 1 - copies  # one entry per story
    months = [Month.parse(u.rsplit("/", 1)[1].removesuffix(".atom")) for u, _, _ in docs]
    assert months == sorted(months, reverse=True) and len(months) == 9  # Jan–Aug 2024, and this one
    assert months[0] == Month.of(datetime.now(UTC))
    # next-archive walks back the other way
    for (newer, _, _), (_, _, older) in zip(docs, docs[1:], strict=False):
        assert link(older, "next-archive") == newer


def test_only_finished_months_are_marked_archive(served) -> None:
    _, client = served
    docs = walk(client, "/feed.atom")
    for i, (url, body, _) in enumerate(docs):
        marked = f"<fh:archive xmlns:fh=\"{HISTORY}\"/>".encode() in body or b"<fh:archive/>" in body
        assert marked == (i > 0), url  # the running month (newest) is not marked
        assert (HISTORY.encode() in body) == marked


def test_every_source_feed_walks_its_own_articles(served) -> None:
    store, client = served
    for sid in SOURCES:
        docs = walk(client, f"/sources/{sid}/feed.atom")
        ids = [e.id for _, _, p in docs for e in p.entries]
        assert len(ids) == len(set(ids))
        want = {store.get_article(make_article(n).url).guid for n in range(1, ARTICLES + 2)
                if SOURCES[n % 3] == sid}
        assert set(ids) == want  # every copy in its own source's archive


def test_rss_and_json_carry_the_links_too(served) -> None:
    store, client = served
    rss_docs = walk(client, "/feed.rss")
    assert len(rss_docs) == 9
    assert sum(len(p.entries) for _, _, p in rss_docs) == ARTICLES + 1 - ARTICLES // COPY_EVERY
    doc = client.get("/feed.json").json()
    ids = []
    url = doc["next_url"]
    assert doc["_archive"]["prev_archive"] == url and doc["_archive"]["current"] == BASE + "/feed.json"
    while url:
        page = client.get(url[len(BASE):]).json()
        ids += [item["id"] for item in page["items"]]
        url = page.get("next_url")
    assert len(ids) == len(set(ids)) == ARTICLES + 1 - ARTICLES // COPY_EVERY


def test_archive_documents_validate_against_rfc4287(served, tmp_path: Path) -> None:
    jing = shutil.which("jing")
    if jing is None:
        pytest.skip("jing is not installed (CI installs it in .ci/run)")
    _, client = served
    files = []
    for path in ("/feed.atom", "/sources/s1/feed.atom"):
        files.append(client.get(path).content)
        files += [body for _, body, _ in walk(client, path)]
    names = []
    for i, body in enumerate(files):
        f = tmp_path / f"doc{i}.atom"
        f.write_bytes(body)
        names.append(str(f))
    proc = subprocess.run([jing, "-c", str(SCHEMA), *names], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout[:3000]


def test_etags_and_cache_control(served) -> None:
    store, client = served
    finished = client.get("/archive/2024-03.atom")
    assert finished.headers["cache-control"] == ARCHIVE_CACHE_CONTROL
    running = client.get(f"/archive/{Month.of(datetime.now(UTC))}.atom")
    assert running.status_code == 200 and running.headers["cache-control"] == CACHE_CONTROL
    etag = finished.headers["etag"]
    again = client.get("/archive/2024-03.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304
    # a new article in another month: the store changed, March did not
    a = article(ARTICLES + 5, published=datetime(2024, 6, 15, tzinfo=UTC))
    store.upsert_article(a, cluster_key=cluster_key(a))
    assert client.get("/archive/2024-03.atom").headers["etag"] == etag
    # an article of March edited: its ETag changes
    n = next(n for n in range(1, ARTICLES) if Month.of(T0 + timedelta(days=n)) == Month(2024, 3)
             and n % COPY_EVERY not in (0, COPY_EVERY - 1))
    edited = article(n, title="Bài đã sửa")
    assert store.upsert_article(edited) == "updated"
    changed = client.get("/archive/2024-03.atom")
    assert changed.headers["etag"] != etag and "Bài đã sửa".encode() in changed.content
    store.upsert_article(replace(edited, title=article(n).title))  # back as it was for the other tests


def test_not_a_month_or_an_empty_one_is_404(served) -> None:
    _, client = served
    for path in ("/archive/2024-13.atom", "/archive/1999-01.atom", "/archive/2024-1.atom",
                 "/archive/x.json", "/sources/nope/archive/2024-01.atom", "/sources/s1/archive/2023-12.rss"):
        assert client.get(path).status_code == 404, path
    assert client.get("/sources/s1/archive/2024-02.rss").status_code == 200


def test_json_archive_document(served) -> None:
    _, client = served
    doc = client.get("/archive/2024-02.json").json()
    assert doc["_archive"]["archive"] is True
    assert doc["_archive"]["next_archive"] == BASE + "/archive/2024-03.json"
    assert doc["_archive"]["prev_archive"] == BASE + "/archive/2024-01.json"
    assert json.dumps(doc)  # plain JSON
