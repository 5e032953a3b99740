"""``extract --explain``: the extractor's own record of which rule gave each field and what lost.

On our fixture pages (``tests/fixtures/sites``) with the bundled profiles, on small pages
written here, and through the real CLI as a subprocess.
"""

from __future__ import annotations

import contextvars
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from scraper.cli.explain import explaining, report
from scraper.config import Config, Profile, SourceConfig
from scraper.config_load import load_config
from scraper.errors import ExtractError
from scraper.extract.article import extract_article
from scraper.extract.trace import FIELDS, Trace, current, element_path, recording
from scraper.html import parse_html, select_all

QK7_PAGE = ROOT / "tests/fixtures/sites/qk7/hop-tac-quoc-phong-viet-nam-campuchia-dao-tao.html"
QK7_URL = "https://baoquankhu7.vn/hop-tac-quoc-phong-viet-nam-campuchia-dao-tao-1705476000-abc"
PROSE = ("Sáng 12/3, tại Hà Nội, Bộ Quốc phòng tổ chức hội nghị tổng kết công tác huấn luyện năm 2023, "
         "triển khai nhiệm vụ năm 2024, với sự tham dự của đại diện các quân khu, quân đoàn và binh chủng. ")  # fmt: skip


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "config.toml")


@pytest.fixture(scope="module")
def qk7(config: Config) -> SourceConfig:
    return config.source("qk7")


def source(**profile: str) -> SourceConfig:
    return SourceConfig(id="t", name="t", start_urls=("https://example.org/",), profile=Profile(**profile))


def explain(html: str, src: SourceConfig, url: str = "https://example.org/a/1") -> dict:
    with recording() as trace:
        extract_article(html, url, src)
    return trace.as_dict()


def page(head: str = "", top: str = "", end: str = "", aside: str = "") -> str:
    """A small article page: ``top`` between the title and the text, ``end`` after it."""
    links = "".join(f'<li><a href="/r/{i}">Tin liên quan số {i} về hoạt động của các đơn vị</a></li>' for i in range(8))
    return f"""<html><head><title>Hội nghị tổng kết huấn luyện - Báo Thử</title>{head}</head><body>
<div id="page"><div class="main"><h1 class="headline">Hội nghị tổng kết huấn luyện</h1>{top}
<div class="article-body"><p>{PROSE}</p><p>{PROSE}</p><p>{PROSE}</p>{end}</div></div>
<div class="related"><ul>{links}</ul>{aside}</div></div></body></html>"""


def rules(lost: list[dict]) -> list[str]:
    return [c["rule"] for c in lost]


def test_profile_selector_that_hits_is_named(qk7: SourceConfig) -> None:
    ex = explain(QK7_PAGE.read_text("utf-8"), qk7, QK7_URL)
    assert set(ex) == set(FIELDS)
    title = ex["title"]
    assert (title["rule"], title["selector"]) == ("profile selector", "h1.title-detail")
    assert title["value"].startswith("Tăng cường hợp tác quốc phòng")
    assert (ex["body"]["rule"], ex["body"]["selector"]) == ("profile selector", "div.content-tin")
    assert (ex["published"]["rule"], ex["published"]["selector"]) == ("profile selector", "div.date")
    assert "2024-01-17T14:20:00+07:00" in ex["published"]["value"]
    assert (ex["lead"]["rule"], ex["lead"]["selector"]) == ("profile selector", "h2.title-content-tin")


def test_selector_that_misses_loses_to_the_generic_rule(qk7: SourceConfig) -> None:
    drifted = qk7.model_copy(update={"profile": qk7.profile.model_copy(update={"title": "h1.tieu-de", "body": "div.noi-dung"})})
    ex = explain(QK7_PAGE.read_text("utf-8"), drifted, QK7_URL)
    title = ex["title"]
    assert title["rule"] == "<h1> closest to og:title/<title>"
    assert title["selector"] == "h1.title-detail"  # a path a profile can use
    miss = title["lost"][0]
    assert (miss["rule"], miss["selector"], miss["why"]) == ("profile selector", "h1.tieu-de", "matched nothing")
    assert "<meta og:title>" in rules(title["lost"])  # the metadata title with the site name lost too
    body = ex["body"]
    assert body["rule"].startswith("most prose")
    assert {"rule": "profile selector", "selector": "div.noi-dung", "value": None, "why": "matched nothing"} in body["lost"]


def test_date_only_line_loses_to_a_metadata_timestamp_of_the_same_day() -> None:
    html = page(head='<meta property="article:published_time" content="2024-03-12T09:24:00+07:00">',
                top='<div class="post-date">Thứ Ba, 12/03/2024</div>')
    ex = explain(html, source(date="div.post-date"))["published"]
    assert ex["rule"] == "metadata <meta article:published_time>"
    assert ex["value"] == "2024-03-12T09:24:00+07:00"
    assert ex["why"] == "full timestamp beats date-only (same day)"
    line = next(c for c in ex["lost"] if c["rule"] == "profile selector")
    assert line["selector"] == "div.post-date"
    assert line["value"] == "Thứ Ba, 12/03/2024 → 2024-03-12T00:00:00+07:00"
    assert line["why"].startswith("date only (local midnight)")


def test_metadata_timestamp_outranks_the_date_line_nearest_the_title() -> None:
    html = page(head='<script type="application/ld+json">{"@type": "NewsArticle", '
                     '"datePublished": "2024-03-12T09:24:00+07:00"}</script>',
                top='<div class="post-date">12/03/2024 15:00</div>')
    ex = explain(html, source())["published"]
    assert ex["rule"] == "metadata JSON-LD datePublished"
    assert ex["why"] == "metadata outranks the date line"
    line = ex["lost"][0]
    assert (line["rule"], line["selector"]) == ("date line nearest the title", "div.post-date")
    assert line["why"] == "metadata outranks the date line"


def test_json_ld_people_beat_the_byline_at_the_body_end() -> None:
    html = page(head='<script type="application/ld+json">{"@type": "NewsArticle", '
                     '"author": [{"@type": "Person", "name": "Nguyễn Văn An"}]}</script>',
                end="<p><strong>Trần Thị Bình</strong></p>")
    ex = explain(html, source())["authors"]
    assert ex["rule"] == "metadata JSON-LD author"
    assert ex["value"] == "Nguyễn Văn An"
    assert ex["why"] == "JSON-LD names the people one by one"
    assert ex["lost"] == [{"rule": "byline at the body's end", "selector": None, "value": "Trần Thị Bình",
                           "why": "JSON-LD people beat a byline line (its agencies are still kept)"}]


def test_byline_beats_a_meta_author() -> None:
    html = page(head='<meta name="author" content="Lê Văn Cường">', end="<p><strong>Trần Thị Bình</strong></p>")
    ex = explain(html, source())["authors"]
    assert (ex["rule"], ex["value"]) == ("byline at the body's end", "Trần Thị Bình")
    meta = ex["lost"][0]
    assert meta["rule"] == "metadata <meta name=author>"
    assert meta["value"] == "Lê Văn Cường"
    assert "beats <meta>" in meta["why"]


def test_byline_marked_above_the_text() -> None:
    html = page(top='<div class="author">Phạm Minh Đức</div>')
    ex = explain(html, source())["authors"]
    assert (ex["rule"], ex["selector"], ex["value"]) == ("byline marked above the text", "div.author", "Phạm Minh Đức")


def test_body_names_the_chosen_container_and_the_losers() -> None:
    html = page(aside="<p>" + "Quảng cáo, " * 3 + "</p>")
    body = explain(html, source())["body"]
    assert body["rule"] == "most prose minus 1.5 × link text"
    assert body["selector"] == "div.article-body"
    assert body["value"].startswith("Sáng 12/3, tại Hà Nội")
    assert body["lost"], "the losing containers are listed"
    won_score = int(re.match(r"score (-?\d+)", body["why"]).group(1))
    for loser in body["lost"]:
        assert loser["rule"] == "container"
        assert int(re.match(r"score (-?\d+)", loser["why"]).group(1)) <= won_score
    assert any(c["selector"] in ("div.main", "div#page") and "holds the chosen one" in c["why"] for c in body["lost"])


def test_body_shows_the_best_container_elsewhere_on_the_page() -> None:
    box = '<div class="box"><p>Chuyên mục này giới thiệu, tổng hợp các tin bài nổi bật trong tuần của báo.</p></div>'
    body = explain(page().replace("</body>", box + "</body>"), source())["body"]
    assert body["selector"] == "div.article-body"
    assert all(c["selector"] for c in body["lost"])  # the <body> itself is named "body"
    other = next(c for c in body["lost"] if c["why"].endswith("(elsewhere on the page)"))
    assert (other["selector"], other["value"]) == ("div.box", "Chuyên mục này giới thiệu, tổng hợp các tin bài nổi bật trong tuần của báo.")
    assert other["why"].startswith("score 75 = prose 75 ")


def thin_page(main: str, head: str = "") -> str:
    """A page with no lead or image, its text (if any) only in ``main``."""
    return (f"<html><head><title>Hội nghị tổng kết huấn luyện - Báo Thử</title>{head}</head><body>"
            f"<nav><a href='/'>Trang chủ</a> <a href='/qp'>Quốc phòng</a></nav>"
            f"<main><h1>Hội nghị tổng kết huấn luyện</h1>{main}</main><footer><p>Báo Thử</p></footer></body></html>")


def test_body_from_noscript_is_named() -> None:
    paras = "".join(f"<p>{PROSE}</p>" for _ in range(3))
    body = explain(thin_page(f"<div id='app'></div><noscript><div>{paras}</div></noscript>"), source())["body"]
    assert body["rule"] == "text from <noscript>"
    assert body["value"].startswith("Sáng 12/3, tại Hà Nội")
    assert body["why"].startswith("too little text outside <noscript>") and "score " in body["why"]


def test_body_from_the_stated_summary_is_named() -> None:
    summary = ("Bộ Quốc phòng tổng kết công tác huấn luyện năm 2023 và triển khai nhiệm vụ năm 2024 "
               "với đại diện các quân khu, quân đoàn, binh chủng.")
    head = (f"<meta property='og:description' content='{summary}'>"
            "<meta property='article:published_time' content='2024-03-12T08:00:00+07:00'>")
    ex = explain(thin_page("<div id='root'></div>", head), source())
    body = ex["body"]
    assert body["rule"] == ("the page's stated summary (og:description) as the body: "
                            "no article text in the HTML")
    assert body["value"].startswith(summary[:100])  # (shown cut, with its length)
    assert body["why"] == "the title and a publish date are stated; the article is marked as a summary"
    with recording() as trace:  # the report names it the same way
        extract_article(thin_page("<div id='root'></div>", head), "https://example.org/a/1", source())
    assert "body: the page's stated summary (og:description) as the body: no article text in the HTML\n" in report(trace)


def test_body_after_loosened_zones_is_named() -> None:
    # every paragraph in a small box with a weak hint ("tag"): the zones would eat the article
    paras = "".join(f"<p class='tag-style_z4kq style_1tcx'>{PROSE}</p>" for _ in range(3))
    body = explain(thin_page(f"<article>{paras}</article>"), source())["body"]
    assert body["rule"] == "zones loosened: hints would have eaten the article"
    assert body["selector"] == "article" and body["value"].startswith("Sáng 12/3, tại Hà Nội")
    assert body["why"].startswith("the hinted boxes left the page almost none of its prose: only ")
    # a page whose zones leave it its text says nothing of the kind
    assert not explain(page(), source())["body"]["rule"].startswith("zones loosened")


def test_lead_and_image_from_the_generic_rules() -> None:
    lead = "Hội nghị đánh giá kết quả huấn luyện năm qua và đề ra nhiệm vụ trọng tâm cho năm tới của toàn quân."
    html = page(head='<meta property="og:image" content="/img/a.jpg"><meta name="twitter:image" content="/img/b.jpg">',
                top=f'<div class="sapo">{lead}</div>')
    ex = explain(html, source(image="img.cover"))
    assert (ex["lead"]["rule"], ex["lead"]["selector"], ex["lead"]["value"]) == (
        "lead/sapo class between the title and the body", "div.sapo", lead)
    image = ex["image"]
    assert (image["rule"], image["value"]) == ("<meta og:image>", "https://example.org/img/a.jpg")
    assert rules(image["lost"]) == ["profile selector", "<meta twitter:image>"]
    assert image["lost"][0]["why"] == "matched nothing"


def test_element_path_names_only_that_element() -> None:
    root = parse_html(page())
    for el in root.iter("h1", "div", "li"):
        path = element_path(el)
        if "#" not in path and len(path.split(" > ")) < 4:
            assert select_all(root, path) == [el], path


def test_no_trace_without_explain(qk7: SourceConfig) -> None:
    html = QK7_PAGE.read_text("utf-8")
    ctx = contextvars.copy_context()

    def run() -> Trace | None:
        with explaining(False) as trace:
            assert trace is None
            extract_article(html, QK7_URL, qk7)
            return current()

    assert ctx.run(run) is None
    # a trace records only while active: an extraction after the block adds nothing to it
    with recording() as trace:
        pass
    extract_article(html, QK7_URL, qk7)
    assert all(f.rule is None and not f.lost for f in trace.fields.values())
    assert not trace.notes


def test_a_failed_extraction_still_reports_what_was_decided(capsys: pytest.CaptureFixture[str]) -> None:
    html = "<html><head><title>Trang</title></head><body><h1>Một tiêu đề đủ dài</h1><p>ngắn</p></body></html>"
    with pytest.raises(ExtractError), explaining(True) as trace:
        extract_article(html, "https://example.org/a", source(body="div.noi-dung"))
    err = capsys.readouterr().err
    assert err.startswith("explain: extraction stopped")
    assert "body: " in err and "`div.noi-dung`" in err and "matched nothing" in err
    assert report(trace, partial=True) == err


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(ROOT / "config.toml"), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_cli_explain(tmp_path: Path) -> None:
    proc = run_cli("extract", str(QK7_PAGE), "--url", QK7_URL, "--explain")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["source"] == "qk7"
    ex = out["explain"]
    assert set(ex) == set(FIELDS)
    assert ex["title"] == {"rule": "profile selector", "selector": "h1.title-detail", "value": out["title"],
                           "why": None, "lost": []}
    for f in ex.values():
        assert set(f) == {"rule", "selector", "value", "why", "lost"}
        for c in f["lost"]:
            assert set(c) == {"rule", "selector", "value", "why"}
    err = proc.stderr
    assert err.startswith("explain:\n")
    assert "title: profile selector `h1.title-detail`\n" in err
    assert f'    value: "{out["title"]}"\n' in err
    blocks = re.findall(r"^(\w+): ", err, re.M)
    assert blocks == list(FIELDS)  # one block per field, in order

    plain = run_cli("extract", str(QK7_PAGE), "--url", QK7_URL)
    assert plain.returncode == 0
    assert "explain" not in json.loads(plain.stdout)
    assert "explain" not in plain.stderr
    assert {k: v for k, v in out.items() if k != "explain"} == json.loads(plain.stdout)  # outputs unchanged


def test_cli_explain_generic_with_losers() -> None:
    proc = run_cli("extract", str(QK7_PAGE), "--url", "https://example.org/a/1", "--explain")
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)["explain"]["body"]
    assert body["rule"].startswith("most prose") and body["selector"]
    assert body["lost"]
    assert re.search(r"^  lost: container `[^`]+`: ", proc.stderr, re.M)
    assert re.search(r"^        score \d+ = prose \d+ − 1\.5 × link text \d+", proc.stderr, re.M)


FIXTURE_PAGES = sorted((ROOT / "tests/fixtures/sites").glob("*/*.html"))


@pytest.mark.parametrize("path", FIXTURE_PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recording_changes_no_output(path: Path, config: Config) -> None:
    """The hooks only describe: every fixture page extracts the same with and without a trace,
    and every field is explained (a rule, or "none found")."""
    src = config.sources.get(path.parent.name) or source()
    html = path.read_text("utf-8")
    url = f"https://example.org/{path.stem}"

    def run() -> object:
        try:
            return extract_article(html, url, src)
        except ExtractError as exc:
            return str(exc)

    plain = run()
    with recording() as trace:
        traced = run()
    assert traced == plain
    if not isinstance(plain, str):
        assert all(f.rule for f in trace.fields.values())
