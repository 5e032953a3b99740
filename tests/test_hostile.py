"""Hostile pages end to end: nothing active gets into any feed or the page.

Article pages carrying XSS vectors (in titles, bodies, bylines, image and link URLs, the
canonical link and the article URL itself), control characters, lone surrogates and
``]]>`` are served from 127.0.0.1, fetched by the real pipeline into a real SQLite store,
and served by the real feed app.  Then every output is parsed and walked:

* Atom and RSS must be well-formed XML (a strict parser, and feedparser with bozo 0);
  the fields that readers render as HTML (Atom ``content type="html"``, RSS
  ``description`` and ``content:encoded``, JSON ``content_html``) are parsed as HTML and
  must hold no active content; text fields must not be marked as HTML.
* The HTML page must hold nothing beyond its own fixed structure (no script, no event
  handler, no style attribute, no foreign URL scheme) and send a strict CSP.

"Active content": script/style/iframe/object/embed/form/base/meta/svg/math and kin,
``on*`` and ``style`` attributes, and URL attributes whose scheme is not http(s)/mailto
(javascript:, vbscript:, data: … however obfuscated).
"""

from __future__ import annotations

import asyncio
import html
import json
import random
import re
import unicodedata
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import feedparser
import httpx
import lxml.html
import pytest
from faultserver import FaultServer
from inert import active_content, bad_url
from lxml import etree

from feeds.app import create_app
from feeds.page import CSS
from scraper.config import Config
from scraper.config_load import config_from_dict
from scraper.fetch.client import Fetcher
from scraper.pipeline.runner import SourceRunner
from scraper.urls import absolute_url
from storage import open_store

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from starlette.testclient import TestClient

# --- the corpus -------------------------------------------------------------------------

DEEP = "<div>" * 400 + "<script>alert('deep')</script>" + "</div>" * 400
NESTED_INLINE = (
    "<b><i><u><span>" * 150 + "<img src=x onerror=alert(1)>" + "</span></u></i></b>" * 150
)

# Markup vectors: each goes raw into a body, raw or as text into a title and a byline.
VECTORS: list[str] = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=javascript:alert('XSS')>",
    "<img src=`javascript:alert(1)`>",
    '<img """><script>alert(1)</script>">',
    '<img srcset="javascript:alert(1) 1x" src="https://ok.example/a.jpg">',
    '<img src="x:x" onerror="alert(1)">',
    "<body onload=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">X</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><style>&lt;img src=x onerror=alert(1)&gt;</style></svg>",
    '<svg><use href="data:image/svg+xml;base64,PHN2ZyBpZD0neCc+PC9zdmc+#x"/></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<math href="javascript:alert(1)">CLICK</math>',
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    "<math><style><img src=x onerror=alert(1)></style></math>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<object type="text/x-scriptlet" data="https://evil.example/x.sct"></object>',
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<applet code="x.class"></applet>',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    "<form><input type=submit formaction=javascript:alert(1)></form>",
    '<form id=f></form><button form=f formaction="javascript:alert(1)">x</button>',
    "<isindex action=javascript:alert(1) type=submit>",
    "<input autofocus onfocus=alert(1)>",
    "<keygen autofocus onfocus=alert(1)>",
    "<textarea><script>alert(1)</script></textarea>",
    '<base href="javascript:alert(1)//">',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    "<style>@import 'javascript:alert(1)';</style>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="background:url(javascript:alert(1))">nền</div>',
    '<div style="width:expression(alert(1))">biểu thức CSS</div>',
    '<p style="behavior:url(xss.htc)">hành vi</p>',
    '<a href="javascript:alert(1)">liên kết</a>',
    '<a href="JaVaScRiPt:alert(1)">liên kết</a>',
    '<a href="jav&#x09;ascript:alert(1)">liên kết</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">ký tự</a>',
    '<a href="&#x6A;avascript&colon;alert(1)">hex</a>',
    '<a href=" &#14; javascript:alert(1)">khoảng trắng</a>',
    '<a href="java&#0000010script:alert(1)">xuống dòng</a>',
    '<a href="vbscript:msgbox(1)">vb</a>',
    '<a href="data:text/html,<script>alert(1)</script>">dữ liệu</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">b64</a>',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    '<a href="https://ok.example/" onclick="alert(1)" style="color:red" target="_blank">tốt</a>',
    '<div onmouseover="alert(1)">chuột</div>',
    "<p onclick=alert(1)>bấm</p>",
    "<details open ontoggle=alert(1)><summary>x</summary></details>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>chạy</marquee>",
    "<frameset onload=alert(1)>",
    '<table background="javascript:alert(1)"><tr><td>ô</td></tr></table>',
    "<template><script>alert(1)</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<!--<img src="--><img src=x onerror=alert(1)//">',
    "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
    "<xmp><script>alert(1)</script></xmp>",
    "<![CDATA[<script>alert(1)</script>]]>",
    "]]><script>alert(1)</script>",
    '<a href="#" xlink:href="javascript:alert(1)">xlink</a>',
    DEEP,
    NESTED_INLINE,
    "<plaintext><script>alert(1)</script>",
]

# Vectors that are inert as they stand in today's browsers: aimed at filters that delete
# "<script>" once, and at old Internet Explorer's backtick-quoted attributes.
INERT_AS_GIVEN = {"<scr<script>ipt>alert(1)</scr</script>ipt>", "<img src=`javascript:alert(1)`>"}

# URLs put into href/src, og:image and the canonical link.
URL_VECTORS: list[str] = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " \tjavascript:alert(1)",
    "java\tscript:alert(1)",
    "&#106;avascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
    'https://ok.example/a.jpg" onerror="alert(1)',
    "//evil.example/x.jpg?a=<script>",
    "https://ok.example/a b.jpg'><script>alert(1)</script>",
]

# Article paths that are themselves hostile (the listing links to them).
HOSTILE_PATHS = [
    "/tin/<script>alert(1)</script>-901",
    "/tin/bai-'onclick='alert(1)'-902",
    '/tin/bai-"><img src=x onerror=alert(1)>-903',
    "/tin/javascript:alert(1)-904",
]

# Characters XML 1.0 forbids, as raw bytes and as character references.
CONTROL_BYTES = b"\x00\x01\x08\x0b\x0c\x1b\x7f" + "\ud800".encode("utf-8", "surrogatepass")
CONTROL_REFS = "&#0;&#1;&#x8;&#xB;&#x1B;&#xD800;&#xDFFF;&#xFFFE;&#xFFFF;"

LEAD = "Bộ Chỉ huy Quân sự tỉnh tổ chức hội nghị tổng kết công tác quân sự, quốc phòng năm 2023"
PARA = (
    "Năm qua, lực lượng vũ trang tỉnh đã hoàn thành tốt các chỉ tiêu huấn luyện, diễn tập, "
    "tuyển quân; giữ vững an ninh chính trị, trật tự an toàn xã hội trên địa bàn."
)


WORDS = (
    "biên giới hải đảo huấn luyện diễn tập tuyển quân dân quân tự vệ chiến sĩ sĩ quan "
    "đơn vị tỉnh huyện xã đồn trạm tàu cảnh sát biển phòng không không quân hậu cần kỹ thuật "
    "chính trị tư tưởng thi đua khen thưởng sẵn sàng chiến đấu cứu hộ cứu nạn lũ lụt nhân dân"
).split()


def own_words(i: int) -> str:
    """A paragraph only article ``i`` has, so no two are taken for copies of one story."""
    rng = random.Random(i)
    return " ".join(rng.choice(WORDS) for _ in range(150)) + "."


def article_page(i: int, vector: str, url_vector: str) -> bytes:
    """One article with ``vector`` everywhere it can go."""
    as_text = html.escape(vector)
    title = vector if i % 2 == 0 else as_text  # raw markup, or markup shown as text
    page = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>Bài {i} ]]> {as_text}</title>"
        f'<meta property="og:image" content="{url_vector}">'
        f'<link rel="canonical" href="{url_vector}">'
        "</head><body>"
        f'<h1 class="title">Bài kiểm tra {i}: {title} ]]&gt; {CONTROL_REFS}</h1>'
        '<p class="date">05/01/2024 10:37</p>'
        '<div class="body">'
        f"<p>{LEAD} (bài {i}) {as_text} ]]&gt; {CONTROL_REFS} @@CONTROL@@</p>"
        f"{vector}"
        f"<p>{PARA} ]]></p><p>{own_words(i)}</p>"
        f'<p><a href="{url_vector}">liên kết</a> <img src="{url_vector}" alt="{as_text}"></p>'
        "</div>"
        f'<p class="author">Nguyễn Văn An {title if i % 3 else as_text}</p>'
        "</body></html>"
    )
    return page.encode("utf-8").replace(b"@@CONTROL@@", CONTROL_BYTES)


def test_the_corpus_is_big_enough() -> None:
    assert len(VECTORS) >= 50
    assert len(set(VECTORS)) == len(VECTORS)
    assert len(VECTORS) + len(URL_VECTORS) + len(HOSTILE_PATHS) >= 80


@pytest.mark.parametrize("vector", VECTORS)
def test_the_detector_sees_every_raw_vector(vector: str) -> None:
    """Self-check: unsanitized, every vector is caught (so a clean scan means something)."""
    if vector in INERT_AS_GIVEN:
        return
    assert active_content(vector), vector


@pytest.mark.parametrize("url", URL_VECTORS[:8])
def test_the_detector_sees_every_url_vector(url: str) -> None:
    assert active_content(f'<a href="{html.escape(url)}">x</a>'), url


# --- end to end ----------------------------------------------------------------------------


@dataclass
class Served:
    """The outputs of the feed app over the hostile store."""

    config: Config
    stored: int
    pages: int
    docs: dict[str, httpx.Response]


PROFILE = {
    "title": "h1.title",
    "date": "p.date",
    "author": "p.author",
    "body": "div.body",
    "links": "ul.news a",
}


def _listing(paths: list[str]) -> str:
    items = "".join(f'<li><a href="{html.escape(p)}">Bài</a></li>' for p in paths)
    return f"<html><body><ul class='news'>{items}</ul></body></html>"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("hostile")
    db = tmp / "q.db"
    with FaultServer(robots="User-agent: *\nAllow: /\n") as server:
        pages: dict[str, bytes] = {}
        for i, vector in enumerate(VECTORS):
            pages[f"/tin/bai-doc-hai-{i:03d}"] = article_page(
                i, vector, URL_VECTORS[i % len(URL_VECTORS)]
            )
        for j, path in enumerate(HOSTILE_PATHS):
            pages[path] = article_page(900 + j, VECTORS[j], URL_VECTORS[j])
        for prefix, listing in (("/tin/", "/tin"), ("/tin/g/", "/tin?g=1")):
            paths = [prefix + p.removeprefix("/tin/") for p in pages]
            for path, body in zip(paths, pages.values(), strict=True):
                # served where the fetcher asks for it: the href made absolute and safe
                url = absolute_url(server.url(listing), path)
                assert url is not None
                server.add_page(httpx.URL(url).raw_path.decode("ascii"), body)
            server.add_page(listing, _listing(paths))
        config = config_from_dict(
            {
                "storage": {"url": f"sqlite:///{db}"},
                "fetch": {
                    "allow_private_networks": True,
                    "per_host_delay": 0.0,
                    "per_host_concurrency": 4,
                    "retries": 0,
                    "max_articles_per_run": 500,
                },
                "feed": {"max_entries": 500},
                "sources": {
                    "hostile": {
                        "name": 'Nguồn <script>alert("tên")</script>',
                        "region": "<img src=x onerror=alert(1)>",
                        "start_urls": [server.url("/tin")],
                        "profile": PROFILE,
                    },
                    # the same pages through the generic extractor (no profile)
                    "generic": {"name": "Nguồn chung", "start_urls": [server.url("/tin?g=1")]},
                },
            },
            "<hostile config>",
        )

        async def ingest() -> None:
            with open_store(config.storage.url) as store:
                async with Fetcher(config.fetch) as fetcher:
                    runner = SourceRunner(config, store, fetcher)
                    for sid in config.sources:
                        await runner.run_source(config.sources[sid])

        asyncio.run(ingest())

    with open_store(config.storage.url) as store:
        stored = store.count_articles()
        app = create_app(config, store, base_url="http://feeds.test")
        with TestClient(app, base_url="http://feeds.test") as client:
            docs = {
                path: client.get(path, params={"limit": 500})
                for path in (
                    "/feed.atom",
                    "/feed.rss",
                    "/feed.json",
                    "/sources/hostile/feed.atom",
                    "/sources/generic/feed.rss",
                    "/",
                )
            }
            docs["/opml"] = client.get("/opml")
            docs["/?q"] = client.get("/", params={"q": '"><script>alert(1)</script>'})
    yield Served(config, stored, 2 * len(pages), docs)


def test_every_hostile_page_became_an_article(served: Served) -> None:
    # nothing is lost to the vectors: each page of each source is stored once, cleaned
    assert served.stored == served.pages


XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"


def _entries_text(root: etree._Element) -> str:
    return " ".join(root.itertext())


@pytest.mark.parametrize("path", ["/feed.atom", "/sources/hostile/feed.atom"])
def test_atom_is_well_formed_and_inert(served: Served, path: str) -> None:
    r = served.docs[path]
    assert r.status_code == 200
    root = etree.fromstring(r.content, XML_PARSER)
    assert feedparser.parse(r.content).bozo == 0
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) >= len(VECTORS)
    for el in root.iter():
        assert isinstance(el.tag, str) and el.tag.startswith(ATOM), el.tag
        local = el.tag[len(ATOM) :]
        if local == "content":
            assert el.get("type") == "html"
            assert active_content(el.text or "") == [], el.text
        elif local in ("title", "summary", "subtitle", "rights"):
            assert el.get("type") in (None, "text"), (local, el.get("type"))
            assert len(el) == 0
        for attr in ("href", "src", "uri"):
            if el.get(attr) is not None:
                assert not bad_url(el.get(attr)), (local, el.get(attr))
    text = _entries_text(root)
    assert "\ufffe" not in text and "\x00" not in text


@pytest.mark.parametrize("path", ["/feed.rss", "/sources/generic/feed.rss"])
def test_rss_is_well_formed_and_inert(served: Served, path: str) -> None:
    r = served.docs[path]
    assert r.status_code == 200
    root = etree.fromstring(r.content, XML_PARSER)
    assert feedparser.parse(r.content).bozo == 0
    items = root.findall("channel/item")
    assert len(items) >= len(VECTORS)
    for item in items:
        for el in item.iter():
            if el.tag in ("description", CONTENT):  # readers render these as HTML
                assert active_content(el.text or "") == [], (el.tag, el.text)
            assert len(el.attrib) == 0 or el.tag in ("guid", "category", "enclosure")
        for enclosure in item.findall("enclosure"):
            assert not bad_url(enclosure.get("url", "")), enclosure.get("url")
        for link in item.findall("link"):
            assert (link.text or "").startswith("http"), link.text
    # a body's "<script>" shown as text stays text in the HTML description
    descriptions = [d.text or "" for d in root.iter("description")]
    assert any("&lt;script&gt;" in d for d in descriptions)


def test_json_feed_is_inert(served: Served) -> None:
    r = served.docs["/feed.json"]
    assert r.status_code == 200
    doc = json.loads(r.content)
    assert len(doc["items"]) >= len(VECTORS)
    for item in doc["items"]:
        assert active_content(item.get("content_html", "")) == [], item.get("content_html")
        for key in ("url", "external_url", "image", "banner_image"):
            if key in item:
                assert item[key].startswith(("http://", "https://")), (key, item[key])
        for value in item.values():
            if isinstance(value, str):
                assert unicodedata.is_normalized("NFC", value)
                assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", value)


def test_text_fields_keep_the_markup_as_text(served: Served) -> None:
    """Escaping, not deletion: a title that showed '<script>' as text still says so."""
    doc = json.loads(served.docs["/feed.json"].content)
    titles = {item["title"] for item in doc["items"]}
    assert any("<script>alert(1)</script>" in t for t in titles)
    atom = feedparser.parse(served.docs["/feed.atom"].content)
    assert any("<script>alert(1)</script>" in e.title for e in atom.entries)


# --- the HTML page ----------------------------------------------------------------------------

PAGE_META = ({"charset"}, {"name", "content"})


@pytest.mark.parametrize("path", ["/", "/?q"])
def test_page_has_only_its_own_structure(served: Served, path: str) -> None:
    r = served.docs[path]
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", directives["style-src"])
    assert "script-src" not in directives and "unsafe" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"

    doc = lxml.html.document_fromstring(r.content)
    # the page's own pieces, exactly: one stylesheet, meta tags, one search form
    assert [s.text for s in doc.iter("style")] == [CSS]
    for meta in doc.iter("meta"):
        assert set(meta.attrib) in PAGE_META and meta.get("http-equiv") is None
    assert len(list(doc.iter("form"))) == 1
    form = next(doc.iter("form"))
    assert form.get("action") is None and form.get("method") == "get"
    for el in doc.iter("input", "select", "option", "button", "label"):
        assert form in el.iterancestors(), el.tag
    for link in doc.iter("link"):
        assert link.get("rel") == "alternate"
    allowed = frozenset(
        {
            "html",
            "head",
            "title",
            "meta",
            "style",
            "link",
            "body",
            "form",
            "input",
            "select",
            "option",
            "button",
            "details",  # the page's folded source list; ol.articles is checked with none allowed
        }
    )
    assert active_content(lxml.html.tostring(doc, encoding="unicode"), allowed) == []
    # every article is listed, its title shown as text
    articles = doc.cssselect("ol.articles li") if path == "/" else []
    if path == "/":
        assert len(articles) >= len(VECTORS)
        assert any("<script>alert(1)</script>" in li.text_content() for li in articles)
        assert (
            active_content(lxml.html.tostring(doc.cssselect("ol.articles")[0], encoding="unicode"))
            == []
        )
    else:
        assert doc.cssselect("input#q")[0].get("value") == '"><script>alert(1)</script>'


def test_opml_is_well_formed(served: Served) -> None:
    r = served.docs["/opml"]
    root = etree.fromstring(r.content, XML_PARSER)
    names = [o.get("text") for o in root.iter("outline")]
    assert 'Nguồn <script>alert("tên")</script>' in " ".join(n or "" for n in names)
    for outline in root.iter("outline"):
        for attr in ("xmlUrl", "htmlUrl"):
            if outline.get(attr):
                assert not bad_url(outline.get(attr))
