"""The page in headless Chromium at 1280 px and 390 px: every part present, nothing overlapping.

The store is filled the way the demo fills it: the real pipeline over every bundled
sample site (``tests/fixtures/sites``, where qk7 reposts a qdnd story), plus one source
that cannot be reached (its run fails for real, so the sources table shows why and
when it is tried again).  The real app is served on 127.0.0.1; Chromium loads it over
the DevTools protocol (``tests/cdp.py``), which reads every element's box with a
script (the page's CSP allows no script of its own; DevTools evaluation is not bound
by it) and takes a full-page screenshot of the same render.

What is asserted, at each width and for the front page, a search and page 2:

* present: the title, each filter field, the folded source list (checked unfolded), stories with a
  thumbnail, a syndicated story's "Cũng đăng trên", "Xem tiếp", the sources table
  with a failing source's reason and next attempt; for the search, its count and marks;
* nothing wider than the viewport (no sideways scrolling) and no box outside it;
* no two of these overlap: the form's fields, a label and its control, the stories,
  a story's thumbnail and its text, a story's title / meta / snippet / copies,
  the sources table's rows (and, at 1280 px, a row's cells);
* a label sits right above its control (the search row wraps between fields only);
* the screenshot is a PNG as wide as the viewport and as tall as the page.

Screenshots go to the test's tmp dir, or to ``$QKFEED_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from cdp import Chromium
from conftest import config_for
from fixture_sites import FixtureSites
from server_thread import server_in_thread
from service_proc import child_env

from feeds.app import create_app
from scraper.config import Config
from scraper.config_load import config_from_dict
from scraper.fetch.client import Fetcher
from scraper.pipeline.runner import SourceRunner
from storage import Store, open_store

WIDTHS = {1280: 900, 390: 844}  # CSS width -> viewport height
SLACK = 0.5  # CSS pixels two boxes may share at an edge (subpixel layout)
DEAD = "dead"
SYNDICATED_DAY = "2024-01-17"  # tests/fixtures/sitegen/site_qk7.py: _syndicated()


@dataclass(frozen=True)
class Served:
    url: str
    sources: int  # in its config: a table row and a checkbox each

# Every box the assertions use, by role, read in one pass (CSS pixels, page coordinates).
BOXES_JS = r"""
(() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height,
            text: (el.innerText || el.getAttribute('src') || '').slice(0, 80)}; };
  const all = (sel, root = document) => [...root.querySelectorAll(sel)].map(box);
  const form = document.querySelector('form');
  return {
    viewport: innerWidth, scrollWidth: document.scrollingElement.scrollWidth,
    pageHeight: document.scrollingElement.scrollHeight,
    h1: all('header h1'),
    formParts: [...form.children].map(box),
    fields: [...form.querySelectorAll('.field')].filter(f => f.querySelector('label'))
      .map(f => ({label: box(f.querySelector('label')),
                  control: box(f.querySelector('input, select'))})),
    sourceBoxes: all('.sources label'),
    summary: all('details.sources > summary'),
    details: all('details.sources'),
    button: all('form button'),
    stories: [...document.querySelectorAll('ol.articles > li')].map(li => ({
      box: box(li),
      thumb: li.querySelector('img.thumb') ? box(li.querySelector('img.thumb')) : null,
      text: box(li.querySelector('.text')),
      parts: [...li.querySelectorAll('.text > h3, .text > p')].map(box),
      also: li.querySelector('p.also') ? li.querySelector('p.also').innerText : null,
      marks: [...li.querySelectorAll('mark')].map(m => m.innerText),
    })),
    count: all('p.count'),
    next: all('a[rel=next]'),
    rows: [...document.querySelectorAll('table tbody tr')].map(tr => ({
      box: box(tr), cells: [...tr.children].map(box)})),
    why: all('span.why'),
    nextTry: all('td[data-label="Lần lấy tin tiếp theo"]'),
    everything: [...document.body.querySelectorAll('*')].map(el => {
      const r = el.getBoundingClientRect();
      return {tag: el.tagName, cls: el.className, x: r.left + scrollX, right: r.right + scrollX,
              w: r.width}; }),
  };
})()
"""


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether two boxes share more than SLACK pixels both ways (empty boxes never do)."""
    if min(a["w"], a["h"], b["w"], b["h"]) <= 0:
        return False
    dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return dx > SLACK and dy > SLACK


def assert_apart(boxes: list[dict[str, Any]], what: str) -> None:
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not overlap(a, b), f"{what} overlap: {a} and {b}"


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (inner["x"] >= outer["x"] - SLACK and inner["y"] >= outer["y"] - SLACK
            and inner["x"] + inner["w"] <= outer["x"] + outer["w"] + SLACK
            and inner["y"] + inner["h"] <= outer["y"] + outer["h"] + SLACK)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


# -- the served page ------------------------------------------------------------------------


def fill(config: Config, store: Store) -> None:
    async def ingest() -> None:
        async with Fetcher(config.fetch) as fetcher:
            runner = SourceRunner(config, store, fetcher)
            for source in config.sources.values():
                await runner.run_source(source)

    asyncio.run(ingest())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app over a store the pipeline filled from every sample site."""
    work = tmp_path_factory.mktemp("layout")
    with FixtureSites() as sites:
        base = config_for(sites, f"sqlite:///{work / 'page.db'}", retries=0)
        data = base.model_dump(mode="json")
        data["feed"]["max_entries"] = 12  # so there is a page 2
        data["sources"][DEAD] = {"name": "Nguồn không truy cập được", "region": "Thử nghiệm",
                                 "start_urls": ["http://127.0.0.1:9/tin-tuc"]}
        config = config_from_dict(data, "<layout config>")
        with open_store(config.storage.url) as store:
            fill(config, store)
            app = create_app(config, store)
            with server_in_thread(app) as port:
                yield Served(f"http://127.0.0.1:{port}", len(config.sources))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    program = shutil.which("chromium")
    if program is None:
        pytest.skip("chromium is not installed (CI installs it in .ci/run)")
    home = tmp_path_factory.mktemp("chromium")
    env = child_env(HOME=str(home), XDG_CONFIG_HOME=str(home / "xdg-config"),
                    XDG_CACHE_HOME=str(home / "xdg-cache"))
    with Chromium(program, home / "profile", env=env) as b:
        yield b


def shots_dir(tmp_path: Path) -> Path:
    wanted = os.environ.get("QKFEED_SCREENSHOTS")
    out = Path(wanted) if wanted else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    return out


def look(browser: Chromium, served: Served, url: str, width: int, shot: Path) -> dict[str, Any]:
    """Load ``url`` at ``width``, check the layout's invariants, save the screenshot."""
    tab = browser.open(url, width=width, height=WIDTHS[width])
    closed = tab.evaluate(BOXES_JS)
    assert closed["summary"] and closed["summary"][0]["text"].startswith("Nguồn:")
    folded, line = closed["details"][0], closed["summary"][0]
    assert folded["h"] < 2 * line["h"] + 20, f"the source list starts folded: {folded} {line}"
    tab.evaluate("document.querySelector('details.sources').open = true")  # the longer form
    got = tab.evaluate(BOXES_JS)
    png = tab.screenshot()
    shot.write_bytes(png)
    assert png_size(png) == (width, got["pageHeight"]), shot

    assert got["viewport"] == width
    assert got["scrollWidth"] <= width, f"the page scrolls sideways: {got['scrollWidth']} > {width}"
    wide = [e for e in got["everything"] if e["w"] > 0 and (e["x"] < -SLACK or e["right"] > width + SLACK)]
    assert wide == [], f"boxes outside the viewport: {wide[:5]}"
    assert got["h1"] and got["h1"][0]["h"] > 0

    # the filter form: fields apart, each label right above its own control
    assert_apart(got["formParts"], "form fields")
    assert len(got["fields"]) == 5  # q, region, topic, from, to
    for field in got["fields"]:
        label, control = field["label"], field["control"]
        assert not overlap(label, control), field
        assert label["y"] + label["h"] <= control["y"] + SLACK, f"label not above its control: {field}"
        assert abs(label["x"] - control["x"]) <= 1, f"label and control not aligned: {field}"
    assert len(got["sourceBoxes"]) == served.sources
    assert_apart(got["sourceBoxes"], "source checkboxes")
    assert got["button"] and got["button"][0]["w"] > 0

    # the stories
    stories = got["stories"]
    assert stories
    assert_apart([s["box"] for s in stories], "stories")
    for s in stories:
        if s["thumb"]:
            assert not overlap(s["thumb"], s["text"]), s
            assert inside(s["thumb"], s["box"]), s
        assert inside(s["text"], s["box"]), s
        assert_apart(s["parts"], f"parts of {s['box']['text'][:40]!r}")
        for part in s["parts"]:
            assert inside(part, s["text"]), (part, s["text"])

    # the sources table: rows apart; cells of a row side by side at 1280, stacked at 390
    rows = got["rows"]
    assert len(rows) == served.sources
    assert_apart([r["box"] for r in rows], "table rows")
    for r in rows:
        assert_apart(r["cells"], "cells of a row")
        if width < 500:
            ys = [c["y"] for c in r["cells"] if c["h"] > 0]
            assert ys == sorted(ys), "cards stack their cells"
    assert any("Lỗi gần nhất:" in w["text"] for w in got["why"])
    assert all(n["text"].startswith("khoảng ") for n in got["nextTry"])
    return got


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_front_page_layout(served: Served, browser: Chromium, width: int, tmp_path: Path) -> None:
    got = look(browser, served, served.url + "/", width, shots_dir(tmp_path) / f"page-{width}.png")
    stories = got["stories"]
    assert len(stories) == 12
    assert sum(1 for s in stories if s["thumb"]) >= 6
    assert got["next"] and got["next"][0]["text"] == "Xem tiếp"

    # page 2, through the link itself
    tab = browser.open(served.url + "/", width=width, height=WIDTHS[width])
    href = tab.evaluate("document.querySelector('a[rel=next]').href")
    page2 = look(browser, served, href, width, shots_dir(tmp_path) / f"page2-{width}.png")
    first_titles = {s["box"]["text"] for s in stories}
    assert page2["stories"] and not first_titles & {s["box"]["text"] for s in page2["stories"]}


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_syndicated_story_and_date_range_layout(served: Served, browser: Chromium, width: int,
                                                 tmp_path: Path) -> None:
    """The day qdnd published the story qk7 reposted: one entry, with its copy."""
    url = served.url + "/?" + urlencode({"from": SYNDICATED_DAY, "to": SYNDICATED_DAY})
    got = look(browser, served, url, width, shots_dir(tmp_path) / f"day-{width}.png")
    copies = [s["also"] for s in got["stories"] if s["also"]]
    assert copies and copies[0].startswith("Cũng đăng trên: Báo Quân khu 7"), got["stories"]


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_search_layout(served: Served, browser: Chromium, width: int, tmp_path: Path) -> None:
    url = served.url + "/?" + urlencode({"q": "bien gioi"})
    got = look(browser, served, url, width, shots_dir(tmp_path) / f"search-{width}.png")
    assert got["count"] and got["count"][0]["text"].startswith("Tìm thấy ")
    marks = {m.lower() for s in got["stories"] for m in s["marks"]}
    assert {"biên", "giới"} <= marks
