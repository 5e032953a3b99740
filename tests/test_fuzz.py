"""Fuzzing: the URL canonicalizer, the listing and article extractors and normalization never
crash on what a page can throw at them, and their invariants hold.

Property tests (hypothesis) for URLs and extraction, then a bounded, seeded fuzz of the whole
decode -> extract -> normalize path (and the date and byline parsers on pieces of the text)
over random mutations of every fixture page.  ``QKFEED_FUZZ_ROUNDS`` (default 12) sets the
mutations per page; the seed is printed (``QKFEED_FUZZ_SEED`` repeats a run).
The date and byline parsers have their own property tests in test_dates.py/test_bylines.py.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import unicodedata
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from faultserver import to_cp1258
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from inert import active_content

from scraper.config_load import load_config
from scraper.errors import ExtractError
from scraper.extract.article import extract_article
from scraper.extract.listing import extract_links, next_page_url
from scraper.fetch.charset import decode_html
from scraper.models import Article
from scraper.normalize.article import normalize
from scraper.normalize.bylines import parse_byline
from scraper.normalize.dates import parse_datetime
from scraper.urls import (
    TRACKING_PARAMS,
    absolute_url,
    canonical_url,
    on_hosts,
    same_site,
    scheme_twin,
    url_identity,
)

ROOT = Path(__file__).resolve().parent.parent
SITES = ROOT / "tests" / "fixtures" / "sites"
CONFIG = load_config(ROOT / "config.toml")
ROUNDS = int(os.environ.get("QKFEED_FUZZ_ROUNDS", "12"))
SEED = int(os.environ.get("QKFEED_FUZZ_SEED", str(int(time.time()))))
FUZZ_BUDGET = float(os.environ.get("QKFEED_FUZZ_SECONDS", "40"))  # stop early past this
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
BASE = "https://quankhu3.vn/chinh-tri-xa-hoi/bai-viet-4048"

# --- URLs ------------------------------------------------------------------------------------

_HOSTS = st.sampled_from(
    ["quankhu3.vn", "www.qdnd.vn", "QDND.VN", "www.Bienphong.com.vn", "127.0.0.1", "[::1]",
     "xn--bin-phng-yya0s.vn", "biênphòng.vn", "a-b.c.d.example"]
)  # fmt: skip
_PORTS = st.sampled_from(["", ":80", ":443", ":8080"])
_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="#?/\\")
_SEGMENT = st.text(_CHARS, max_size=12).filter(lambda seg: seg == seg.strip())  # hrefs get stripped
_PATH = st.lists(_SEGMENT, max_size=4).map(lambda segs: "/" + "/".join(segs))
_PARAMS = st.lists(
    st.tuples(
        st.sampled_from(["id", "page", "q", "utm_source", "utm_medium", "fbclid", "gclid",
                         "zarsrc", "a b", "ý", "Page", "_ga"]),
        st.text(_CHARS.filter(lambda c: c not in "&="), max_size=6).filter(lambda v: v == v.strip()),
    ),
    max_size=4,
    unique_by=lambda kv: kv[0],
)  # fmt: skip
_FRAGMENT = st.text(_CHARS, max_size=8)


@st.composite
def web_urls(draw: st.DrawFn) -> tuple[str, str, str, list[tuple[str, str]], str]:
    """(url, host, path, params, fragment) of an http(s) URL with awkward parts."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(_HOSTS)
    path = draw(_PATH)
    params = draw(_PARAMS)
    fragment = draw(_FRAGMENT)
    query = "&".join(f"{k}={v}" for k, v in params)
    url = f"{scheme}://{host}{draw(_PORTS)}{path}" + (f"?{query}" if query else "")
    return url + (f"#{fragment}" if fragment else ""), host, path, params, fragment


@settings(max_examples=300, deadline=None)
@given(href=st.one_of(st.text(max_size=60), web_urls().map(lambda t: t[0])))
def test_absolute_url_never_raises_and_gives_a_fetchable_url(href: str) -> None:
    got = absolute_url(BASE, href)
    if got is None:
        return
    parts = urlsplit(got)
    assert parts.scheme in ("http", "https") and parts.hostname
    assert parts.port is None or 0 <= parts.port <= 65535
    assert got.isascii() and not re.search(r"\s", got)
    assert absolute_url(BASE, got) is not None  # and stays usable


@settings(max_examples=300, deadline=None)
@given(parts=web_urls())
def test_canonical_url_is_an_idempotent_key_keeping_the_scheme(parts: tuple) -> None:
    url, host, _, params, _ = parts
    fetched = absolute_url(BASE, url)
    assume(fetched is not None)
    key = canonical_url(fetched)
    assert canonical_url(key) == key
    split = urlsplit(key)
    assert split.scheme == urlsplit(fetched).scheme.lower() and not split.fragment and "#" not in key
    assert split.hostname == split.hostname.lower() and not split.hostname.startswith("www.")
    assert split.port not in (80, 443)
    assert key.isascii()
    assert not any(
        TRACKING_PARAMS.match(k) for k, _ in parse_qsl(split.query, keep_blank_values=True)
    )
    assert same_site(key, key) and on_hosts(key, frozenset({split.hostname}))


@settings(max_examples=200, deadline=None)
@given(parts=web_urls(), data=st.data())
def test_variants_of_one_article_share_its_key(parts: tuple, data: st.DataObject) -> None:
    url, host, path, params, _ = parts
    assume(not host.startswith("www.") and not host.startswith("["))
    plain = [(k, v) for k, v in params if not TRACKING_PARAMS.match(k)]
    query = "&".join(f"{k}={v}" for k, v in plain)
    base = f"https://{host}{path}" + (f"?{query}" if query else "")
    shuffled = data.draw(st.permutations(plain))
    tracking = "&".join(f"{k}={v}" for k, v in [*shuffled, ("utm_campaign", "x"), ("fbclid", "1")])
    variant = f"http://www.{host}:80{path}?{tracking}#bình-luận"
    a, b = absolute_url(BASE, base), absolute_url(BASE, variant)
    assume(a is not None and b is not None)
    assert url_identity(a) == url_identity(b), (a, b)
    assert canonical_url(b) == scheme_twin(canonical_url(a)), (a, b)  # the same key, but http


# --- extraction ------------------------------------------------------------------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",)), max_size=40
) | st.sampled_from(
    ["Bộ Chỉ huy Quân sự tỉnh", "Thứ sáu, 05/01/2024 - 17:37", "Nguyễn Văn An (TTXVN)",
     unicodedata.normalize("NFD", "Biên phòng tuần tra biên giới"), "]]>", "&lt;script&gt;",
     "\x00\x01\x1b", "&#xD800;", "Ảnh: Quân khu 3", "./.", "404 Not Found"]
)  # fmt: skip
_TAGS = st.sampled_from(
    ["p", "div", "span", "h1", "h2", "a", "img", "table", "td", "article", "section", "script",
     "style", "b", "br", "figure", "figcaption", "header", "footer", "nav", "time", "meta"]
)  # fmt: skip
_ATTRS = st.sampled_from(
    ['', ' class="title"', ' class="article-body"', ' class="date"', ' href="/bai-viet-1234"',
     ' src="//cdn.example/a b.jpg"', ' href="javascript:alert(1)"', ' onclick="alert(1)"',
     ' href="http://[::1/x"', ' src="https://a.vn:99999/x.jpg"', ' style="color:red"',
     ' property="og:image" content="javascript:alert(1)"', ' itemprop="datePublished"']
)  # fmt: skip


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tag, attrs, kids: f"<{tag}{attrs}>{''.join(kids)}</{tag}>",
        _TAGS,
        _ATTRS,
        st.lists(children, max_size=4),
    )


_HTML = st.recursive(_TEXT, _element, max_leaves=40).map(lambda b: f"<html><body>{b}</body></html>")


def check_article(article: Article, url: str) -> None:
    """The invariants of a normalized article."""
    for text in (
        article.title,
        article.body_text,
        article.summary,
        *article.authors,
        *article.agencies,
    ):
        assert unicodedata.is_normalized("NFC", text), text
        assert not XML_ILLEGAL.search(text), text
    assert article.title.strip() == article.title and article.title
    for dt in (article.published, article.modified):
        assert dt is None or (dt.tzinfo is not None and dt.utcoffset() == timedelta(0))
    assert active_content(article.body_html) == [], article.body_html[:300]
    assert canonical_url(article.url) == article.url
    assert urlsplit(article.url).scheme == urlsplit(url).scheme.lower()
    assert article.original_url == url
    assert article.image_url is None or article.image_url.startswith(("http://", "https://"))


def extract_or_refuse(html: str, url: str, source_id: str = "qk3") -> Article | None:
    """extract + normalize; None when the page is refused with ExtractError (never another error)."""
    source = CONFIG.sources[source_id]
    try:
        raw = extract_article(html, url, source)
    except ExtractError:
        return None
    article = normalize(raw, source)
    check_article(article, url)
    return article


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    html=st.one_of(_HTML, st.text(max_size=300)), source_id=st.sampled_from(["qk3", "qdnd", "qk7"])
)
def test_extract_and_normalize_never_crash(html: str, source_id: str) -> None:
    extract_or_refuse(html, BASE, source_id)
    links = extract_links(html, BASE, CONFIG.sources[source_id])
    assert all(u.startswith(("http://", "https://")) and same_site(u, BASE) for u in links)
    next_page_url(html, BASE, CONFIG.sources[source_id], 0)


# --- the fuzz run over mutated fixture pages --------------------------------------------------

NASTY = [
    b"</div>", b"<div>", b"<h1>", b"</h1>", b"</html>", b"<!--", b"-->", b"<![CDATA[", b"]]>",
    b"<script>", b"</script>", b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"&#xD800;", b"&#0;",
    b"<p>" * 300, b"<div>" * 200, b'<a href="http://[::1/x">', b'<img src="https://a.vn:99999/x.jpg">',
    b'<meta charset="utf-16">', b'<base href="javascript:alert(1)//">', b"<body onload=alert(1)>",
    b"<table><td><table><td>", "Thứ sáu, 31/02/2024 - 25:61".encode(), "Ảnh: ".encode(),
    unicodedata.normalize("NFD", "Nguyễn Văn Ánh").encode(), b"x" * 5000, b"&nbsp;" * 50,
]  # fmt: skip


def _pages() -> list[tuple[str, str, str, bytes]]:
    """(site id, kind, url, bytes) of every fixture article and listing page."""
    out = []
    for manifest_path in sorted(SITES.glob("*/site.json")):
        manifest = json.loads(manifest_path.read_text("utf-8"))
        sid = manifest["id"]
        if sid not in CONFIG.sources:
            continue
        origin = manifest.get("origin", "https://example.vn").rstrip("/")
        for kind, paths in (
            ("article", manifest["articles"]),
            ("listing", manifest.get("listing_pages", [])),
        ):
            for path in paths:
                name = manifest["routes"].get(path)
                if name:
                    data = (
                        (manifest_path.parent / name)
                        .read_bytes()
                        .replace(b"{{BASE}}", origin.encode())
                    )
                    out.append((sid, kind, origin + path, data))
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random edits: flips, cuts, deletions, duplications, nasty insertions."""
    for _ in range(rng.randint(1, 4)):
        n = len(data)
        i, j = sorted((rng.randrange(n + 1), rng.randrange(n + 1)))
        op = rng.randrange(8)
        if op == 0:
            data = (
                data[:i]
                + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
                + data[i + 8 :]
            )
        elif op == 1:
            data = data[:i]  # truncated
        elif op == 2:
            data = data[:i] + data[j:]  # a piece missing
        elif op == 3:
            data = data[:j] + data[i:j] + data[j:]  # a piece twice
        elif op == 4:
            data = data[:i] + rng.choice(NASTY) + data[i:]
        elif op == 5:
            data = data[:i] + data[j:] + data[i:j]  # pieces swapped
        elif op == 6:
            data = unicodedata.normalize("NFD", data.decode("utf-8", "replace")).encode()
        else:
            text = data.decode("utf-8", "replace")
            try:
                data = to_cp1258(text) if rng.random() < 0.5 else text.encode("utf-16")
            except UnicodeEncodeError:  # a character windows-1258 lacks
                data = text.encode("cp1258", "replace")
    return data


def test_fuzz_mutated_fixture_pages() -> None:
    rng = random.Random(SEED)
    print(f"fuzz seed {SEED} (QKFEED_FUZZ_SEED to repeat), {ROUNDS} mutations per page")
    pages = _pages()
    assert len(pages) >= 20
    deadline = time.monotonic() + FUZZ_BUDGET
    done = extracted = 0
    for round_no in range(ROUNDS):
        for sid, kind, url, original in pages:
            if time.monotonic() > deadline:
                break
            data = mutate(original, rng)
            context = f"seed={SEED} round={round_no} {url}"
            text, _ = decode_html(
                data, rng.choice([None, "text/html", "text/html; charset=windows-1258"])
            )
            source = CONFIG.sources[sid]
            try:
                if kind == "listing":
                    links = extract_links(text, url, source)
                    assert all(same_site(u, url) for u in links)
                    next_page_url(text, url, source, 0)
                elif extract_or_refuse(text, url, sid) is not None:
                    extracted += 1
                for _ in range(3):  # the parsers on random pieces of the text
                    i = rng.randrange(len(text) + 1)
                    piece = text[i : i + rng.randint(0, 120)]
                    when = parse_datetime(piece, tz=source.tz)
                    assert when is None or when.utcoffset() == timedelta(0)
                    byline = parse_byline(piece)
                    for name in (*byline.authors, *byline.agencies):
                        assert name and unicodedata.is_normalized("NFC", name)
            except Exception as exc:
                raise AssertionError(f"{type(exc).__name__} on a mutated page ({context})") from exc
            done += 1
    print(f"fuzz: {done} mutated pages, {extracted} still extracted")
    assert done >= min(len(pages) * ROUNDS, 100)


@pytest.mark.parametrize("depth", [3000])
def test_deeply_nested_page_is_refused_or_extracted_quickly(depth: int) -> None:
    """Nesting is cheap to send and must not be expensive to read."""
    body = "<div>" * depth + "Nội dung bài viết rất dài. " * 20 + "</div>" * depth
    html = f"<html><body><h1>Tiêu đề bài viết kiểm tra</h1>{body}</body></html>"
    t0 = time.monotonic()
    extract_or_refuse(html, BASE)
    assert time.monotonic() - t0 < 5.0
