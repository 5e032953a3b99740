"""The served feeds in real readers and validators (issue "Real readers").

One real service (``python run.py run`` as a subprocess, see ``service_proc.py``) runs
against a private copy of the fixture sites for the whole module, every source on a
2-second interval.  Against it:

* ``jing`` validates every Atom feed (combined and per source) with the RELAX NG schema of
  RFC 4287 Appendix B (``tests/schemas/atom.rnc``), and so does libxml2's ``xmllint`` with
  the same grammar in XML syntax (``atom.rng``, made from the .rnc by ``trang``); what the
  schema leaves to the RFC's prose (its two Schematron rules, absolute IRIs, RFC 3339 time
  zones) is checked here in Python;
* feedparser reads Atom and RSS without complaint, and ``/feed.json`` is JSON Feed 1.1;
* headless Chromium renders ``/`` with the Vietnamese titles and the feed links;
* newsboat, subscribed to the combined Atom and RSS feeds and to one source's feed, sees
  every article, exactly one more after one is published on a site, the same count on a
  reload with nothing new, and no article comes back as unread after a full re-download;
* SIGTERM stops the service with exit code 0 and a log without a traceback.

The tests run in file order: the newsboat test publishes an article and the SIGTERM test
stops the shared service, so they come last.  A test whose program is missing is skipped
(CI installs newsboat, jing, libxml2-utils and chromium; see ``.ci/run``; trang is needed
only for the check that ``atom.rng`` is up to date).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import tomllib
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
from conftest import ROOT
from fixture_sites import SITES_DIR, FixtureSites
from lxml import etree
from lxml import html as lxml_html
from service_proc import (
    ServiceError,
    ServiceProcess,
    child_env,
    service_config,
    start_service,
    wait_for,
)

SCHEMA = ROOT / "tests" / "schemas" / "atom.rnc"
SCHEMA_RNG = ROOT / "tests" / "schemas" / "atom.rng"  # generated from atom.rnc by trang
ATOM = "{http://www.w3.org/2005/Atom}"
INTERVAL = 2  # seconds between two runs of one source
MAX_ENTRIES = 500  # [feed] max_entries: every stored article is in every feed, however many sites
FORMATS = ("atom", "rss", "json")
MIME = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
TOOL_TIMEOUT = 90  # seconds for one run of jing, newsboat or chromium

# The article published during the newsboat test (on qk3, a copy of one of its pages).
NEW_SITE = "qk3"
NEW_LISTING = "/chinh-tri-xa-hoi"
NEW_PATH = "/chinh-tri-xa-hoi/bo-chi-huy-quan-su-tinh-thai-binh-ra-quan-huan-luyen-nam-2024-9101"
NEW_TITLE = "Bộ Chỉ huy Quân sự tỉnh Thái Bình ra quân huấn luyện năm 2024"
NEW_DATE_LINE = "Thứ hai, 15/01/2024 - 08:30"
NEW_LEAD = ("Sáng 15/01, Bộ Chỉ huy Quân sự tỉnh Thái Bình tổ chức lễ ra quân huấn luyện năm 2024. "
            "Đại tá Nguyễn Đức Hưởng, Chỉ huy trưởng Bộ Chỉ huy Quân sự tỉnh chủ trì buổi lễ.")


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (CI installs it in .ci/run)")
    return path


def all_ran(doc: dict[str, Any]) -> bool:
    return all(s["last_success"] for s in doc["sources"].values() if s["enabled"])


# -- the shared service ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sites() -> Iterator[FixtureSites]:
    """A private, editable copy of every fixture site (the newsboat test adds an article)."""
    with FixtureSites() as served:
        yield served


@pytest.fixture(scope="module")
def service(sites: FixtureSites, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """``run.py run`` on a free 127.0.0.1 port, every source run at least once."""
    work = tmp_path_factory.mktemp("service")
    base_text = sites.config_text(f"sqlite:///{work / 'qkfeed.db'}")
    svc = start_service(lambda port: service_config(
        base_text, port=port, interval=INTERVAL, feed={"max_entries": MAX_ENTRIES}), work)
    try:
        svc.wait_healthy(all_ran, timeout=90, what="every source to have a last_success")
        yield svc
    finally:
        svc.close()


@pytest.fixture(scope="module")
def max_entries(service: ServiceProcess) -> int:
    return int(tomllib.loads(service.config_path.read_text("utf-8"))["feed"]["max_entries"])


def syndicated_copies() -> int:
    """Fixture articles that repost another site's story (the same golden title on several
    sites, e.g. qk7's copy of a qdnd story): the combined feed lists each story once."""
    titles = [json.loads(p.read_text("utf-8"))["title"] for p in SITES_DIR.glob("*/expected/*.json")]
    return len(titles) - len(set(titles))


def expected_counts(service: ServiceProcess, max_entries: int) -> tuple[int, dict[str, int]]:
    """(entries of the combined feed, entries of each source's feed) from ``/healthz``."""
    per_source = {sid: s["articles"] for sid, s in service.healthz()["sources"].items() if s["enabled"]}
    stories = sum(per_source.values()) - syndicated_copies()
    return min(stories, max_entries), {k: min(v, max_entries) for k, v in per_source.items()}


def feed_paths(service: ServiceProcess, fmt: str) -> list[str]:
    """The combined feed and every source's feed, in format ``fmt``."""
    sources = [sid for sid, s in service.healthz()["sources"].items() if s["enabled"]]
    return [f"/feed.{fmt}"] + [f"/sources/{sid}/feed.{fmt}" for sid in sources]


def served(service: ServiceProcess, path: str, fmt: str) -> bytes:
    status, headers, body = service.get(path)
    assert status == 200, f"GET {path}: {status} {body[:300]!r}{service.log_tail()}"
    assert headers["content-type"].split(";")[0].strip() == MIME[fmt], (path, headers["content-type"])
    return body


def test_service_runs_every_source(service: ServiceProcess) -> None:
    doc = service.healthz()
    assert doc["_http_status"] == 200, doc
    # "degraded" (a selector fell back to the generic rules) still serves articles
    problems = {sid: (s["status"], s["last_error"]) for sid, s in doc["sources"].items()
                if s["enabled"] and (s["status"] not in ("ok", "degraded") or s["articles"] < 1)}
    assert not problems, f"sources not ok after their first run: {problems}{service.log_tail()}"
    assert f"event=service_started url={service.base_url}/" in service.log()


# -- Atom: RFC 4287 RELAX NG schema ---------------------------------------------------------


@pytest.fixture
def atom_files(service: ServiceProcess, tmp_path: Path) -> list[tuple[str, Path]]:
    """(path, saved copy) of the combined Atom feed and of every source's."""
    files = []
    for i, path in enumerate(feed_paths(service, "atom")):
        file = tmp_path / f"feed-{i}.atom"
        file.write_bytes(served(service, path, "atom"))
        files.append((path, file))
    return files


def broken_copy(file: Path, out: Path) -> Path:
    """``file`` with its first entry's <id> and its last entry's <updated> removed."""
    tree = etree.fromstring(file.read_bytes())
    entries = tree.findall(ATOM + "entry")
    entries[0].remove(entries[0].find(ATOM + "id"))
    entries[-1].remove(entries[-1].find(ATOM + "updated"))
    out.write_bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))
    return out


def run_tool(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                          env=child_env(), stdin=subprocess.DEVNULL)


def named(report: str, files: list[tuple[str, Path]]) -> str:
    """A validator's report with each temporary file name replaced by the feed's path."""
    for path, file in files:
        report = report.replace(str(file), path)
    return report


def test_atom_feeds_validate_with_jing(atom_files: list[tuple[str, Path]], tmp_path: Path) -> None:
    jing = need("jing")
    proc = run_tool(jing, "-c", str(SCHEMA), *(str(f) for _, f in atom_files))
    report = named(proc.stdout + proc.stderr, atom_files)
    assert proc.returncode == 0 and not report.strip(), f"jing -c atom.rnc:\n{report}"

    # the validator is live: an entry without <id>, another without <updated>, are both reported
    proc = run_tool(jing, "-c", str(SCHEMA), str(broken_copy(atom_files[0][1], tmp_path / "broken.atom")))
    assert proc.returncode != 0, f"jing accepted a broken feed: {proc.stdout}{proc.stderr}"
    assert '"id"' in proc.stdout and '"updated"' in proc.stdout, proc.stdout


def test_atom_feeds_validate_with_xmllint(atom_files: list[tuple[str, Path]], tmp_path: Path) -> None:
    xmllint = need("xmllint")
    proc = run_tool(xmllint, "--noout", "--nonet", "--relaxng", str(SCHEMA_RNG), *(str(f) for _, f in atom_files))
    report = named(proc.stdout + proc.stderr, atom_files)
    assert proc.returncode == 0, f"xmllint --relaxng atom.rng:\n{report}"
    assert report.count(" validates") == len(atom_files), report

    proc = run_tool(xmllint, "--noout", "--nonet", "--relaxng", str(SCHEMA_RNG),
                    str(broken_copy(atom_files[0][1], tmp_path / "broken.atom")))
    assert proc.returncode != 0 and "fails to validate" in proc.stderr, proc.stderr


def test_atom_rng_is_the_rnc_converted(tmp_path: Path) -> None:
    trang = need("trang")
    out = tmp_path / "atom.rng"
    proc = run_tool(trang, "-I", "rnc", "-O", "rng", str(SCHEMA), str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text("utf-8") == SCHEMA_RNG.read_text("utf-8"), (
        "tests/schemas/atom.rng is stale: trang -I rnc -O rng tests/schemas/atom.rnc tests/schemas/atom.rng")


def test_atom_feeds_follow_rfc4287_prose(atom_files: list[tuple[str, Path]]) -> None:
    for path, file in atom_files:
        check_atom_prose_rules(path, file.read_bytes())


def check_atom_prose_rules(path: str, data: bytes) -> None:
    """What RFC 4287 requires beyond its RELAX NG schema (which a validator cannot check)."""
    root = etree.fromstring(data)
    assert root.tag == ATOM + "feed", path
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "vi", path
    entries = root.findall(ATOM + "entry")
    assert entries, f"{path}: no entries"
    feed_has_author = root.find(ATOM + "author") is not None
    for el in root.iter(ATOM + "updated", ATOM + "published"):
        # atomDateConstruct is xsd:dateTime in the schema, where the zone is optional; RFC 3339 needs it
        assert RFC3339.match(el.text or ""), f"{path}: <{etree.QName(el).localname}> {el.text!r}"
    for el in root.iter(ATOM + "id"):
        # atomUri is plain text in the schema; section 4.2.6 wants an absolute IRI
        assert urlsplit(el.text or "").scheme, f"{path}: <id> {el.text!r} is not an absolute IRI"
    for el in root.iter(ATOM + "link"):
        href = el.get("href", "")
        assert urlsplit(href).scheme in ("http", "https") and urlsplit(href).netloc, f"{path}: link {href!r}"
    ids = [e.findtext(ATOM + "id") for e in entries]
    assert len(set(ids)) == len(ids), f"{path}: duplicate entry ids"
    for entry in entries:
        eid = entry.findtext(ATOM + "id")
        links = entry.findall(ATOM + "link")
        # Schematron rule 1: an alternate link or a content element
        assert any(lk.get("rel", "alternate") == "alternate" for lk in links) or entry.find(
            ATOM + "content") is not None, f"{path}: entry {eid} has neither alternate link nor content"
        # Schematron rule 2: an author in the entry, its source, or the feed
        assert feed_has_author or entry.find(ATOM + "author") is not None, f"{path}: entry {eid} has no author"
        # section 4.1.1: at most one alternate link per type and hreflang
        alternates = [(lk.get("type"), lk.get("hreflang")) for lk in links if lk.get("rel", "alternate") == "alternate"]
        assert len(alternates) == len(set(alternates)), f"{path}: entry {eid} alternates {alternates}"
        content = entry.find(ATOM + "content")
        if content is not None and content.get("type") == "html":
            assert content.text and "<" in content.text, f"{path}: entry {eid} html content is not escaped HTML"


# -- feedparser and JSON Feed ------------------------------------------------------------------


def test_feedparser_reads_atom_and_rss(service: ServiceProcess, max_entries: int) -> None:
    total, per_source = expected_counts(service, max_entries)
    ids_by_path: dict[str, dict[str, list[str]]] = {}
    for fmt in ("atom", "rss"):
        for path in feed_paths(service, fmt):
            parsed = feedparser.parse(served(service, path, fmt))
            assert parsed.bozo == 0, f"{path}: {parsed.get('bozo_exception')!r}"
            assert parsed.version == ("atom10" if fmt == "atom" else "rss20"), (path, parsed.version)
            sid = path.split("/")[2] if path.startswith("/sources/") else None
            want = per_source[sid] if sid else total
            assert len(parsed.entries) == want, f"{path}: {len(parsed.entries)} entries, expected {want}"
            assert parsed.feed.title and parsed.feed.get("language", "vi").startswith("vi"), path
            for e in parsed.entries:
                assert e.get("id") and e.get("title") and e.get("link"), (path, e.get("id"))
                assert e.get("published_parsed") or e.get("updated_parsed"), (path, e.id)
                assert e.get("content") or e.get("summary"), (path, e.id)
                assert unicodedata.is_normalized("NFC", e.title), (path, e.title)
            dates = [e.get("published_parsed") or e.get("updated_parsed") for e in parsed.entries]
            assert dates == sorted(dates, reverse=True), f"{path}: not newest first"
            ids_by_path.setdefault(path.removesuffix("." + fmt), {})[fmt] = [e.id for e in parsed.entries]
    for stem, by_fmt in ids_by_path.items():
        # the same article has the same id in both formats, so a reader switching formats sees no new items
        assert by_fmt["atom"] == by_fmt["rss"], f"{stem}: Atom ids and RSS guids differ"


def test_json_feed_is_json_feed_1_1(service: ServiceProcess, max_entries: int) -> None:
    total, per_source = expected_counts(service, max_entries)
    for path in feed_paths(service, "json"):
        doc = json.loads(served(service, path, "json").decode("utf-8"))
        assert doc["version"] == "https://jsonfeed.org/version/1.1", path
        assert isinstance(doc["title"], str) and doc["title"], path
        assert doc["feed_url"] == service.url(path), (path, doc.get("feed_url"))
        assert urlsplit(doc["home_page_url"]).scheme in ("http", "https"), path
        for author in doc.get("authors", []):
            assert isinstance(author, dict) and author.get("name"), (path, author)
        items = doc["items"]
        sid = path.split("/")[2] if path.startswith("/sources/") else None
        assert len(items) == (per_source[sid] if sid else total), path
        ids = [item["id"] for item in items]
        assert len(set(ids)) == len(ids), f"{path}: duplicate item ids"
        for item in items:
            assert isinstance(item["id"], str) and item["id"], (path, item)
            assert urlsplit(item["url"]).scheme in ("http", "https"), (path, item["url"])
            assert isinstance(item["title"], str) and item["title"], (path, item["id"])
            assert isinstance(item.get("content_html"), str) and item["content_html"].strip(), (path, item["id"])
            assert isinstance(item.get("content_text", ""), str), (path, item["id"])
            for key in ("date_published", "date_modified"):
                if key in item:
                    assert RFC3339.match(item[key]), (path, key, item[key])
                    datetime.fromisoformat(item[key])
            for author in item.get("authors", []):
                assert isinstance(author, dict) and author.get("name"), (path, author)
            assert all(isinstance(t, str) for t in item.get("tags", [])), (path, item["id"])
        published = [item["date_published"] for item in items]
        assert published == sorted(published, reverse=True), f"{path}: not newest first"


# -- Chromium ------------------------------------------------------------------------------


def golden_titles(sites: FixtureSites) -> dict[str, str]:
    """Article URL (as served by the fixture sites) -> title from the golden files."""
    out: dict[str, str] = {}
    for sid in sites.site_ids:
        if (SITES_DIR / sid / "expected").is_dir():
            for art in sites.expected(sid):
                out[art["url"]] = art["title"]
    return out


def test_chromium_renders_titles_and_feed_links(service: ServiceProcess, sites: FixtureSites,
                                                  tmp_path: Path) -> None:
    chromium = need("chromium")
    items = json.loads(served(service, "/feed.json", "json"))["items"]
    assert items
    profile = tmp_path / "chromium-profile"
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--no-proxy-server", "--disable-extensions",
        # nothing but 127.0.0.1 resolves, so the browser cannot reach any other host
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}", "--dump-dom", service.url("/"),
    ]
    env = child_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
                    XDG_CACHE_HOME=str(tmp_path / "xdg-cache"))
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=TOOL_TIMEOUT, env=env, cwd=tmp_path)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"chromium --dump-dom did not finish in {TOOL_TIMEOUT}s: {(exc.stderr or b'')[-2000:]!r}")
    dom = proc.stdout.decode("utf-8")
    assert proc.returncode == 0 and "<html" in dom, (
        f"chromium exit {proc.returncode}; stderr: {proc.stderr.decode('utf-8', 'replace')[-3000:]}")

    page = lxml_html.fromstring(dom)
    anchors = {(a.get("href"), " ".join(a.text_content().split())) for a in page.iter("a")}
    for item in items:
        assert (item["url"], item["title"]) in anchors, f"article link {item['title']!r} not in the DOM"
    # the titles came through with their diacritics: exact match with the golden files
    golden = golden_titles(sites)
    matched = [(item["title"], golden[item["url"]]) for item in items if item["url"] in golden]
    assert matched, "no article of the page has a golden file"
    for got, want in matched:
        assert got == want, f"title {got!r} in /feed.json, {want!r} in the golden file"
    assert any(ch in "".join(t for _, t in anchors) for ch in "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỷỹ")

    assert page.get("lang") == "vi", page.get("lang")
    alternates = {(ln.get("type"), ln.get("href")) for ln in page.iter("link") if ln.get("rel") == "alternate"}
    for fmt in FORMATS:
        assert (MIME[fmt], service.url(f"/feed.{fmt}")) in alternates, (fmt, alternates)
        hrefs = {href for href, _ in anchors}
        for path in feed_paths(service, fmt):  # the combined feed and one per source, as links
            assert service.url(path) in hrefs, f"no link to {path} in the DOM"
    assert page.find(".//title") is not None and page.findtext(".//title").strip()


# -- newsboat ------------------------------------------------------------------------------


class Newsboat:
    """One newsboat profile (urls, config, cache) in its own directory, subscribed to one feed."""

    def __init__(self, program: str, home: Path, url: str) -> None:
        self.program = program
        self.home = home
        self.url = url
        home.mkdir(parents=True)
        (home / "urls").write_text(url + "\n", encoding="utf-8")
        (home / "config").write_text(
            "reload-threads 1\ndownload-timeout 20\ndownload-retries 1\n", encoding="utf-8")
        self.cache = home / "cache.db"
        self.runs = 0

    def print_unread(self) -> int:
        """``newsboat -x reload print-unread``: the number of unread articles it reports."""
        self.runs += 1
        log = self.home / f"newsboat-{self.runs}.log"
        cmd = [self.program, "-u", str(self.home / "urls"), "-c", str(self.cache), "-C",
               str(self.home / "config"), "-d", str(log), "-l", "6", "-x", "reload", "print-unread"]
        env = child_env(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / "xdg-config"),
                        XDG_DATA_HOME=str(self.home / "xdg-data"), TERM="dumb")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT, env=env,
                              stdin=subprocess.DEVNULL, cwd=self.home)
        m = re.search(r"^(\d+) unread articles?$", proc.stdout, re.M)
        assert proc.returncode == 0 and m, (
            f"newsboat on {self.url}: exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            f"\nlog: {log.read_text('utf-8', 'replace')[-3000:] if log.exists() else ''}")
        return int(m.group(1))

    def mark_all_read_and_forget_validators(self) -> None:
        """What reading every article does, plus dropping the stored ETag and Last-Modified."""
        conn = sqlite3.connect(self.cache)
        try:
            with conn:
                conn.execute("UPDATE rss_item SET unread = 0")
                conn.execute("UPDATE rss_feed SET etag = '', lastmodified = 0")
        finally:
            conn.close()

    def items(self) -> dict[str, tuple[str, int]]:
        """guid -> (title, unread) from newsboat's cache."""
        conn = sqlite3.connect(f"file:{self.cache}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT guid, title, unread FROM rss_item WHERE feedurl = ?", (self.url,))
            return {guid: (title, unread) for guid, title, unread in rows}
        finally:
            conn.close()


def new_article_html(sites: FixtureSites) -> str:
    """A copy of a qk3 article page with a new title, lead paragraph and canonical path."""
    manifest = sites.manifest(NEW_SITE)
    seed = next(p for p in manifest["articles"] if p.startswith(NEW_LISTING + "/"))
    page = (SITES_DIR / NEW_SITE / manifest["routes"][seed]).read_text("utf-8")
    node = re.search(r"-(\d+)$", seed).group(1)
    old_title = lxml_html.fromstring(page).findtext(".//h1//span") or ""
    old_title = " ".join(old_title.split())
    assert old_title and old_title in page, "the seed page's title was not found"
    page = page.replace(old_title, NEW_TITLE)
    page = page.replace(seed, NEW_PATH).replace(f"/node/{node}", "/node/9101")  # canonical, og:url, shortlink
    first_p = re.search(r'(field--name-body[^>]*>\s*<p[^>]*>)(.*?)(</p>)', page, re.S)
    assert first_p, "the seed page's first body paragraph was not found"
    page = page[: first_p.start(2)] + NEW_LEAD + page[first_p.end(2):]
    return re.sub(r"(field--name-created[^>]*>)[^<]*", r"\g<1>" + NEW_DATE_LINE, page, count=1)


def test_newsboat_sees_every_article_then_exactly_the_new_one(
        service: ServiceProcess, sites: FixtureSites, max_entries: int, tmp_path: Path) -> None:
    program = need("newsboat")
    total, per_source = expected_counts(service, max_entries)
    feeds = {
        "/feed.atom": total,
        "/feed.rss": total,
        f"/sources/{NEW_SITE}/feed.atom": per_source[NEW_SITE],
    }
    readers = {path: Newsboat(program, tmp_path / re.sub(r"\W+", "-", path).strip("-"), service.url(path))
               for path in feeds}
    for path, reader in readers.items():
        assert reader.print_unread() == feeds[path], f"newsboat on {path}, first reload"
        # newsboat's guids and titles are the feed's ids and titles, diacritics intact
        items = json.loads(service.fetch(path.rsplit(".", 1)[0] + ".json"))["items"]
        assert {guid: title for guid, (title, _) in reader.items().items()} == {
            item["id"]: item["title"] for item in items}, f"newsboat on {path}: guids or titles differ"
        # nothing new yet: the same count (from here on newsboat sends the feed's ETag)
        assert reader.print_unread() == feeds[path], f"newsboat on {path}, reload with nothing new"

    sites.add_article(NEW_SITE, NEW_PATH, new_article_html(sites), NEW_LISTING)
    new_url = sites.url(NEW_SITE, NEW_PATH)

    def published() -> bool:
        service.check_alive()
        entries = feedparser.parse(service.fetch("/feed.atom")).entries
        return any(e.get("link") == new_url for e in entries)

    wait_for(published, 30, f"{new_url} to appear in /feed.atom", interval=0.5, on_fail=service.log_tail)
    entry = next(e for e in feedparser.parse(service.fetch("/feed.atom")).entries if e.link == new_url)
    assert entry.title == NEW_TITLE
    assert NEW_LEAD in (entry.get("content") or [{}])[0].get("value", "")
    _, per_source_after = expected_counts(service, max_entries)
    assert per_source_after[NEW_SITE] == per_source[NEW_SITE] + 1

    for path, reader in readers.items():
        want = feeds[path] + 1
        before = reader.items()
        # a conditional request for a feed that changed: a full answer with one more entry
        assert reader.print_unread() == want, f"newsboat on {path}, after one new article"
        after = reader.items()
        new = set(after) - set(before)
        assert len(new) == 1, f"{path}: new guids {new}"
        assert after[new.pop()] == (NEW_TITLE, 1)
        assert {g: v for g, v in after.items() if g in before} == before, f"{path}: old items changed"

        # nothing new: the same count and the same items
        assert reader.print_unread() == want, f"newsboat on {path}, reload with nothing new"
        assert reader.items() == after, f"{path}: items changed on a reload with nothing new"

        # the user reads everything; a full download (no ETag / Last-Modified to send)
        # must bring no article back as unread: every entry keeps its id
        reader.mark_all_read_and_forget_validators()
        assert reader.print_unread() == 0, f"newsboat on {path}: articles came back as unread"
        assert set(reader.items()) == set(after), f"{path}: guids changed on a full download"


# -- shutdown (last: it stops the shared service) ---------------------------------------------


def test_sigterm_exits_0_without_traceback(service: ServiceProcess) -> None:
    # a run is in progress or about to start every couple of seconds: stop in the middle of work
    service.check_alive()
    try:
        code = service.terminate(timeout=10)
    except ServiceError as exc:
        pytest.fail(str(exc))
    log = service.log()
    assert code == 0, f"exit code {code} after SIGTERM{service.log_tail()}"
    assert "Traceback" not in log, service.log_tail(8000)
    lines = log.splitlines()
    assert any("event=service_stopped" in ln for ln in lines), service.log_tail()
