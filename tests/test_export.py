"""``run.py export`` (WARC, JSONL, CSV) and ``run.py import`` against a store filled by a real fetch.

The fixture sites are fetched once into SQLite (``run.py fetch``, as a user
types it); every export is read back with its format's own reader (warcio,
``json``, ``csv``) and compared with the store; the exported WARC is checked
by ``warcio check`` and imported into an empty store.  The store's keyset walk
(``archive_page``) runs on both backends.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pg_server
import pytest
from conftest import ROOT, config_for
from fixture_sites import FixtureSites, expected_articles
from test_storage import make_article
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from scraper.cli.output import open_output
from scraper.export.records import CSV_FIELDS, FIELDS
from storage import open_store

WARCIO = Path(sys.executable).with_name("warcio")


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory):
    """(sites, workdir, config path, db path): every fixture site fetched once."""
    tmp = tmp_path_factory.mktemp("archive")
    with FixtureSites() as sites:
        db = tmp / "a.db"
        cfg = tmp / "config.toml"
        config_for(sites, f"sqlite:///{db}", cfg)
        proc = run("--config", str(cfg), "fetch", cwd=tmp)
        assert proc.returncode == 0, proc.stderr[-2000:]
        yield sites, tmp, cfg, db


@pytest.fixture(scope="module")
def stored(archive):
    _, _, _, db = archive
    with open_store(f"sqlite:///{db}") as store:
        items = []
        after = 0
        while batch := store.archive_page(after_id=after, limit=7, with_pages=True):
            items += batch
            after = batch[-1].stored.id
        assert len(items) == store.count_articles() >= 10
        return items


def export(archive, fmt: str, *extra: str) -> Path:
    _, tmp, cfg, _ = archive
    out = tmp / f"out-{fmt}-{len(extra)}.{fmt}"
    proc = run("--config", str(cfg), "export", "--format", fmt, "-o", str(out), *extra, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return out


def test_warc_reads_back_record_by_record(archive, stored) -> None:
    out = export(archive, "warc")
    with out.open("rb") as fh:
        records = []
        for rec in ArchiveIterator(fh):
            payload = rec.content_stream().read()
            records.append((rec.rec_type, rec.rec_headers, rec.http_headers, payload))
    assert records[0][0] == "warcinfo"
    assert records[0][1].protocol == "WARC/1.1"
    responses = [r for r in records if r[0] == "response"]
    metadata = [r for r in records if r[0] == "metadata"]
    assert len(records) == 1 + len(responses) + len(metadata)
    assert len(metadata) == len(stored) and len(responses) == len(stored)  # every page is stored
    by_url = {item.stored.article.url: item for item in stored}
    ids = {}
    for _, headers, http, payload in responses:
        target = headers.get_header("WARC-Target-URI")
        item = next(i for i in stored if i.stored.article.original_url == target)
        assert payload == item.page  # the raw bytes as fetched
        digest = "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode()
        assert headers.get_header("WARC-Payload-Digest") == digest
        assert http.get_statuscode() == "200"
        assert http.get_header("Content-Length") == str(len(payload))
        assert headers.get_header("Qkfeed-HTTP-Head") == "reconstructed"  # honest about the head
        assert headers.get_header("WARC-Date").startswith(item.fetched_at.strftime("%Y-%m-%dT%H:%M:%S"))
        ids[headers.get_header("WARC-Record-ID")] = item
    for _, headers, _, payload in metadata:
        record = json.loads(payload)
        item = by_url[headers.get_header("WARC-Target-URI")]
        assert record["url"] == item.stored.article.url and record["guid"] == item.stored.guid
        assert headers.get_header("Content-Type") == "application/json"
        refers = headers.get_header("WARC-Refers-To")
        assert refers == headers.get_header("WARC-Concurrent-To")
        assert ids[refers] is item  # linked to its own page


def test_warcio_check_and_index_pass(archive) -> None:
    out = export(archive, "warc")
    proc = subprocess.run([str(WARCIO), "check", "-v", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "digest pass" in proc.stdout and "fail" not in proc.stdout
    proc = subprocess.run([str(WARCIO), "index", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    with out.open("rb") as fh:  # gzip per record: every indexed offset starts a record
        data = fh.read()
    assert all(data[int(line["offset"]):][:2] == b"\x1f\x8b" for line in lines)


def test_jsonl_has_every_field_of_every_article(archive, stored) -> None:
    out = export(archive, "jsonl")
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == len(stored)
    for line, item in zip(lines, stored, strict=True):
        record = json.loads(line)
        assert tuple(record) == FIELDS
        a = item.stored.article
        assert record["url"] == a.url and record["guid"] == item.stored.guid
        assert record["source"] == a.source_id and record["title"] == a.title
        assert record["published"] == (a.published.isoformat() if a.published else None)
        assert record["updated"] == item.stored.updated.isoformat()
        assert record["authors"] == list(a.authors) and record["agencies"] == list(a.agencies)
        assert record["body_text"] == a.body_text and record["body_html"] == a.body_html
        assert record["summary"] == a.summary and record["image"] == a.image_url
        assert record["syndicated_with"] == list(item.syndicated_with)


def test_csv_has_a_bom_and_the_same_rows(archive, stored) -> None:
    out = export(archive, "csv")
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == CSV_FIELDS and "body_html" not in rows[0]
    assert len(rows) == 1 + len(stored)
    for row, item in zip(rows[1:], stored, strict=True):
        cells = dict(zip(CSV_FIELDS, row, strict=True))
        a = item.stored.article
        assert cells["title"] == a.title and cells["body_text"] == a.body_text  # newlines survive
        assert cells["authors"] == "; ".join(a.authors)


def test_selection_by_source_and_dates(archive, stored) -> None:
    source = stored[0].stored.article.source_id
    out = export(archive, "jsonl", "--source", source)
    got = [json.loads(line)["url"] for line in out.read_text("utf-8").splitlines()]
    assert got == [i.stored.article.url for i in stored if i.stored.article.source_id == source]
    two = sorted({i.stored.article.source_id for i in stored})[:2]
    out = export(archive, "jsonl", "--source", *two)
    got = [json.loads(line)["url"] for line in out.read_text("utf-8").splitlines()]
    assert got == [i.stored.article.url for i in stored if i.stored.article.source_id in two]
    times = sorted(i.stored.published_or_seen for i in stored)
    middle = times[len(times) // 2]
    since = middle.isoformat()
    out = export(archive, "jsonl", "--since", since, "--until", "2999-01-01")
    got = {json.loads(line)["url"] for line in out.read_text("utf-8").splitlines()}
    assert got == {i.stored.article.url for i in stored if i.stored.published_or_seen >= middle}
    day = middle.date().isoformat()  # a bare --until date is through that day
    out = export(archive, "jsonl", "--until", day, "--since", "2000-01-01", "--quiet")
    got = {json.loads(line)["url"] for line in out.read_text("utf-8").splitlines()}
    assert got == {i.stored.article.url for i in stored if i.stored.published_or_seen.date() <= middle.date()}


def test_import_of_an_export_into_an_empty_store_reproduces_the_articles(archive, stored) -> None:
    sites, tmp, _, _ = archive
    warc = export(archive, "warc")
    db = tmp / "imported.db"
    cfg = tmp / "import.toml"
    config_for(sites, f"sqlite:///{db}", cfg)
    proc = run("--config", str(cfg), "import", "--format", "warc", str(warc), cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"new={len(stored)} updated=0 unchanged=0 errors=0" in proc.stdout
    with open_store(f"sqlite:///{db}") as store:
        for item in stored:
            again = store.get_article(item.stored.article.url)
            assert again is not None
            assert again.article == item.stored.article  # every field, canonical URL to fingerprint
            assert again.guid == item.stored.guid
        assert store.count_articles() == len(stored)
    proc = run("--config", str(cfg), "import", str(warc), cwd=tmp)  # idempotent
    assert proc.returncode == 0 and f"new=0 updated=0 unchanged={len(stored)}" in proc.stdout
    # and the round trip is exact at the WARC level: same pages, same digests
    again = tmp / "again.warc"
    proc = run("--config", str(cfg), "export", "--format", "warc", "-o", str(again), cwd=tmp)
    assert proc.returncode == 0
    assert _responses(again) == _responses(warc)


def _responses(path: Path) -> dict[str, tuple[str, str]]:
    with path.open("rb") as fh:
        return {
            r.rec_headers.get_header("WARC-Target-URI"): (
                r.rec_headers.get_header("WARC-Payload-Digest"), r.rec_headers.get_header("WARC-Date"),
            )
            for r in ArchiveIterator(fh) if r.rec_type == "response"
        }


def test_import_of_another_crawlers_warc(archive, tmp_path: Path) -> None:
    """Real HTTP heads (charset, chunked, gzip), and records that are no article page."""
    sites, _, _, _ = archive
    page_url = expected_articles("qk3", sites.base_url("qk3"))[0]["url"]
    html = _get(page_url)
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)  # a plain (not gzipped) WARC/1.0, as many crawlers write
    body = gzip.compress(html)  # sent with Content-Encoding: gzip, as recorded
    head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                       ("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))],
                            protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(page_url, "response", payload=io.BytesIO(body),
                                                  length=len(body), http_headers=head))
    missing = StatusAndHeaders("404 Not Found", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(page_url + "-x", "response", payload=io.BytesIO(b"no"),
                                                  length=2, http_headers=missing))
    image = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(page_url + ".png", "response", payload=io.BytesIO(b"\x89PNG"),
                                                  length=4, http_headers=image))
    warc = tmp_path / "other.warc"
    warc.write_bytes(buf.getvalue())
    db = tmp_path / "o.db"
    cfg = tmp_path / "c.toml"
    config_for(sites, f"sqlite:///{db}", cfg)
    proc = run("--config", str(cfg), "import", str(warc), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "new=1 " in proc.stdout and "not html 1" in proc.stdout and "status 404 1" in proc.stdout
    with open_store(f"sqlite:///{db}") as store:
        (item,) = store.archive_page(with_pages=True)
        assert item.stored.article.source_id == "qk3" and item.page == html


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as resp:  # the fixture server on 127.0.0.1
        return resp.read()


def test_bad_input_is_one_line(archive, tmp_path: Path) -> None:
    _, tmp, cfg, _ = archive
    proc = run("--config", str(cfg), "export", "--format", "jsonl", "--source", "nope", cwd=tmp)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error:")
    proc = run("--config", str(cfg), "export", "--format", "csv", "-o", str(tmp_path), cwd=tmp)
    assert proc.returncode == 2 and "is a directory" in proc.stderr and "Traceback" not in proc.stderr
    junk = tmp_path / "junk.warc"
    junk.write_bytes(b"this is not a warc\r\n\r\n")
    proc = run("--config", str(cfg), "import", str(junk), cwd=tmp)
    assert proc.returncode == 2 and "not a WARC file" in proc.stderr and "Traceback" not in proc.stderr
    whole = export(archive, "warc").read_bytes()
    cut = tmp_path / "cut.warc"
    cut.write_bytes(whole[: len(whole) * 2 // 3])  # breaks off inside a gzip member
    proc = run("--config", str(cfg), "import", str(cut), cwd=tmp)
    assert proc.returncode == 2 and "breaks off" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run("--config", str(cfg), "import", str(tmp_path / "missing.warc"), cwd=tmp)
    assert proc.returncode == 2 and "cannot read" in proc.stderr


def test_a_failed_export_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"old\n")
    with pytest.raises(RuntimeError), open_output(target) as out:
        out.write(b"half")
        raise RuntimeError("store went away")
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]  # no temp file left
    with open_output(target) as out:
        out.write(b"new\n")
    assert target.read_bytes() == b"new\n"
    with open_output("/dev/null") as out:  # a device is written in place, never replaced
        out.write(b"x")
    assert Path("/dev/null").is_char_device()


# -- the store's keyset walk, on both backends ------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
            yield store
    else:
        with pg_server.fresh_database() as url, open_store(url) as store:
            yield store


def test_archive_page_walks_every_article_once(any_store) -> None:
    from scraper.dedup.syndication import cluster_key
    from scraper.export.walk import Selection, walk_archive

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    body = " ".join(f"từ{i} câu chuyện dài về biên giới" for i in range(60))
    for n in range(1, 121):
        a = make_article(n, published=t0 + timedelta(hours=7 * n), source_id=f"s{n % 3}")
        if n in (10, 11):  # the same story on two sites
            a = make_article(n, published=t0 + timedelta(hours=7 * n), source_id=f"s{n % 3}",
                             body_text=body, body_html=f"<p>{body}</p>")
        any_store.upsert_article(a, raw_html=f"<html>{n}</html>".encode(), now=t0 + timedelta(days=400),
                                 cluster_key=cluster_key(a))
    got = list(walk_archive(any_store, Selection(), with_pages=True, page_size=16))
    assert [i.stored.article.url for i in got] == [make_article(n).url for n in range(1, 121)]
    assert got[4].page == b"<html>5</html>" and got[4].fetched_at == t0 + timedelta(days=400)
    assert got[9].syndicated_with == (make_article(11).url,)
    assert got[10].syndicated_with == (make_article(10).url,)
    assert got[11].syndicated_with == ()
    only = list(walk_archive(any_store, Selection(("s1",), t0 + timedelta(days=10), t0 + timedelta(days=20)),
                             with_pages=False, page_size=5))
    assert only and all(i.stored.article.source_id == "s1" and i.compressed_page is None for i in only)
    expected = [n for n in range(1, 121) if n % 3 == 1 and 10 * 24 <= 7 * n < 20 * 24]
    assert [i.stored.article.url for i in only] == [make_article(n).url for n in expected]


def test_a_corrupt_stored_page_loses_its_response_not_the_export(archive, stored, tmp_path: Path) -> None:
    import shutil
    import sqlite3

    _, _, _, db = archive
    copy = tmp_path / "c.db"
    shutil.copy(db, copy)
    victim = stored[0].stored.article.url
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE pages SET html = ? WHERE url = ?", (b"not zlib", victim))
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[storage]\nurl = "sqlite:///{copy}"\n', encoding="utf-8")
    out = tmp_path / "c.warc"
    proc = run("--config", str(cfg), "export", "--format", "warc", "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 1 and "1 corrupt stored pages left out" in proc.stderr, proc.stderr
    with out.open("rb") as fh:
        kinds = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(fh)]
    assert ("metadata", victim) in kinds
    assert sum(1 for k, _ in kinds if k == "response") == len(stored) - 1
