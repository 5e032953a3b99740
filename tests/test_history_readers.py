"""Edits and removals as real readers see them (issue 12).

One service (``run.py run``) against a private copy of the qk3 fixture site, with
a revisit step every second; one article is edited twice behind an unchanged
listing and another is deleted.  Then:

* ``/edits.atom`` and ``/removed.atom`` (combined and per source) validate with
  ``jing`` against RFC 4287's RELAX NG schema and parse with feedparser (bozo 0),
  as do their RSS twins;
* newsboat subscribed to ``/edits.atom`` sees exactly one new entry per edit;
* the main feed keeps one entry for the edited story, saying it was edited and
  linking its history;
* ``/healthz`` counts the revisits, edits and removals of the source;
* headless Chromium renders ``/articles/{id}``: the badge, the version list and
  the diff with ``<ins>``/``<del>``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from fixture_sites import FixtureSites
from lxml import html as lxml_html
from service_proc import ServiceProcess, child_env, service_config, start_service, wait_for
from test_readers import SCHEMA, TOOL_TIMEOUT, Newsboat, need, run_tool

SITE = "qk3"
EDITED_PATH = "/chinh-tri-xa-hoi/dang-uy-quan-su-tinh-hung-yen-trien-khai-nhiem-vu-nam-2024-4057"
GONE_PATH = "/chinh-tri-xa-hoi/bo-tham-muu-quan-khu-tong-ket-cong-tac-dang-cong-tac-chinh-tri-nam-2023-4048"
EDITS = [
    ("Dịp này, Đảng ủy Quân sự tỉnh khen thưởng 5 tổ chức", "Dịp này, Đảng ủy Quân sự tỉnh đã khen thưởng 7 tổ chức"),
    ("Năm 2023, Đảng ủy Quân sự tỉnh đã lãnh đạo", "Trong năm 2023, Đảng ủy Quân sự tỉnh đã lãnh đạo"),
]
WAIT = 40  # seconds for a change on the site to reach the feeds (interval 2 s, a step every second)


@pytest.fixture(scope="module")
def sites() -> Iterator[FixtureSites]:
    with FixtureSites([SITE]) as served:
        yield served


@pytest.fixture(scope="module")
def service(sites: FixtureSites, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    work = tmp_path_factory.mktemp("history-service")
    base_text = sites.config_text(f"sqlite:///{work / 'qkfeed.db'}", revisit=[f"{n}s" for n in range(1, 600)],
                                  removal_confirm_after=1)
    svc = start_service(lambda port: service_config(base_text, port=port, interval=2), work)
    try:
        svc.wait_healthy(lambda doc: doc["sources"][SITE]["last_success"], timeout=60, what="qk3 to have run")
        yield svc
    finally:
        svc.close()


def items(service: ServiceProcess, path: str) -> list[dict]:
    return json.loads(service.fetch(path))["items"]


def wait_items(service: ServiceProcess, path: str, count: int) -> list[dict]:
    return wait_for(lambda: (found := items(service, path)) and len(found) >= count and found, WAIT,
                    f"{count} entries in {path}", interval=0.5, on_fail=service.log_tail)


@pytest.fixture(scope="module")
def changed(service: ServiceProcess, sites: FixtureSites, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two edits seen by a newsboat subscribed to /edits.atom, and one removal."""
    program = need("newsboat")
    reader = Newsboat(program, tmp_path_factory.mktemp("newsboat") / "edits", service.url("/edits.atom"))
    assert items(service, "/edits.json") == []
    unread = [reader.print_unread()]
    for n, (old, new) in enumerate(EDITS, start=1):
        assert sites.edit_article(SITE, EDITED_PATH, old, new) >= 1
        wait_items(service, "/edits.json", n)
        unread.append(reader.print_unread())
    sites.remove_route(SITE, GONE_PATH)
    removed = wait_items(service, "/removed.json", 1)
    return {"unread": unread, "edits": items(service, "/edits.json"), "removed": removed, "reader": reader}


def test_newsboat_sees_one_new_edits_entry_per_edit(changed: dict) -> None:
    assert changed["unread"] == [0, 1, 2]
    titles = sorted(title for title, _ in changed["reader"].items().values())
    assert len(titles) == 2 and all(t.startswith("Đã sửa nội dung: ") for t in titles), titles


@pytest.mark.parametrize("kind", ["edits", "removed"])
def test_history_feeds_validate_with_jing_and_parse_with_feedparser(
        service: ServiceProcess, changed: dict, kind: str, tmp_path: Path) -> None:
    jing = need("jing")
    files = []
    for where in ("", f"/sources/{SITE}"):
        path = f"{where}/{kind}.atom"
        body = service.fetch(path)
        file = tmp_path / f"{kind}-{len(files)}.atom"
        file.write_bytes(body)
        files.append(file)
        for fmt in ("atom", "rss"):
            parsed = feedparser.parse(service.fetch(f"{where}/{kind}.{fmt}"))
            assert parsed.bozo == 0, (path, fmt, parsed.get("bozo_exception"))
            assert len(parsed.entries) == (2 if kind == "edits" else 1)
            for entry in parsed.entries:
                assert "/articles/" in entry.link
    proc = run_tool(jing, "-c", str(SCHEMA), *(str(f) for f in files))
    assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), proc.stdout + proc.stderr
    if kind == "edits":
        content = feedparser.parse(service.fetch("/edits.atom")).entries[-1].content[0].value
        assert "<ins>đã</ins>" in content and "<del>5</del>" in content and "<ins>7</ins>" in content


def test_the_main_feed_keeps_one_entry_saying_it_was_edited(service: ServiceProcess, sites: FixtureSites,
                                                          changed: dict) -> None:
    url = sites.url(SITE, EDITED_PATH)
    entries = [e for e in feedparser.parse(service.fetch("/feed.atom")).entries if e.link == url]
    assert len(entries) == 1
    content = entries[0].content[0].value
    article = changed["edits"][0]["url"]
    assert "đã được sửa 2 lần" in content and f'href="{article}"' in content
    assert entries[0].updated_parsed > entries[0].published_parsed or entries[0].updated != entries[0].published


def test_healthz_counts_revisits_edits_and_removals(service: ServiceProcess, changed: dict) -> None:
    qk3 = service.healthz()["sources"][SITE]
    assert qk3["edits"] == 2 and qk3["removed"] == 1 and qk3["revisits"] >= 4, qk3


def dump_dom(url: str, tmp_path: Path) -> lxml_html.HtmlElement:
    chromium = need("chromium")
    tmp_path.mkdir(parents=True, exist_ok=True)
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--no-proxy-server", "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url,
    ]
    env = child_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
                    XDG_CACHE_HOME=str(tmp_path / "xdg-cache"))
    proc = subprocess.run(cmd, capture_output=True, timeout=TOOL_TIMEOUT, env=env, cwd=tmp_path)
    dom = proc.stdout.decode("utf-8")
    assert proc.returncode == 0 and "<html" in dom, proc.stderr.decode("utf-8", "replace")[-3000:]
    return lxml_html.fromstring(dom)


def test_chromium_renders_the_article_view(service: ServiceProcess, changed: dict, tmp_path: Path) -> None:
    page = dump_dom(changed["edits"][0]["url"], tmp_path / "edited")
    article = page.get_element_by_id("article")
    assert article.get("data-edits") == "2" and article.get("data-status") == "live"
    badge = " ".join(page.find_class("edited")[0].text_content().split())
    assert badge == "đã sửa 2 lần"
    rows = page.get_element_by_id("versions").findall(".//tbody/tr")
    assert len(rows) == 3 and rows[-1].findall("td")[2].text_content() == "hiện tại"
    diffs = page.get_element_by_id("diffs")
    inserted = [" ".join(e.text_content().split()) for e in diffs.iter("ins")]
    deleted = [" ".join(e.text_content().split()) for e in diffs.iter("del")]
    assert "đã" in inserted and "7" in inserted and "5" in deleted and "Trong năm" in inserted, (inserted, deleted)
    assert "Trong năm 2023" in article.text_content()  # the current text
    assert page.get("lang") == "vi"

    gone = dump_dom(changed["removed"][0]["url"], tmp_path / "gone")
    assert gone.get_element_by_id("article").get("data-status") == "removed"
    assert re.match(r"đã bị gỡ \d\d/\d\d/\d{4} \d\d:\d\d", " ".join(gone.find_class("removed")[0].text_content().split()))


def test_the_latest_list_marks_edited_and_removed_articles(service: ServiceProcess, changed: dict) -> None:
    page = lxml_html.fromstring(service.fetch("/"))
    marks = {(a.get("class"), " ".join(a.text_content().split()), service.url("/" + a.get("href")))
             for a in page.iter("a") if a.get("class") in ("edited", "removed")}
    assert ("edited", "đã sửa 2 lần", changed["edits"][0]["url"]) in marks
    assert ("removed", "đã bị gỡ", changed["removed"][0]["url"]) in marks
